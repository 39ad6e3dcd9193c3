use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use POSIX ();

plan skip_all => 'needs root to connect as another uid (SO_PEERCRED check)'
    unless $> == 0;

my $t = PFITest->new;
is $t->setup_status, 0, 'setup ok';
is $t->call(args => ['noop'])->{status}, 0, 'first call ok';

for my $rep (1 .. 3) {
    my $pid = fork // die;
    if (!$pid) {
        $t->{finished} = 1;
        POSIX::setgid(65534);
        POSIX::setuid(65534) or POSIX::_exit(3);
        POSIX::_exit(4) unless $> == 65534;
        my $s = $t->connect_sock or POSIX::_exit(2);
        my $x = PFITest::read_greeting($s, 10);
        POSIX::_exit(defined $x ? 1 : 0);
    }
    waitpid($pid, 0);
    is $? >> 8, 0, "round $rep: a caller of another uid gets no greeting";
    like $t->log_text // '', qr/^warning .*refused a call from pid $pid uid 65534/m,
        "round $rep: refusal logged at warning with pid and uid";
    is $t->call(args => ['exit', 6])->{status}, 6 << 8, "round $rep: next call served";
}
ok $t->finish, 'nothing left behind';
done_testing;
