# Issue 12 in the module: a call that sends a caller-state block runs
# with that state; a bad block or an unoffered bit runs nothing; a value
# the server cannot apply fails the call with one line; a caller whose
# gid or groups differ from the server's is refused at accept.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use POSIX ();
use Proc::Prefork::Interp::CallerState;

my $t = PFITest->new;
is $t->setup_status, 0, 'setup ok';
is $t->call(args => ['noop'])->{status}, 0, 'first call ok';
my $plain = $t->call(args => ['state'])->{out};
like $plain, qr/\Aumask=\d+ nice=-?\d+ nofile=\S+ ign=[0-9a-f]{16} blk=[0-9a-f]{16}\n\z/,
    'a call without a block reports its state';

my $CS = 'Proc::Prefork::Interp::CallerState';
my $here = {
    umask => umask, nice => getpriority(0, 0),
    rlimit => [ map { Proc::Prefork::Interp::CallerState::get_rlimit($_) } 0 .. 15 ],
    sigign => [], sigblock => [],
};
my $nofile = $here->{rlimit}[7];

my %st = (%$here, umask => 027, sigign => [1, 12], sigblock => [10],
          rlimit => [ @{$here->{rlimit}} ]);
$st{rlimit}[7] = [$nofile->[0] > 100 ? 100 : $nofile->[0], $nofile->[1]];
my $r = $t->call(args => ['state'], state => Proc::Prefork::Interp::CallerState::encode(\%st));
is $r->{status}, 0, 'call with a caller-state block ok' or diag $r->{err};
my $hard = $nofile->[1] == ~0 ? 'unlimited' : $nofile->[1];
my $soft = $st{rlimit}[7][0] == ~0 ? 'unlimited' : $st{rlimit}[7][0];
# Signals 32 and 33 are glibc's own (thread cancellation, set*id): perl
# cannot change their disposition, so an ignore inherited from whatever
# runs the tests (GNU make ignores both for its commands) stays.
my ($ign_here) = do { open my $fh, '<', '/proc/self/status' or die; local $/; <$fh> =~ /^SigIgn:\s*(\S+)/m };
my $ign = do { no warnings 'portable'; sprintf '%016x', 0x881 | (hex($ign_here) & 0x180000000) };
like $r->{out}, qr/\Aumask=0027 nice=\Q$here->{nice}\E nofile=$soft:$hard ign=$ign blk=0000000000000200\n\z/,
    'the call runs with the state the block says (FPE ignored, as perl does)';

$r = $t->call(args => ['state']);
is $r->{out}, $plain, 'a call without a block: the server\'s state, nothing of the previous call';

# Bad block: nothing runs, no status, logged.
my $bad = Proc::Prefork::Interp::CallerState::encode(\%st) . "evil=1\0";
$r = $t->call(args => ['state'], state => $bad, timeout => 5);
ok !defined $r->{status}, 'a bad block: no status';
is $r->{out}, '', 'a bad block: nothing ran';
like $t->log_text // '', qr/^err .*protocol error: caller-state key 'evil' unknown/m,
    'a bad block: logged';
is $t->call(args => ['exit', 3])->{status}, 3 << 8, 'next call served';

# A value the server cannot apply: one line to the caller, status 127.
# As root the server could raise any limit: it is started without the
# privilege instead (setpriv), as a server of an unprivileged user is.
SKIP: {
    my $privileged = $> == 0 && do {
        open my $s, '<', '/proc/self/status';
        my ($eff) = join('', <$s>) =~ /^CapEff:\s*([0-9a-f]+)/m;
        hex(substr $eff, -8) & (1 << 24);
    };
    my @drop = $privileged ? ('setpriv', '--bounding-set=-sys_resource',
                              '--inh-caps=-all') : ();
    skip 'running as root with CAP_SYS_RESOURCE and without setpriv to drop it', 4
        if $privileged && !grep { -x "$_/setpriv" } split /:/, $ENV{PATH} // '';
    skip 'nofile hard limit is unlimited here: nothing above it', 4
        if $nofile->[1] == ~0 || $nofile->[1] >= ~0 - 1;
    my $u = PFITest->new(wrap => \@drop);
    is $u->setup_status, 0, 'a server without the privilege to raise limits starts'
        . ($privileged ? ' (setpriv --bounding-set=-sys_resource)' : '');
    my %high = (%$here, rlimit => [ @{$here->{rlimit}} ]);
    $high{rlimit}[7] = [$nofile->[1] + 1, $nofile->[1] + 1];
    $r = $u->call(args => ['state'], state => Proc::Prefork::Interp::CallerState::encode(\%high));
    is $r->{status}, 127 << 8, 'a limit above the hard limit: exit 127';
    like $r->{err}, qr/\Aprefork-interp: \S+: call refused: cannot apply the caller's limit rlimit\.nofile=\d+:\d+ \(this server's hard limit is $nofile->[1]\); start a server of its own from this caller \(-f\)\n\z/,
        'a limit above the hard limit: one line naming it';
    is $r->{out}, '', 'a limit above the hard limit: nothing ran';
    $u->finish;
}

# A bit the server did not offer.
{
    my $s = $t->call_sock;
    ok defined PFITest::read_greeting($s), 'greeting';
    PFITest::send_all($s, "\x08");
    my $x = PFITest::read_n($s, 4, 5);
    ok !defined $x || $x eq '', 'unoffered step-2 bit: no status';
    like $t->log_text // '', qr/initial byte is 0x08, but this server offered 0x07/,
        'unoffered step-2 bit: logged';
}

# Same uid, other groups or gid: refused at accept.
SKIP: {
    skip 'needs root to change its own groups and gid', 4 unless $> == 0;
    for my $case (['groups', '0 4242', qr/uid 0 gid 0: groups 4242 \(this server has /],
                  ['gid', '4343 4343', qr/uid 0 gid 4343: another gid/]) {
        my ($what, $set, $re) = @$case;
        my $pid = fork // die;
        if (!$pid) {
            $t->{finished} = 1;
            $) = $set;
            my $s = $t->connect_sock or POSIX::_exit(2);
            my $x = PFITest::read_greeting($s, 10);
            POSIX::_exit(defined $x ? 1 : 0);
        }
        waitpid $pid, 0;
        is $? >> 8, 0, "other $what: no greeting";
        like $t->log_text // '', qr/^warning .*refused a call from pid $pid $re/m,
            "other $what: refusal logged";
    }
}
is $t->call(args => ['exit', 4])->{status}, 4 << 8, 'still served';
ok $t->finish, 'nothing left behind';
done_testing;
