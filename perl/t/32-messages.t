# Where the server's messages go without a logger callback: syslog when a
# daemon listens on /dev/log, else the file `messages` in the run
# directory (the directory of the server's socket).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use Proc::Prefork::Interp::LogFile;

plan skip_all => 'a syslog daemon listens on /dev/log here, so the fallback is not used '
    . '(its file handling is tested in 31-logfile.t)'
    if Proc::Prefork::Interp::LogFile::syslog_reachable('/dev/log');

{
    my $t = PFITest->new(syslog => 1, opts => 'idle_timeout=1');
    is $t->setup_status, 0, 'server started without a logger callback';
    is $t->call(args => ['noop'])->{status}, 0, 'call ok';
    ok $t->wait_server_exit(10), 'idle server quits';
    my $file = $t->dir . '/messages';
    ok -f $file, 'no syslog: the messages file is in the socket\'s directory';
    my $text = do { local (@ARGV, $/) = $file; <> } // '';
    like $text, qr/^\S+Z prefork-interp\[\d+\] info: \Q${\ $t->script}\E: idle for 1 s, quitting$/m,
        'the idle exit is logged there, naming the script';
    is((stat $file)[2] & 07777, 0600, 'readable by the user only');
    ok $t->finish, 'nothing left behind';
}

# Executors do not hold the server's log file.
{
    my $t = PFITest->new(syslog => 1);
    my $r = $t->call(args => ['fds']);
    is $r->{status}, 0, 'call ok';
    ok -f $t->dir . '/messages', 'the server has opened its messages file';
    is $r->{out}, "0 1 2\n", 'the call holds only fds 0, 1 and 2, not that file';
    ok $t->finish, 'nothing left behind';
}
# An executor's own messages, before its call's code starts, reach the
# file too (the file was closed at the fork, and they were lost).
{
    my $t = PFITest->new(syslog => 1);
    is $t->call(args => ['noop'])->{status}, 0, 'call ok';
    my $r = $t->call(args => ['state'], state => "evil=1\0", timeout => 5);
    ok !defined $r->{status}, 'a bad caller-state block: no status';
    my $file = $t->dir . '/messages';
    ok PFITest::wait_for_file_content($file, qr/protocol error: caller-state/, 5),
        'the executor\'s protocol error is in the messages file'
        or diag do { local (@ARGV, $/) = $file; <> } // '(no file)';
    ok $t->finish, 'nothing left behind';
}
done_testing;
