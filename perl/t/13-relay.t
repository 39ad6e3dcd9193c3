use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use POSIX ();
use Proc::Prefork::Interp::Relay;

# The `signals` extension (docs/protocol.md), server side: the codec,
# then whole calls through the pure-Perl client with step-2 bit 0x02.
my $R = 'Proc::Prefork::Interp::Relay';

is_deeply [ $R->can('decode_signals')->("\x0f\x01\x40") ], [[15, 1, 64]],
    'signal bytes 1..64 decode';
is_deeply [ $R->can('decode_signals')->("\x0f\x00") ], [undef, 0], 'byte 0 is no signal';
is_deeply [ $R->can('decode_signals')->("\x41") ], [undef, 65], 'byte 65 is no signal';
is $R->can('change_word')->(0x147f), pack('N', 0x147f), 'stopped by TSTP: a word';
is $R->can('change_word')->(0xffff), pack('N', 0xffff), 'continued: a word';
is $R->can('change_word')->(0x0300), undef, 'an exit is no change word';
is $R->can('change_word')->(15), undef, 'a signal death is no change word';

my $TSTP = POSIX::SIGTSTP();
my $CONT = POSIX::SIGCONT();
my $TERM = POSIX::SIGTERM();

sub proc_state {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 'gone';
    my ($state) = (<$fh> // '') =~ /\) (\S) /;
    return $state // '?';
}

sub word { my ($sock) = @_; return PFITest::read_status($sock, 10) }

# Stops, continues and the final status, with a SIGCHLD signalfd and
# with the polling used without one (and without pidfds).
sub relay_rounds {
    my ($t, $how) = @_;
    for my $round (1 .. 3) {
        my $at = "$how, round $round";
        # TSTP stops the call and the server says so; CONT resumes it;
        # TERM ends it, and its status is the final word.
        my $r = $t->call(args => ['sleep', 30], uses => 0x02, no_wait => 1);
        is $r->{xdata}, 'full-argv caller-state signals extra-fds', "$at: signals offered";
        my $out = PFITest::wait_for_file_content($r->{out_file}, qr/\A\d+\n/);
        my ($pid) = ($out // '') =~ /(\d+)/;
        ok $pid, "$at: call runs";
        PFITest::send_all($r->{sock}, chr $TSTP);
        is word($r->{sock}), $TSTP << 8 | 0x7f, "$at: stopped word (TSTP)";
        is proc_state($pid), 'T', "$at: the executor is stopped";
        PFITest::send_all($r->{sock}, chr $CONT);
        is word($r->{sock}), 0xffff, "$at: continued word";
        isnt proc_state($pid), 'T', "$at: the executor runs again";
        PFITest::send_all($r->{sock}, chr $TERM);
        is word($r->{sock}), $TERM, "$at: final status: died of TERM";
        is PFITest::read_n($r->{sock}, 1, 10), '', "$at: then the server closes";

        # A script that stops itself is reported too.
        $r = $t->call(args => ['signal', 'TSTP'], uses => 0x02, no_wait => 1);
        is word($r->{sock}), $TSTP << 8 | 0x7f, "$at: the script stopped itself";
        PFITest::send_all($r->{sock}, chr $CONT);
        is word($r->{sock}), 0xffff, "$at: continued";
        PFITest::send_all($r->{sock}, chr $TERM);
        is word($r->{sock}), $TERM, "$at: then TERM ends it";

        # Without bit 0x02 nothing is relayed or reported: v1 as before.
        $r = $t->call(args => ['exit', 4], uses => 0);
        is $r->{status}, 4 << 8, "$at: a v1 call still works";
    }
    return;
}

{
    my $u = PFITest->new(env => { PFITEST_NO_SIGNALFD => 1, PFITEST_NO_PIDFD => 1 });
    is $u->setup_status, 0, 'setup ok (no signalfd, no pidfd)';
    relay_rounds($u, 'no signalfd, no pidfd');
    ok $u->finish, 'nothing left behind (no signalfd, no pidfd)';
}

my $t = PFITest->new;
is $t->setup_status, 0, 'setup ok';
is $t->call(args => ['noop'])->{status}, 0, 'first call ok';
relay_rounds($t, 'signalfd');

# A bit that was not offered, and a byte that is not a signal.
my $r = $t->call(args => ['noop'], uses => 0x08);
is $r->{status}, undef, 'step-2 bit 0x08 (not offered): refused';
ok PFITest::wait_for_file_content($t->{log}, qr/initial byte is 0x08/),
    'refusal logged';
$r = $t->call(args => ['sleep', 30], uses => 0x02, no_wait => 1);
my $out = PFITest::wait_for_file_content($r->{out_file}, qr/\A\d+\n/);
my ($pid) = ($out // '') =~ /(\d+)/;
PFITest::send_all($r->{sock}, "\x00");
ok defined PFITest::wait_pids_gone([$pid], 5), 'a relayed byte 0 ends the call';
ok PFITest::wait_for_file_content($t->{log}, qr/byte 0, which is not a signal/),
    'and is logged';
is $t->call(args => ['exit', 5])->{status}, 5 << 8, 'server still serves';
ok $t->finish, 'nothing left behind';

# A server started by a chiark-style client offers nothing: 0x02 is refused.
{
    my $u = PFITest->new(chiark_client => 1);
    my $r2 = $u->call(args => ['noop'], uses => 0x02);
    is $r2->{xdata}, '', 'chiark-style client: no signals offered';
    is $r2->{status}, undef, 'chiark-style client: bit 0x02 refused';
    is $u->call(args => ['exit', 1])->{status}, 1 << 8, 'and v1 calls work';
    ok $u->finish, 'nothing left behind (chiark-style client)';
}
done_testing;
