# The extra-fds extension in the module (docs/protocol.md): a call gets
# each of its caller's other fds at its number, inherited (not
# close-on-exec), and nothing else of the server; a number the script's
# initialisation holds stays the script's (logged once); a malformed
# block runs nothing, is logged, leaks no fd, and the next call is
# served; a call without the bit is unchanged.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use POSIX ();
use FdTest qw(send_msg);
use Proc::Prefork::Interp::CallerState ();
use Proc::Prefork::Interp::LogFile ();

my $t = PFITest->new(files => { held => "the script's\n" },
                     env => { PFITEST_HOLD => '__DIR__/held' });
is $t->setup_status, 0, 'setup ok' or diag $t->setup_err;
my $dir = $t->dir;

# { fd => "TARGET inherit|cloexec" } from a call's fdinfo.
sub table {
    my ($out) = @_;
    return { map { /\A(\d+) (.*)\z/ ? ($1, $2) : () } split /\n/, $out // '' };
}

my $first = $t->call(args => ['fdinfo']);
is $first->{status}, 0, 'first call ok';
my $tab = table($first->{out});
my ($held) = grep { $tab->{$_} eq "$dir/held inherit" || $tab->{$_} eq "$dir/held cloexec" }
             keys %$tab;
ok defined $held, 'the initialisation holds its file' or diag $first->{out};
$held //= 5;
is_deeply [sort { $a <=> $b } keys %$tab], [sort { $a <=> $b } 0, 1, 2, $held],
    'a call without extra fds: 0, 1, 2 and the script\'s own';
is $t->call(args => ['noop'], uses => 0x08)->{status}, undef,
    'bit 0x08 is not offered: refused';

my $xdata = $t->call(args => ['noop'])->{xdata};
is $xdata, 'full-argv caller-state signals extra-fds', 'the greeting offers extra-fds';

# Files for the caller's fds, one per number.
sub files_for {
    my (@numbers) = @_;
    my @pairs;
    for my $n (@numbers) {
        open(my $fh, '>', "$dir/extra$n") or die $!;
        push @pairs, [$n, $fh];
    }
    return @pairs;
}

my $state = do {
    my %st = (umask => umask, nice => getpriority(0, 0), sigign => [], sigblock => [],
              rlimit => [ map { Proc::Prefork::Interp::CallerState::get_rlimit($_) } 0 .. 15 ]);
    Proc::Prefork::Interp::CallerState::encode(\%st);
};
my @numbers = grep { $_ != $held } 3, 9, 63, 200;
for my $rep (1 .. 8) {
    # Alternately with caller-state and signals, which come around it.
    my %more = $rep % 2 ? () : (state => $state, uses => 0x02);
    my $r = $t->call(args => ['fdinfo'], extra => [files_for(@numbers)], %more);
    is $r->{status}, 0, "rep $rep: call ok" or diag $r->{err};
    my $got = table($r->{out});
    is join(',', sort { $a <=> $b } keys %$got),
        join(',', sort { $a <=> $b } 0, 1, 2, $held, @numbers),
        "rep $rep: exactly 0-2, the script's and the caller's fds";
    is $got->{$_}, "$dir/extra$_ inherit", "rep $rep: fd $_ is the caller's, inherited"
        for @numbers;
    is $got->{$held}, $tab->{$held}, "rep $rep: the script's fd is untouched";
}

# A signal relayed as the call starts reaches the script's handler
# (blocked until the call's code starts) with the caller's fds in place.
{
    my $u = PFITest->new(env => { PFITEST_USR1_MARK => '__DIR__/usr1' });
    is $u->setup_status, 0, 'signal: setup ok';
    my $udir = $u->dir;
    for my $rep (1 .. 6) {
        unlink "$udir/usr1";
        open(my $fh, '>', "$udir/extra9") or die $!;
        my %more = $rep % 2 ? () : (state => $state);
        my $r = $u->call(args => ['sleep', 30], uses => 0x02, extra => [[9, $fh]],
                         no_wait => 1, %more);
        PFITest::send_all($r->{sock}, chr POSIX::SIGUSR1());
        is PFITest::read_status($r->{sock}), 7 << 8, "signal $rep: the handler ended the call";
        close $r->{sock};
        is PFITest::_slurp("$udir/usr1"), "$udir/extra9\n",
            "signal $rep: the handler saw the caller's fd 9";
    }
    ok $u->finish, 'signal: nothing left behind';
}

# Every low number: none is taken by the module's own fds (received
# stdio and extra fds, call and control sockets, its log) at placement.
{
    my @low = grep { $_ != $held } 3 .. 24;
    for my $rep (1 .. 5) {
        my $before = length($t->log_text // '');
        my $r = $t->call(args => ['fdinfo'], extra => [files_for(@low)]);
        my $got = table($r->{out});
        my @placed = grep { ($got->{$_} // '') eq "$dir/extra$_ inherit" } @low;
        is scalar @placed, scalar @low, "rep $rep: every one of fds 3-24 placed"
            or diag $r->{out};
        unlike substr($t->log_text // '', $before), qr/not passed/,
            "rep $rep: no conflict logged";
    }
}

# The number the initialisation holds: the script's file stays there;
# the other numbers are placed; one log line for the call.
for my $rep (1 .. 3) {
    my $before = length($t->log_text // '');
    my $r = $t->call(args => ['fdinfo'], extra => [files_for(sort { $a <=> $b } $held, 40)]);
    is $r->{status}, 0, "held $rep: call ok";
    my $got = table($r->{out});
    is $got->{$held}, $tab->{$held}, "held $rep: fd $held is still the script's";
    is $got->{40}, "$dir/extra40 inherit", "held $rep: fd 40 is placed";
    my @lines = grep { /not passed/ } split /\n/, substr($t->log_text // '', $before);
    is scalar @lines, 1, "held $rep: logged once";
    like $lines[0] // '', qr/^\w+ \Q${\ $t->script}\E: the caller's fd $held is not passed: the script's initialisation holds fd $held$/,
        "held $rep: the log line";
}

# A pipe's write end as a caller's fd: the reader sees end of file once
# the call and the test let go of it: nothing of the server keeps it.
for my $rep (1 .. 5) {
    pipe(my $rd, my $wr) or die $!;
    my $r = $t->call(args => ['noop'], extra => [[9, $wr]]);
    close $wr;
    is $r->{status}, 0, "pipe $rep: call ok";
    ok defined eof_within($rd, 10), "pipe $rep: end of file: no copy left";
}

# Reads $fh until end of file or $secs: the bytes, or undef on timeout.
sub eof_within {
    my ($fh, $secs) = @_;
    my $buf = '';
    my $end = time + $secs;
    while (time < $end) {
        my $rin = '';
        vec($rin, fileno $fh, 1) = 1;
        next unless select(my $rout = $rin, undef, undef, 0.5) > 0;
        my $n = sysread($fh, $buf, 4096, length $buf);
        return $buf if defined $n && $n == 0;
    }
    return undef;
}

#------------------------------------------------------------- malformed

open(my $null, '+<', '/dev/null') or die;
my $request = PFITest::with_length(
    PFITest::encode_request(env => { A => 1 }, args => ['perl', $t->script, 'noop']));

sub numbers { return PFITest::with_length(pack 'N*', @_) }

# name, loud, the block's bytes, how many fds in each message, and
# whether the client then hangs up.
my @cases = (
    ['length 0',               1, pack('N', 0),               [],        0],
    ['length not 4 * N',       1, pack('N', 6) . "\0" x 6,    [],        0],
    ['65 fds',                 1, pack('N', 260) . pack('N*', 3 .. 67), [], 0],
    ['huge length',            1, pack('N', 0xfffffffc),      [],        0],
    ['not ascending',          1, numbers(8, 9, 3),           [1, 1],    0],
    ['repeated',               1, numbers(8, 9, 9),           [1, 1],    0],
    ['fd 2',                   1, numbers(2),                 [1],       0],
    ['2^31',                   1, numbers(8, 0x80000000),     [1, 1],    0],
    ['a message without fd',   1, numbers(8, 9, 10),          [1, 0, 1], 0],
    ['a message with two fds', 1, numbers(8, 9, 10),          [1, 2],    0],
    ['gone after the numbers', 0, numbers(8, 9),              [1],       1],
);
for my $rep (1 .. 3) {
    for my $case (@cases) {
        my ($name, $loud, $block, $counts, $hangup) = @$case;
        my $before = length($t->log_text // '');
        my $s = $t->connect_sock or die "connect: $!";
        is PFITest::read_greeting($s), 'full-argv caller-state signals extra-fds',
            "$name: greeting";
        pipe(my $rd, my $wr) or die $!;
        PFITest::send_all($s, "\x04") && PFITest::send_fds($s, $null, $null, $null)
            && PFITest::send_all($s, $request) && PFITest::send_all($s, $block);
        for my $n (@$counts) {
            send_msg($s, "\0", (fileno $wr) x $n) or last;
        }
        close $wr;
        shutdown($s, 1) if $hangup;
        ok !defined PFITest::read_status($s, 10), "$name: closed without a status";
        close $s;
        if ($loud) {
            like substr($t->log_text // '', $before), qr/^err .*protocol error: /m,
                "$name: logged as a protocol error";
        }
        ok defined eof_within($rd, 10), "$name: every fd received is closed";
        is $t->call(args => ['exit', 5])->{status}, 5 << 8, "$name: next good call served";
    }
}

# The client's own log of this test shows what it refused.
like $t->log_text, qr/protocol error: extra fd 3 follows 9: not ascending/,
    'a descending number is named in the log';
like $t->log_text, qr/protocol error: message for fd 9 carried no file descriptor/,
    'a message without fd is named in the log';

is $t->wait_procs(2), 2, 'the server and its spare, nothing else';
ok $t->finish, 'nothing left behind';

# With its own log file (no syslog daemon listens here), which stays
# open in the executor until the call's fds are placed: not counted as
# the script's, whatever its number.
SKIP: {
    skip 'a syslog daemon listens: the messages go there, not to a file', 8
        if Proc::Prefork::Interp::LogFile::syslog_reachable();
    my $u = PFITest->new(syslog => 1, files => { held => "the script's\n" },
                         env => { PFITEST_HOLD => '__DIR__/held' });
    is $u->setup_status, 0, 'log file: setup ok';
    my $udir = $u->dir;
    my $utab = table($u->call(args => ['fdinfo'])->{out});
    my ($uheld) = grep { $utab->{$_} =~ m{\A\Q$udir\E/held } } keys %$utab;
    $uheld //= 5;
    for my $rep (1 .. 3) {
        my @low = grep { $_ != $uheld } 3 .. 24;
        my @pairs = map { open(my $fh, '>', "$udir/extra$_") or die $!; [$_, $fh] }
                    sort { $a <=> $b } @low, $uheld;
        my $before = -s "$udir/messages" // 0;
        my $r = $u->call(args => ['fdinfo'], extra => \@pairs);
        my $got = table($r->{out});
        is scalar(grep { ($got->{$_} // '') eq "$udir/extra$_ inherit" } @low), scalar @low,
            "log file $rep: every one of fds 3-24 placed" or diag $r->{out};
        my $log = substr(PFITest::_slurp("$udir/messages") // '', $before);
        my @lines = grep { /not passed/ } split /\n/, $log;
        is_deeply [map { /the caller's fd (\d+) is not passed/ } @lines], [$uheld],
            "log file $rep: only the script's own number is logged, once"
            or diag $log;
    }
    ok $u->finish, 'log file: nothing left behind';
}
done_testing;
