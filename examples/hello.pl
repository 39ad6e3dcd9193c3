#!/usr/bin/prefork-interp -U,perl
# Example: the modules load once, in the server; each call only runs
# the part after prefork_initialisation_complete().
use strict;
use warnings;
use POSIX ();
use Data::Dumper ();
use Storable ();
use Encode ();
use Getopt::Long ();
use File::Temp ();
use Proc::Prefork::Interp;

my %table = map { $_ => POSIX::floor(sqrt $_) } 1 .. 50_000;   # "start-up work"

prefork_initialisation_complete();

my $who = shift(@ARGV) // 'world';
print "hello, $who (pid $$, ", scalar(keys %table), " entries preloaded)\n";
