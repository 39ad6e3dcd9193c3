#!/usr/bin/perl
# Fuzzer of the PREFORK_INTERP parser (Proc::Prefork::Interp::Protocol::
# parse_env) against a reference model written independently from the
# grammar in docs (one regex per word):
#   v1,SECS[.NSECS][,ITEM...] FD,FD,FD,FD[,ITEM...][ MORE...]
# with the four fds decimal (1 to 9 digits), above 2 and distinct, and
# the item "xdata" in the first word meaning the client reads xdata.
#
#   fuzz_env.pl [--seconds N | --iterations N] [--seed N]
#
# Inputs: values as the C client writes them (src/spawn.c:
# "v1,%lld.%09ld,xdata %d,%d,%d,%d") and as chiark-utils' client does
# (no xdata item), then mutations of them. The parser must never die;
# it must accept exactly what the model accepts, with the same fields.
# A disagreement is printed and the run exits 1.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../perl/lib";
use Getopt::Long;
use Time::HiRes qw(time);
use Proc::Prefork::Interp::Protocol ();

my ($seconds, $iterations, $seed);
GetOptions('seconds=f' => \$seconds, 'iterations=i' => \$iterations, 'seed=i' => \$seed)
    or die "usage: $0 [--seconds N | --iterations N] [--seed N]\n";
$seed //= time ^ $$;
srand $seed;
$iterations //= defined $seconds ? ~0 : 50_000;
$seconds //= 1e9;

sub model {
    my ($v) = @_;
    my ($w0, $w1) = $v =~ /\A([^ ]*) ([^ ]*)(?: |\z)/ or return undef;
    my ($secs, $nsecs, $items) = $w0 =~ /\Av1,([0-9]+)(?:\.([0-9]{1,9}))?((?:,[^,]*)*)\z/
        or return undef;
    my @fds = $w1 =~ /\A([0-9]{1,9}),([0-9]{1,9}),([0-9]{1,9}),([0-9]{1,9})(?:,[^ ]*)?\z/
        or return undef;
    my %seen;
    for (@fds) { $_ += 0; return undef if $_ <= 2 || $seen{$_}++ }
    return { secs => $secs + 0, nsecs => ($nsecs // '') . '0' x (9 - length($nsecs // '')),
             fds => \@fds, xdata => scalar grep { $_ eq 'xdata' } split /,/, $items, -1 };
}

my @pieces = (' ', ',', '.', 'v1', 'v2', 'xdata', '0', '2', '3', '999999999', '1234567890',
              '-1', '+3', "\0", "\n", '', 'x', '00', '٣');
sub mutate {
    my ($v) = @_;
    for (1 .. 1 + int rand 3) {
        my $at = int rand(1 + length $v);
        my $op = int rand 4;
        if ($op == 0) { substr($v, $at, 0) = $pieces[rand @pieces] }
        elsif ($op == 1) { substr($v, $at, 1 + int rand 3) = '' }
        elsif ($op == 2) { substr($v, $at, 1) = $pieces[rand @pieces] }
        else { $v = substr $v, 0, $at }
    }
    return $v;
}

sub fd { 3 + int rand(rand() < 0.5 ? 10 : 1e6) }
my ($runs, $accepted, $start) = (0, 0, time);
while ($runs < $iterations && time - $start < $seconds) {
    my $v = rand() < 0.5
        ? sprintf('v1,%lld.%09ld,xdata %d,%d,%d,%d', int rand 2e9, int rand 1e9, map { fd() } 1 .. 4)
        : sprintf('v1,%d.%09d %d,%d,%d,%d', int rand 2e9, int rand 1e9, map { fd() } 1 .. 4);
    for my $input ($v, map { mutate($v) } 1 .. 8) {
        $runs++;
        my ($p, $why) = eval { Proc::Prefork::Interp::Protocol::parse_env($input) };
        my $died = $@;
        my $m = model($input);
        my $same = !$died && (defined $p ? 1 : 0) == (defined $m ? 1 : 0)
            && (defined $p || (defined $why && length $why))
            && (!defined $p || ($p->{secs} == $m->{secs} && $p->{nsecs} == $m->{nsecs}
                                && "@{$p->{fds}}" eq "@{$m->{fds}}"
                                && !!$p->{client_reads_xdata} == !!$m->{xdata}));
        $accepted++ if defined $m;
        next if $same;
        (my $shown = $input) =~ s/([^ -~])/sprintf '\\x%02x', ord $1/ge;
        print "DISAGREEMENT (seed $seed) on '$shown': parser ",
            $died ? "died: $died" : defined $p ? 'accepts' : "refuses ($why)",
            ', model ', defined $m ? 'accepts' : 'refuses', "\n";
        exit 1;
    }
}
printf "fuzz_env.pl: %d values (%d valid), %.1f s, seed %d: no disagreement\n",
    $runs, $accepted, time - $start, $seed;
