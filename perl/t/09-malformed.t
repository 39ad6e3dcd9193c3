use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# Each malformed request is refused (the connection closes with no
# status), the server goes on serving, and no process is left over.
my $t = PFITest->new(opts => 'request_timeout=2');
is $t->setup_status, 0, 'setup ok';
is $t->call(args => ['noop'])->{status}, 0, 'first call ok';

open(my $null, '+<', '/dev/null') or die;
my $good = PFITest::encode_request(env => { A => 1 }, args => ['perl', $t->script, 'noop']);
my @fds = ($null, $null, $null);

my @cases = (
    ['bad first byte', 1, sub { PFITest::send_all($_[0], "\x80") }],
    ['fds missing', 1, sub {
        PFITest::send_all($_[0], "\0abc" . PFITest::with_length($good));
    }],
    ['length larger than data', 1, sub {
        PFITest::send_all($_[0], "\0") && PFITest::send_fds($_[0], @fds)
            && PFITest::send_all($_[0], pack('N', 100) . 'A=1' . "\0" x 7);
    }],
    ['env entry without =', 1, sub {
        PFITest::send_all($_[0], "\0") && PFITest::send_fds($_[0], @fds)
            && PFITest::send_all($_[0], PFITest::with_length("NOEQUALS\0\0perl\0script\0"));
    }],
    ['fewer than two arguments', 1, sub {
        PFITest::send_all($_[0], "\0") && PFITest::send_fds($_[0], @fds)
            && PFITest::send_all($_[0], PFITest::with_length("A=1\0\0perl\0"));
    }],
    ['no trailing NUL', 1, sub {
        PFITest::send_all($_[0], "\0") && PFITest::send_fds($_[0], @fds)
            && PFITest::send_all($_[0], PFITest::with_length("A=1\0\0perl\0script"));
    }],
    ['no end of environment', 1, sub {
        PFITest::send_all($_[0], "\0") && PFITest::send_fds($_[0], @fds)
            && PFITest::send_all($_[0], PFITest::with_length("A=1\0B=2\0"));
    }],
    ['length over the limit', 1, sub {
        PFITest::send_all($_[0], "\0") && PFITest::send_fds($_[0], @fds)
            && PFITest::send_all($_[0], pack('N', 0x7fffffff) . $good);
    }],
    ['client leaves after the greeting', 0, sub { shutdown($_[0], 1) }],
    ['client leaves after one fd', 0, sub {
        PFITest::send_all($_[0], "\0") && PFITest::send_fds($_[0], $null) && shutdown($_[0], 1);
    }],
);

for my $rep (1 .. 3) {
    for my $case (@cases) {
        my ($name, $loud, $send) = @$case;
        my $before = length($t->log_text // '');
        my $s = $t->connect_sock;
        ok $s, "$name: connected";
        is PFITest::read_greeting($s), 'full-argv caller-state', "$name: greeting";
        $send->($s);
        my $start = time;
        ok !defined PFITest::read_status($s, 10), "$name: closed without a status";
        cmp_ok time - $start, '<=', 5, "$name: within the request timeout";
        close $s;
        if ($loud) {
            my $log = substr($t->log_text // '', $before);
            like $log, qr/^err .*protocol error/m, "$name: logged as a protocol error";
        }
        is $t->call(args => ['exit', 5])->{status}, 5 << 8, "$name: next good call served";
    }
}
# The server and its one spare, nothing else.
is $t->wait_procs(2), 2, 'no executor left over';
ok $t->finish, 'nothing left behind';
done_testing;
