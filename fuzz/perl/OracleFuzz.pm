package OracleFuzz;

# What the differential fuzzers of fuzz/perl/ share: their command line,
# the C oracle (request-oracle) they ask, the corpus they run first, and
# how a disagreement is reported and kept.

use strict;
use warnings;
use Digest::SHA qw(sha1_hex);
use Getopt::Long;
use IPC::Open2;

# Parses --oracle PATH [--seconds N | --iterations N] [--seed N]
# [--save DIR] and seeds rand. Returns a hash: oracle, seconds,
# iterations (budgets: whichever ends first), seed, save.
sub options {
    my ($usage_args) = @_;
    my %o;
    GetOptions(\%o, 'oracle=s', 'seconds=f', 'iterations=i', 'seed=i', 'save=s')
        or die "usage: $0 --oracle PATH [--seconds N|--iterations N] [--seed N] [--save DIR] $usage_args\n";
    defined $o{oracle} or die "$0: --oracle is required\n";
    $o{seed} //= time ^ $$;
    srand $o{seed};
    $o{iterations} //= defined $o{seconds} ? ~0 : 10_000;
    $o{seconds} //= 1e9;
    return \%o;
}

# Starts the oracle; returns an object whose ask($cmd, $bytes) returns
# the bytes of its "OK <hex>" answer, or undef for "ERR".
sub oracle {
    my ($path) = @_;
    my $pid = open2(my $from, my $to, $path) or die "$path: $!\n";
    binmode $_ for $from, $to;
    return bless { pid => $pid, from => $from, to => $to }, __PACKAGE__;
}

sub ask {
    my ($self, $cmd, $bytes) = @_;
    print { $self->{to} } $cmd, pack('N', length $bytes), $bytes;
    $self->{to}->flush;
    my $line = readline($self->{from}) // die "$0: the oracle died\n";
    chomp $line;
    return $line eq 'ERR' ? undef : pack('H*', substr $line, 3);
}

sub finish {
    my ($self) = @_;
    close $self->{to};
    waitpid $self->{pid}, 0;
    return;
}

# The files named (each directory's, sorted), as [path, bytes] pairs.
sub corpus {
    my (@args) = @_;
    my @out;
    for my $arg (@args) {
        my @files = -d $arg ? do { opendir my $d, $arg or die "$arg: $!\n";
                                   map { "$arg/$_" } sort grep { -f "$arg/$_" } readdir $d }
                            : ($arg);
        for my $f (@files) {
            open my $fh, '<:raw', $f or die "$f: $!\n";
            push @out, [$f, do { local $/; <$fh> } // ''];
        }
    }
    return @out;
}

# The bytes of a block as sent (length field first) with 1 to 3
# mutations: a bit flipped, a byte set to or bytes inserted from
# @$alphabet, bytes cut, the tail cut, a slice repeated, the length
# field moved a little or set to one of @$length_edges.
sub mutate_bytes {
    my ($b, $alphabet, $length_edges) = @_;
    for (1 .. 1 + int rand 3) {
        my $len = length $b;
        my $at = $len ? int rand $len : 0;
        my $op = int rand 8;
        if ($op == 0 && $len) { substr($b, $at, 1) = chr(ord(substr $b, $at, 1) ^ (1 << int rand 8)) }
        elsif ($op == 1 && $len) { substr($b, $at, 1) = $alphabet->[rand @$alphabet] }
        elsif ($op == 2) { substr($b, $at, 0) = $alphabet->[rand @$alphabet] x (1 + int rand 3) }
        elsif ($op == 3 && $len) { substr($b, $at, 1 + int rand 4) = '' }
        elsif ($op == 4) { $b = substr $b, 0, $at }
        elsif ($op == 5 && $len) { substr($b, $at, 0) = substr $b, int(rand $len), 1 + int rand 24 }
        elsif ($op == 6 && $len >= 4) {    # length field near the truth
            my $n = unpack('N', $b) + int(rand 5) - 2;
            substr($b, 0, 4) = pack 'N', $n < 0 ? 0 : $n;
        }
        elsif ($op == 7 && $len >= 4) {    # or at an edge
            substr($b, 0, 4) = pack 'N', $length_edges->[rand @$length_edges];
        }
    }
    return $b;
}

# Prints $what and the input in hex, saves the input to $save (if set)
# as regress-<sha1>, and exits 1.
sub disagreement {
    my ($what, $bytes, $save) = @_;
    print "DISAGREEMENT $what\n";
    print "input: ", unpack('H*', $bytes), "\n";
    if ($save) {
        my $f = "$save/regress-" . substr(sha1_hex($bytes), 0, 16);
        open my $fh, '>:raw', $f or die "$f: $!\n";
        print $fh $bytes;
        close $fh;
        print "saved: $f\n";
    }
    exit 1;
}

1;
