# Proc::Prefork::Interp::CallerState on its own: the block decoder
# (good and bad bytes, the same cases as tests/unit/test_protocol.c) and
# applying a state in a forked child.
use strict;
use warnings;
use Test::More;
use POSIX ();
use Proc::Prefork::Interp::CallerState;
use FindBin;
use lib "$FindBin::Bin/lib";
use FdTest qw(in_child);

my $CS = 'Proc::Prefork::Interp::CallerState';
my @NAMES = @Proc::Prefork::Interp::CallerState::RLIMIT_NAMES;
is scalar @NAMES, 16, 'every Linux resource limit has a name';
# Each name at its kernel number (the module applies limits by number):
# the order the protocol documents, which is <sys/resource.h>'s.
is "@NAMES", 'cpu fsize data stack core rss nproc nofile memlock as locks '
    . 'sigpending msgqueue nice rtprio rttime', 'the names in kernel order';

my $sample = join '', map { "$_\0" }
    'umask=0022', 'nice=-5',
    (map { "rlimit.$NAMES[$_]=" . ($_ == 4 ? 'inf' : $_ * 1000) . ':'
           . ($_ == 7 ? 4096 : 'inf') } 0 .. 15),
    'sigign=8000000000000001', 'sigblock=0000000000000200';
$sample =~ s/rlimit\.nofile=7000/rlimit.nofile=64/;

my ($st, $err) = $CS->can('decode')->($sample);
ok $st, 'the sample decodes' or diag $err;
is $st->{umask}, 022, 'umask';
is $st->{nice}, -5, 'nice';
is_deeply $st->{rlimit}[7], [64, 4096], 'rlimit.nofile';
is_deeply $st->{rlimit}[4], [~0, ~0], 'inf is the largest value';
is_deeply $st->{rlimit}[1], [1000, ~0], 'rlimit.fsize';
is_deeply $st->{sigign}, [1, 64], 'sigign bits are signals 1..64';
is_deeply $st->{sigblock}, [10], 'sigblock';
is Proc::Prefork::Interp::CallerState::encode($st), $sample,
    'encode gives back the same bytes (as the C encoder writes them)';

# Replaces the entry for $key (undef: leaves it out; key undef: adds).
sub edited {
    my ($key, $entry) = @_;
    my @e = split /\0/, $sample;
    if (defined $key) {
        @e = map { /\A\Q$key\E=/ ? (defined $entry ? $entry : ()) : $_ } @e;
    } else {
        push @e, $entry;
    }
    return join '', map { "$_\0" } @e;
}

my @cases = (
    [umask => 'umask=0000', 1], [umask => 'umask=0777', 1],
    [umask => 'umask=022', 0], [umask => 'umask=0800', 0],
    [umask => 'umask=1022', 0], [umask => 'umask=00022', 0], [umask => 'umask=', 0],
    [nice => 'nice=0', 1], [nice => 'nice=19', 1], [nice => 'nice=-20', 1],
    [nice => 'nice=20', 0], [nice => 'nice=-21', 0], [nice => 'nice=+1', 0],
    [nice => 'nice=-0', 0], [nice => 'nice=05', 0], [nice => 'nice=1 ', 0],
    [nice => "nice=1\n", 0],
    ['rlimit.cpu' => 'rlimit.cpu=0:0', 1],
    ['rlimit.cpu' => 'rlimit.cpu=inf:inf', 1],
    ['rlimit.cpu' => 'rlimit.cpu=18446744073709551614:inf', 1],
    ['rlimit.cpu' => 'rlimit.cpu=18446744073709551615:inf', 0],
    ['rlimit.cpu' => 'rlimit.cpu=18446744073709551616:inf', 0],
    ['rlimit.cpu' => 'rlimit.cpu=99999999999999999999:inf', 0],
    ['rlimit.cpu' => 'rlimit.cpu=inf:5', 0], ['rlimit.cpu' => 'rlimit.cpu=6:5', 0],
    ['rlimit.cpu' => 'rlimit.cpu=01:5', 0], ['rlimit.cpu' => 'rlimit.cpu=1:', 0],
    ['rlimit.cpu' => 'rlimit.cpu=:1', 0], ['rlimit.cpu' => 'rlimit.cpu=1', 0],
    ['rlimit.cpu' => 'rlimit.cpu=1:2:3', 0], ['rlimit.cpu' => 'rlimit.cpu=-1:2', 0],
    ['rlimit.cpu' => 'rlimit.cpu=INF:inf', 0],
    [sigign => 'sigign=0000000000000000', 1],
    [sigign => 'sigign=fffffffffffbfeff', 1],
    [sigign => 'sigign=0000000000000100', 0],     # SIGKILL
    [sigblock => 'sigblock=0000000000040000', 0], # SIGSTOP
    [sigign => 'sigign=000000000000000', 0],
    [sigign => 'sigign=00000000000000000', 0],
    [sigign => 'sigign=000000000000000A', 0],
    [sigign => 'sigign=000000000000000g', 0],
    [umask => undef, 0], ['rlimit.rttime' => undef, 0], [sigblock => undef, 0],
    [undef, 'umask=0022', 0], [undef, 'rlimit.cpu=1:2', 0],
    [undef, 'rlimit.bogus=1:2', 0], [undef, 'future=1', 0], [undef, 'noequals', 0],
    [undef, '', 0], [undef, '=1', 0], [umask => 'UMASK=0022', 0],
);
# The same entries in another order (the protocol allows any): blocks in
# our client's order take a shortcut in decode, so each case is also
# decoded reversed, which only the general path reads; both must agree.
sub reversed_block {
    my ($block) = @_;
    return join '', map { "$_\0" } reverse split /\0/, substr($block, 0, -1), -1;
}
for my $c (@cases) {
    my ($key, $entry, $ok) = @$c;
    my $block = edited($key, $entry);
    my ($got, $why) = Proc::Prefork::Interp::CallerState::decode($block);
    my ($rgot, $rwhy) = Proc::Prefork::Interp::CallerState::decode(reversed_block($block));
    my $label = defined $entry ? $entry : "without $key";
    $label =~ s/\n/\\n/g;
    if ($ok) {
        ok $got, "'$label' decodes" or diag $why;
        is_deeply $rgot, $got, "'$label' in reverse order: the same state"
            or diag $rwhy;
    } else {
        ok !$got && defined $why && $why =~ /\Acaller-state [^\n]*\z/,
            "'$label' refused with one line" or diag $why;
        ok !$rgot && defined $rwhy && $rwhy =~ /\Acaller-state [^\n]*\z/,
            "'$label' in reverse order: refused with one line" or diag $rwhy;
    }
}
{
    my ($r) = Proc::Prefork::Interp::CallerState::decode(reversed_block($sample));
    is_deeply $r, $st, 'the sample in reverse order decodes to the same state';
    is_deeply $r->{rlimit}[1], [1000, ~0], '... rlimit.fsize read by the general path';
}
ok !(Proc::Prefork::Interp::CallerState::decode(''))[0], 'empty block refused';
ok !(Proc::Prefork::Interp::CallerState::decode(substr $sample, 0, -1))[0],
    'block without its final NUL refused';
ok !(Proc::Prefork::Interp::CallerState::decode($sample . "x" x 8192 . "\0"))[0],
    'block over 8192 bytes refused';
my (undef, $why) = Proc::Prefork::Interp::CallerState::decode(edited(undef, "ev\x01l=1"));
like $why, qr/'ev\\x01l' unknown/, 'peer bytes are shown escaped';

#---------------------------------------------------------------- apply

sub status_field {
    my ($name) = @_;
    open my $fh, '<', '/proc/self/status' or die;
    local $/;
    return (<$fh> =~ /^$name:\s*(\S+)/m)[0];
}

sub current {
    my @lim = map { join ':', @{ Proc::Prefork::Interp::CallerState::get_rlimit($_) } } 0 .. 15;
    return join ' ', sprintf('%04o', umask), getpriority(0, 0), @lim,
        status_field('SigIgn'), status_field('SigBlk');
}

# Signals 32 and 33 are glibc's own (thread cancellation, set*id): perl
# cannot change their disposition, so an ignore inherited from whatever
# runs the tests (GNU make ignores both for its commands) stays.
my $glibc_ignored = hex(status_field('SigIgn')) & ((1 << 31) | (1 << 32));

my $want = {
    umask => 027, nice => getpriority(0, 0) + 3,
    rlimit => [ map { Proc::Prefork::Interp::CallerState::get_rlimit($_) } 0 .. 15 ],
    sigign => [1, 12, 40], sigblock => [10, 15, 50],
};
$want->{rlimit}[7] = [100, 200];
$want->{rlimit}[4] = [0, 0];
$want->{rlimit}[0] = [~0, ~0] if $want->{rlimit}[0][1] == ~0;
my $expect = join ' ', '0027', $want->{nice},
    (map { join ':', @$_ } @{$want->{rlimit}}),
    sprintf('%016x', (1 << 0) | (1 << 11) | (1 << 39) | (1 << 7)   # + FPE, as perl
                     | $glibc_ignored),
    sprintf('%016x', (1 << 9) | (1 << 14) | (1 << 49));
my $got = in_child(sub {
    $SIG{USR2} = sub { };           # the caller's handlers cannot cross
    Proc::Prefork::Interp::CallerState::apply($want) // current();
});
is $got, $expect, 'apply: umask, niceness, every limit, ignored and blocked set';

# What the script's initialisation set stays: a handler, an ignored
# signal, its umask; the rest is the caller's.
$got = in_child(sub {
    $SIG{HUP} = 'DEFAULT';     # (an inherited ignore would count as the caller's)
    Proc::Prefork::Interp::CallerState::note_load_state();
    umask 0077;
    $SIG{USR1} = sub { };
    $SIG{HUP} = 'IGNORE';
    Proc::Prefork::Interp::CallerState::note_init_state();
    my %st = (%$want, sigign => [12]);
    my $e = Proc::Prefork::Interp::CallerState::apply(\%st);
    return $e if defined $e;
    return join ' ', sprintf('%04o', umask), ref $SIG{USR1}, $SIG{HUP},
        $SIG{USR2}, status_field('SigIgn');
});
is $got, sprintf('0077 CODE IGNORE IGNORE %016x', (1 << 0) | (1 << 11) | (1 << 7) | $glibc_ignored),
    "apply keeps what the script set in its initialisation";

# The server's usual caller (like the one that started it) is decoded
# by one comparison, to the same state decode() gives.
$got = in_child(sub {
    $SIG{HUP} = 'IGNORE';             # inherited from the first caller
    $SIG{FPE} = 'IGNORE';             # perl's own
    Proc::Prefork::Interp::CallerState::note_load_state();
    Proc::Prefork::Interp::CallerState::note_init_state();
    my $usual = {
        umask => umask, nice => getpriority(0, 0),
        rlimit => [ map { Proc::Prefork::Interp::CallerState::get_rlimit($_) } 0 .. 15 ],
        sigign => [1], sigblock => [],
    };
    my $block = Proc::Prefork::Interp::CallerState::encode($usual);
    my $fast = Proc::Prefork::Interp::CallerState::decode_for_server($block);
    my ($slow) = Proc::Prefork::Interp::CallerState::decode($block);
    # decode() makes a new state every time; the shortcut hands out
    # the one it holds, so two calls give one reference only if taken.
    my $taken = $fast == Proc::Prefork::Interp::CallerState::decode_for_server($block)
        ? 'shortcut' : 'decoded';
    require Data::Dumper;
    no warnings 'once';
    local $Data::Dumper::Sortkeys = 1;
    local $Data::Dumper::Indent = 0;
    my $same = Data::Dumper::Dumper([map { $_ + 0 } $fast->{umask}, $fast->{nice},
        map { @$_ } @{$fast->{rlimit}}], $fast->{sigign}, $fast->{sigblock})
        eq Data::Dumper::Dumper([map { $_ + 0 } $slow->{umask}, $slow->{nice},
        map { @$_ } @{$slow->{rlimit}}], $slow->{sigign}, $slow->{sigblock});
    my ($other) = Proc::Prefork::Interp::CallerState::decode_for_server(
        Proc::Prefork::Interp::CallerState::encode({ %$usual, umask => 0777 }));
    return join ' ', $taken, $same ? 'equal' : 'differ',
        sprintf('%04o', $other->{umask});
});
is $got, 'shortcut equal 0777', "the usual caller's block: the same state without decoding; others decoded";

# A value that cannot be applied fails the call with one line.
SKIP: {
    my $drop = sub {
        return unless $> == 0;
        POSIX::setgid(65534);
        POSIX::setuid(65534) or die "setuid: $!";
    };
    $got = in_child(sub {
        $drop->();
        my %st = (%$want, nice => getpriority(0, 0), rlimit => [ @{$want->{rlimit}} ]);
        $st{rlimit}[7] = [100, 300];
        # lower our own hard limit first, as a server started by a
        # caller with a lower limit would have it
        Proc::Prefork::Interp::CallerState::set_rlimit(7, 50, 100)
            or return "lowering: $!";
        Proc::Prefork::Interp::CallerState::apply(\%st) // 'applied';
    });
    like $got, qr/\Acannot apply the caller's limit rlimit\.nofile=100:300 \(this server's hard limit is 100\); start a server of its own from this caller \(-f\)\z/,
        'a limit above the hard limit: one line naming it';
    $got = in_child(sub {
        $drop->();
        my %st = (%$want, nice => getpriority(0, 0) - 1);
        Proc::Prefork::Interp::CallerState::apply(\%st) // 'applied';
    });
    like $got, qr/\Acannot run at the caller's niceness -?\d+: this server runs at -?\d+ and may not raise its priority/,
        'a niceness the server may not take: one line naming it';
}

done_testing;
