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

# Each case is what the client sends after the greeting: the initial
# byte(s), how many of its three fds, the rest; and whether it then
# hangs up. "loud" cases must be logged as protocol errors; a client
# that just goes away is not an error.
my @cases = (
    # name                              loud first  fds rest                                             hang up
    ['bad first byte',                  1, "\x80", 0, '',                                               0],
    ['fds missing',                     1, "\0",   0, 'abc' . PFITest::with_length($good),              0],
    ['length larger than data',         1, "\0",   3, pack('N', 100) . 'A=1' . "\0" x 7,               0],
    ['env entry without =',             1, "\0",   3, PFITest::with_length("NOEQUALS\0\0perl\0script\0"), 0],
    ['fewer than two arguments',        1, "\0",   3, PFITest::with_length("A=1\0\0perl\0"),           0],
    ['no trailing NUL',                 1, "\0",   3, PFITest::with_length("A=1\0\0perl\0script"),     0],
    ['no end of environment',           1, "\0",   3, PFITest::with_length("A=1\0B=2\0"),              0],
    ['length over the limit',           1, "\0",   3, pack('N', 0x7fffffff) . $good,                    0],
    ['client leaves after the greeting', 0, '',    0, '',                                               1],
    ['client leaves after one fd',      0, "\0",   1, '',                                               1],
);

sub send_case {
    my ($s, $first, $nfds, $rest, $hangup) = @_;
    PFITest::send_all($s, $first) && PFITest::send_fds($s, @fds[0 .. $nfds - 1])
        && PFITest::send_all($s, $rest);
    shutdown($s, 1) if $hangup;
}

for my $rep (1 .. 3) {
    for my $case (@cases) {
        my ($name, $loud, @exchange) = @$case;
        my $before = length($t->log_text // '');
        my $s = $t->connect_sock;
        ok $s, "$name: connected";
        is PFITest::read_greeting($s), 'full-argv caller-state signals extra-fds', "$name: greeting";
        send_case($s, @exchange);
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
