#!/usr/bin/perl
# Differential fuzzer of the Perl extra-fds decoder against the C one.
#
#   fuzz_extrafds.pl --oracle PATH [--seconds N | --iterations N]
#                    [--seed N] [--save DIR] [CORPUS-FILE-OR-DIR ...]
#
# The block a client sends after the request and any caller-state block
# (docs/protocol.md, "extra-fds") is decoded as Executor::_read_extra_fds
# reads it: the 4-byte length through ExtraFds::count_of_length (before a
# number is read), then exactly 4 * N bytes through ExtraFds::decode. The
# C decoder (pfi_extra_fds_decode, via request-oracle 'X' records)
# answers for the same bytes, a whole block as sent. Both must refuse,
# or accept the same numbers (compared as their encoding).
#
# The corpus files (blocks as sent) run first; then random valid lists
# (1..64 ascending numbers from 3 to 2^31-1, the edges often) and
# mutations of them: one number set to an edge (0, 1, 2, 3, 2^31-1,
# 2^31, 2^32-1, ...), made equal to or below its neighbour, lists of 0,
# 64 and 65 numbers, length fields not a multiple of 4, 0, 4*64, 4*65
# or huge, bit flips, cuts and insertions. A disagreement (or a decoder
# that dies or refuses without a reason) is printed as hex, saved to
# --save DIR as regress-<sha1>, and the run exits 1. Prints a summary
# line at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../perl/lib";
use lib $FindBin::Bin;
use Time::HiRes qw(time);
use OracleFuzz ();
use Proc::Prefork::Interp::ExtraFds ();

my $o = OracleFuzz::options('[CORPUS...]');
my ($seconds, $iterations, $seed) = @$o{qw(seconds iterations seed)};
my $oracle = OracleFuzz::oracle($o->{oracle});

use constant MAX_FDS => 64;    # PFI_EXTRA_FDS_MAX, written here again on purpose
my @NUMBER_EDGES = (0, 1, 2, 3, 4, 5, 63, 64, 255, 256, 1023, 1024, 65535, 65536,
                    0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff);
my @LENGTH_EDGES = (0, 1, 2, 3, 4, 5, 8, 4 * MAX_FDS - 1, 4 * MAX_FDS, 4 * MAX_FDS + 1,
                    4 * MAX_FDS + 4, 4 * MAX_FDS + 8, 0x7ffffffc, 0x7fffffff, 0x80000000,
                    0xfffffffc, 0xffffffff);

sub block { return pack('N', 4 * @_) . pack('N*', @_) }

# As the executor reads it: the block (re-encoded) or undef, and what
# is wrong with Perl itself if it died or refused without saying why.
sub perl_decode {
    my ($bytes) = @_;
    return (undef, undef) if length $bytes < 4;    # the client hung up
    my ($block, $fault);
    eval { ($block, $fault) = as_the_executor($bytes); 1 }
        or return (undef, "Perl died: $@");
    return ($block, $fault);
}

sub as_the_executor {
    my ($bytes) = @_;
    my ($n, $why) = Proc::Prefork::Interp::ExtraFds::count_of_length(
        unpack 'N', substr $bytes, 0, 4);
    return (undef, defined $why ? undef : 'count_of_length refuses without a reason')
        unless $n;
    # _read_exact takes exactly 4 * N bytes: fewer is a hang-up, more
    # is not this block.
    return (undef, undef) if length($bytes) - 4 != 4 * $n;
    my $numbers;
    ($numbers, $why) = Proc::Prefork::Interp::ExtraFds::decode(substr $bytes, 4);
    return (block(@$numbers), undef) if $numbers;
    return (undef, defined $why ? undef : 'decode refuses without a reason');
}

my ($runs, $accepted) = (0, 0);
sub check {
    my ($bytes, $origin) = @_;
    $runs++;
    my $c = $oracle->ask('X', $bytes);
    my ($p, $fault) = perl_decode($bytes);
    $accepted++ if defined $c;
    return if !defined $fault && (defined $c ? 1 : 0) == (defined $p ? 1 : 0)
              && (!defined $c || $c eq $p);
    my $say = sub {
        defined $_[0] ? 'accepts ' . join(',', unpack 'x4 N*', $_[0]) : 'refuses'
    };
    OracleFuzz::disagreement("($origin, input $runs, seed $seed): C " . $say->($c) . ', Perl '
                             . ($fault // $say->($p)), $bytes, $o->{save});
}

check($_->[1], $_->[0]) for OracleFuzz::corpus(@ARGV);

sub random_number {
    my $r = rand;
    return $NUMBER_EDGES[rand @NUMBER_EDGES] if $r < 0.15;
    return 3 + int rand 100 if $r < 0.6;
    return 3 + int rand 0x7ffffffd;
}

# 1..64 strictly ascending numbers from 3 to 2^31-1; often 1 or 64 of
# them, or 3 and 2^31-1 at the ends.
sub random_list {
    my $r = rand;
    my $want = $r < 0.1 ? 1 : $r < 0.2 ? MAX_FDS : 1 + int rand MAX_FDS;
    my %seen;
    $seen{$_} = 1 for grep { $_ >= 3 && $_ <= 0x7fffffff } map { random_number() } 1 .. $want;
    my @fds = sort { $a <=> $b } keys %seen;
    return (3) unless @fds;
    $fds[0] = 3 if rand() < 0.1 && $fds[0] > 3;
    $fds[-1] = 0x7fffffff if rand() < 0.1 && $fds[-1] < 0x7fffffff;
    return @fds;
}

# The list edited so that its numbers decide: one at an edge, equal to
# or below its neighbour, dropped, repeated, or the list grown to 65.
sub edit_numbers {
    my (@fds) = @_;
    return (3) unless @fds;
    my $i = int rand @fds;
    my $op = int rand 7;
    if    ($op == 0) { $fds[$i] = $NUMBER_EDGES[rand @NUMBER_EDGES] }
    elsif ($op == 1 && @fds > 1) { $fds[$i] = $fds[$i > 0 ? $i - 1 : 1] }          # equal
    elsif ($op == 2 && @fds > 1) { my $j = $i > 0 ? $i - 1 : 1;                    # descending
                                   @fds[$i, $j] = @fds[$j, $i] }
    elsif ($op == 3) { $fds[$i] += (-1, 1)[rand 2] }
    elsif ($op == 4) { splice @fds, $i, 1 }
    elsif ($op == 5) { splice @fds, $i, 0, $fds[$i] + (0, 1)[rand 2] }
    else { my $next = $fds[-1];
           push @fds, ++$next while @fds < MAX_FDS + 1 }
    return grep { $_ >= 0 } map { $_ > 0xffffffff ? 0xffffffff : $_ } @fds;
}

my @BYTES = map { chr } 0, 1, 2, 3, 0x7f, 0x80, 0xff;
sub mutate_bytes { return OracleFuzz::mutate_bytes($_[0], \@BYTES, \@LENGTH_EDGES) }

my $start = time;
my ($lists, $from_corpus) = (0, $runs);
while ($runs - $from_corpus < $iterations && time - $start < $seconds) {
    my @fds = random_list();
    $lists++;
    check(block(@fds), 'valid list');
    my @edited = edit_numbers(@fds);
    @edited = edit_numbers(@edited) if rand() < 0.3;
    check(block(@edited), 'numbers edited');
    my $len = $LENGTH_EDGES[rand @LENGTH_EDGES];
    check(pack('N', $len) . pack('N*', @fds), 'length field at an edge');
    check(pack('N', $len) . substr(pack('N*', 3 .. 2 + MAX_FDS + 1), 0, $len), 'body as long as the field')
        if $len <= 4 * (MAX_FDS + 1);
    check(mutate_bytes(block(@fds)), 'mutated');
    check(mutate_bytes(block(@edited)), 'edited and mutated');
}
$oracle->finish;
printf "fuzz_extrafds.pl: %d inputs (%d from the corpus, %d accepted by both), %d random "
     . "lists, %.1f s, seed %d: no disagreement\n", $runs, $from_corpus, $accepted,
     $lists, time - $start, $seed;
exit 0;
