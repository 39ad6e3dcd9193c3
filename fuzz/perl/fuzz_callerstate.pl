#!/usr/bin/perl
# Differential fuzzer of the Perl caller-state decoder against the C one.
#
#   fuzz_callerstate.pl --oracle PATH [--seconds N | --iterations N]
#                       [--seed N] [--save DIR] [CORPUS-FILE-OR-DIR ...]
#
# The block a client sends after its request (docs/protocol.md,
# "caller-state") is decoded by the server as the executor does it: the
# 4-byte length checked against CallerState::MAX_BLOCK, then
# Proc::Prefork::Interp::CallerState::decode on the L bytes. The C
# decoder (src/protocol.c, via request-oracle) answers for the same
# bytes. Both must refuse, or both accept the same state: each accepted
# state is compared as its canonical encoding (the C encoder's, and
# CallerState::encode's, which must agree byte for byte).
#
# The corpus files (blocks as sent, length field included) run first;
# then random states (limits around 0, 2^64-2 and infinity, masks with
# and without SIGKILL/SIGSTOP, niceness and umask at and past their
# bounds) encoded by Perl, in the canonical order and shuffled, and
# mutations of them (bit flips, bytes set to NUL, '=', ':' or digits,
# cuts, insertions, duplicated, dropped or swapped entries, values
# replaced by edge cases, length fields off a little or a lot).
# A disagreement is printed as hex, saved to --save DIR as
# regress-<sha1>, and the run exits 1. Prints a summary line at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../perl/lib";
use lib $FindBin::Bin;
use List::Util qw(shuffle);
use Time::HiRes qw(time);
use OracleFuzz ();
use Proc::Prefork::Interp::CallerState ();

my $o = OracleFuzz::options('[CORPUS...]');
my ($seconds, $iterations, $seed) = @$o{qw(seconds iterations seed)};
my $oracle = OracleFuzz::oracle($o->{oracle});
sub c_decode { return $oracle->ask('C', $_[0]) }

# As the executor reads it (Executor::_read_caller_state): the verdict
# as a canonical block with its length, or undef.
sub perl_decode {
    my ($bytes) = @_;
    return undef if length $bytes < 4;
    my $len = unpack 'N', $bytes;
    return undef if $len > Proc::Prefork::Interp::CallerState::MAX_BLOCK
                 || $len != length($bytes) - 4;
    my ($state) = Proc::Prefork::Interp::CallerState::decode(substr $bytes, 4);
    return undef unless $state;
    my $block = Proc::Prefork::Interp::CallerState::encode($state);
    return pack('N', length $block) . $block;
}

my ($runs, $accepted) = (0, 0);
sub check {
    my ($bytes, $origin) = @_;
    $runs++;
    my $c = c_decode($bytes);
    my $p = perl_decode($bytes);
    $accepted++ if defined $c;
    return if (defined $c ? 1 : 0) == (defined $p ? 1 : 0) && (!defined $c || $c eq $p);
    my $say = sub { defined $_[0] ? 'accepts as ' . unpack('H*', $_[0]) : 'refuses' };
    OracleFuzz::disagreement("($origin, seed $seed): C " . $say->($c) . ', Perl ' . $say->($p),
                             $bytes, $o->{save});
}

check($_->[1], $_->[0]) for OracleFuzz::corpus(@ARGV);

my $INF = Proc::Prefork::Interp::CallerState::RLIM_INF;
my @LIMIT_EDGES = (0, 1, 9, 10, 4096, 2**32 - 1, 2**32, 18446744073709551614, $INF);
sub random_limit {
    return $LIMIT_EDGES[rand @LIMIT_EDGES] if rand() < 0.6;
    return int rand 1e6;
}
sub random_mask {
    my @sigs = grep { rand() < 0.1 } 1 .. 64;
    # Mostly a state a process can have (SIGKILL and SIGSTOP neither
    # ignored nor blocked, soft <= hard, niceness in range), so that
    # edits of one value decide whether the block is accepted.
    @sigs = grep { $_ != 9 && $_ != 19 } @sigs if rand() < 0.97;
    return \@sigs;
}
sub random_state {
    my @rl = map { my @l = sort { $a <=> $b } random_limit(), random_limit();
                   rand() < 0.003 ? [reverse @l] : \@l } 0 .. 15;
    my $nice = rand() < 0.1 ? -22 + int rand 44 : -20 + int rand 40;
    return { umask => int rand 01000, nice => $nice, rlimit => \@rl,
             sigign => random_mask(), sigblock => random_mask() };
}

my @VALUE_EDGES = ('', '0', '00', '-0', '+1', '-20', '-21', '19', '20', '0777', '0778', '777',
                   '00000', 'inf', 'inf:inf', '0:0', ':', 'inf:0', '0:inf', 'INF:INF',
                   '18446744073709551614:18446744073709551614',
                   '18446744073709551615:inf', '18446744073709551616:inf',
                   '018446744073709551614:inf', '99999999999999999999:inf',
                   '0000000000000000', '0000000000000100', '0000000000040000',
                   'FFFFFFFFFFFFFFFF', 'fffffffffffffeef', '000000000000000', '00000000000000000');
my @KEYS = ('umask', 'nice', 'sigign', 'sigblock', 'rlimit.', 'rlimit.cpu', 'rlimit.nofile',
            'rlimit.rttime', 'rlimit.CPU', 'rlimit.bogus', '', 'umask ', 'x');
my @BYTES = ("\0", '=', ':', '0', '9', 'f', '-', "\xff", ' ');

# Values at and just past the edge of each key's syntax and range.
my %EDGES_OF = (
    umask => ['0000', '0777', '0778', '0800', '777', '00777', '-0', '0', '+777', '0x1f', '07 7'],
    nice  => ['0', '-0', '00', '01', '+1', '-1', '-20', '-21', '19', '20', '-', '', '1 ', '-020'],
    limit => ['0:0', '0:inf', 'inf:inf', 'inf:0', '1:0', '00:1', '-1:1', '+1:1', '1:', ':1',
              '1:2:3', 'inf', 'INF:INF', '18446744073709551614:18446744073709551614',
              '18446744073709551614:inf', '18446744073709551615:inf',
              '18446744073709551616:inf', '99999999999999999999:inf',
              '100000000000000000000:inf', '018446744073709551614:inf'],
    mask  => ['0000000000000000', '0000000000000100', '0000000000040000', '8000000000000000',
              'ffffffffffeffeff', 'fffffffffffffeff', 'FFFFFFFFFFFFFFFF', '000000000000000',
              '00000000000000000', '000000000000000g', '-000000000000001'],
);

# A valid block with one value replaced by an edge of its kind.
sub edit_one_value {
    my ($block) = @_;
    my @e = split /\0/, $block;
    my $i = int rand @e;
    my ($key) = $e[$i] =~ /^([^=]*)/;
    my $kind = $key =~ /^rlimit\./ ? 'limit' : $key =~ /^sig/ ? 'mask' : $key;
    my $edges = $EDGES_OF{$kind};
    $e[$i] = "$key=" . $edges->[rand @$edges];
    return join '', map { "$_\0" } @e;
}

sub mutate_entries {
    my ($block) = @_;
    my @e = split /\0/, $block, -1;
    pop @e if @e && $e[-1] eq '';
    my $op = int rand 6;
    my $i = int rand(@e || 1);
    if    ($op == 0 && @e) { splice @e, $i, 1 }                               # drop
    elsif ($op == 1 && @e) { splice @e, int(rand @e), 0, $e[$i] }             # repeat
    elsif ($op == 2 && @e) { @e[$i, -1] = @e[-1, $i] }                        # swap
    elsif ($op == 3 && @e) { $e[$i] =~ s/=.*/'=' . $VALUE_EDGES[rand @VALUE_EDGES]/se }
    elsif ($op == 4 && @e) { $e[$i] =~ s/^[^=]*/$KEYS[rand @KEYS]/e }
    else                   { splice @e, $i, 0, $KEYS[rand @KEYS] . '=' . $VALUE_EDGES[rand @VALUE_EDGES] }
    return join '', map { "$_\0" } @e;
}

sub framed { return pack('N', length $_[0]) . $_[0] }
my @LENGTH_EDGES = (0, 1, 8191, 8192, 8193, 0x7fffffff, 0xffffffff);
sub mutate_bytes { return OracleFuzz::mutate_bytes($_[0], \@BYTES, \@LENGTH_EDGES) }

my $start = time;
my ($states, $from_corpus) = (0, $runs);
while ($runs - $from_corpus < $iterations && time - $start < $seconds) {
    my $block = Proc::Prefork::Interp::CallerState::encode(random_state());
    $states++;
    check(framed($block), 'Perl encoding');
    my @e = split /\0/, $block;
    check(framed(join '', map { "$_\0" } shuffle @e), 'shuffled');
    my $edited = $block;
    $edited = mutate_entries($edited) for 1 .. (rand() < 0.7 ? 1 : 2);
    check(framed($edited), 'entries edited');
    check(framed(edit_one_value($block)), 'one value at an edge');
    check(mutate_bytes(framed($block)), 'mutated') for 1 .. 3;
    check(mutate_bytes(framed($edited)), 'edited and mutated');
}
$oracle->finish;
printf "fuzz_callerstate.pl: %d inputs (%d from the corpus, %d accepted by both), %d random "
     . "states, %.1f s, seed %d: no disagreement\n", $runs, $from_corpus, $accepted,
     $states, time - $start, $seed;
exit 0;
