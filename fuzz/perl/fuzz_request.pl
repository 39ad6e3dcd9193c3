#!/usr/bin/perl
# Differential fuzzer of the Perl request decoder against the C one.
#
#   fuzz_request.pl --oracle PATH [--seconds N | --iterations N] [--seed N]
#                   [--save DIR] [CORPUS-FILE-OR-DIR ...]
#
# The corpus files (requests as sent, length field included) run first;
# then, until the time or iteration budget is spent, random environment
# and argument lists are encoded by the C encoder (src/protocol.c, via
# request-oracle), mutated (bit flips, bytes set to NUL, '=' or
# anything, cuts, insertions, duplicated slices, length fields off by a
# little or a lot) and decoded by both src/protocol.c and
# Proc::Prefork::Interp::RequestReader, fed in random chunk sizes. Both
# must accept with the same entries and arguments, or both refuse; and
# every C encoding must decode in Perl to the lists it was made from.
# A disagreement is printed as hex, saved to --save DIR as
# regress-<sha1>, and the run exits 1. Prints a summary line at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../perl/lib";
use lib $FindBin::Bin;
use Time::HiRes qw(time);
use OracleFuzz ();
use Proc::Prefork::Interp::RequestReader ();

my $o = OracleFuzz::options('[CORPUS...]');
my ($seconds, $iterations, $seed) = @$o{qw(seconds iterations seed)};
my $oracle = OracleFuzz::oracle($o->{oracle});
sub ask { return $oracle->ask(@_) }

# The Perl verdict, in the oracle's form: undef or entries\0...\1args\0...
# The input is one request: bytes past its end, or too few, refuse it.
sub perl_decode {
    my ($bytes) = @_;
    my $r = Proc::Prefork::Interp::RequestReader->new;
    while (length $bytes && $r->wanted) {
        my $want = $r->wanted;
        my $n = 1 + int rand(rand() < 0.5 ? 16 : 70000);
        $n = $want if $n > $want;
        return undef if defined $r->feed(substr $bytes, 0, $n, '');
    }
    return undef if length $bytes || $r->wanted;
    my ($entries, $args) = $r->strings;
    return join('', map { "$_\0" } @$entries) . "\1" . join('', map { "$_\0" } @$args);
}

my ($runs, $accepted) = (0, 0);
sub check {
    my ($bytes, $origin) = @_;
    $runs++;
    my $c = ask('D', $bytes);
    my $p = perl_decode($bytes);
    $accepted++ if defined $c;
    return if (defined $c ? 1 : 0) == (defined $p ? 1 : 0) && (!defined $c || $c eq $p);
    my $say = sub { defined $_[0] ? 'accepts ' . unpack('H*', $_[0]) : 'refuses' };
    OracleFuzz::disagreement("($origin, seed $seed): C " . $say->($c) . ', Perl ' . $say->($p),
                             $bytes, $o->{save});
}

check($_->[1], $_->[0]) for OracleFuzz::corpus(@ARGV);

my @alphabet = ("\0", '=', 'A', 'z', '_', ' ', "\1", "\xff", "\n");
sub random_string {
    my $len = rand() < 0.3 ? 0 : int rand(rand() < 0.9 ? 12 : 300);
    return join '', map { rand() < 0.7 ? chr(97 + int rand 26) : $alphabet[rand @alphabet] } 1 .. $len;
}

sub random_lists {
    # Entries are never empty (that would end the environment); one in
    # ten has no '=', which the encoder must drop.
    my @env = map { my $s = random_string() =~ s/\0//gr;
                    rand() < 0.9 ? "K$s=" . random_string() =~ s/\0//gr : 'N' . $s =~ s/=//gr }
              1 .. int rand 6;
    my @args = map { random_string() =~ s/\0//gr } 0 .. int rand 6;
    return (\@env, \@args);
}

sub mutate {
    my ($b) = @_;
    for (1 .. 1 + int rand 3) {
        my $len = length $b;
        my $at = $len ? int rand $len : 0;
        my $op = int rand 9;
        if ($op == 0 && $len) { substr($b, $at, 1) = chr(ord(substr $b, $at, 1) ^ (1 << int rand 8)) }
        elsif ($op == 1 && $len) { substr($b, $at, 1) = "\0" }
        elsif ($op == 2 && $len) { substr($b, $at, 1) = '=' }
        elsif ($op == 3) { substr($b, $at, 0) = $alphabet[rand @alphabet] x (1 + int rand 3) }
        elsif ($op == 4 && $len) { substr($b, $at, 1 + int rand 4) = '' }
        elsif ($op == 5) { $b = substr $b, 0, $at }
        elsif ($op == 6 && $len) { substr($b, $at, 0) = substr $b, int(rand $len), 1 + int rand 8 }
        elsif ($op == 7 && $len >= 4) {    # length field near the truth
            my $n = unpack('N', $b) + int(rand 5) - 2;
            substr($b, 0, 4) = pack 'N', $n < 0 ? 0 : $n;
        }
        elsif ($op == 8 && $len >= 4) {    # or far from it
            substr($b, 0, 4) = pack 'N', (0, 1, 0x7fffffff, 0xffffffff, (6 << 20) + (64 << 10),
                                          (6 << 20) + (64 << 10) + 1)[rand 6];
        }
    }
    return $b;
}

my $start = time;
my ($encodings, $from_corpus) = (0, $runs);
while ($runs - $from_corpus < $iterations && time - $start < $seconds) {
    my ($env, $args) = random_lists();
    my $wire = ask('E', join('', map { "$_\0" } @$env) . "\0" . join('', map { "$_\0" } @$args));
    defined $wire or die "$0: the C encoder refused a small request\n";
    $encodings++;
    # Round trip: what C encoded, Perl decodes to what was encoded.
    my @kept = grep { /=/ } @$env;
    my $want = join('', map { "$_\0" } @kept) . "\1" . join('', map { "$_\0" } @$args);
    my $got = perl_decode($wire);
    if (!defined $got || $got ne $want) {
        print "ROUND TRIP FAILED (seed $seed): ", unpack('H*', $wire), "\n";
        exit 1;
    }
    check($wire, 'C encoding');
    check(mutate($wire), 'mutated') for 1 .. 8;
}
$oracle->finish;
printf "fuzz_request.pl: %d inputs (%d from the corpus, %d accepted by both), %d C encodings "
     . "round-tripped, %.1f s, seed %d: no disagreement\n", $runs, $from_corpus, $accepted,
     $encodings, time - $start, $seed;
exit 0;
