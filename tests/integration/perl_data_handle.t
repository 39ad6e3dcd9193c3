# The DATA handles (__DATA__ / __END__ of the script and of modules)
# are perl's reads of the script's own file: every call must find each
# where a standalone run's per-call code finds it (where the
# initialisation left it), whatever earlier or parallel calls read. A
# plain fork shares the file's offset between the server and all its
# calls, so the first call that reads DATA to the end used to leave
# nothing for the next ones.
# Perl only: __DATA__ is perl's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

plan skip_all => 'the Perl module only' unless script_lang() eq 'perl';
my $env = new_env();
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';

# A module whose DATA the per-call code reads, lazily.
open my $pm, '>', "$env->{dir}/PFIDataTable.pm" or die $!;
print $pm <<'EOM';
package PFIDataTable;
sub rows { my @r = <DATA>; chomp @r; return @r }
1;
__DATA__
m1
m2
EOM
close $pm or die $!;

# The initialisation reads the first line of the script's DATA; each call
# reads the rest, the module's table, and says whether its DATA fd is
# still closed on exec, as perl opened it.
my $body = <<'EOS';
use strict;
use lib $ENV{PFI_DATA_LIB};
use PFIDataTable;
use Fcntl qw(F_GETFD FD_CLOEXEC);
use Proc::Prefork::Interp;
my $header = <DATA>;
chomp $header;
prefork_initialisation_complete();
my @rest = <DATA>;
chomp @rest;
my $cloexec = fcntl(DATA, F_GETFD, 0) & FD_CLOEXEC ? 'cloexec' : 'inherited';
print "header=$header rest=@rest module=@{[PFIDataTable::rows()]} $cloexec\n";
EOS
my %env = (PFI_DATA_LIB => $env->{dir});

for my $marker ('__DATA__', '__END__') {
	my $script = write_script($env, "data$marker.pl",
				  "$body$marker\nh\nd1\nd2\nd3\n");
	my $want = run_call(['perl', $script], dir => $env->{dir}, env => \%env);
	is($want->{out}, "header=h rest=d1 d2 d3 module=m1 m2 cloexec\n",
	   "$marker: standalone reads it all") or diag $want->{err};
	# One after another: each call after one that read to the end.
	my @bad;
	for my $i (1 .. 20) {
		my $got = run_call([$script], dir => $env->{dir}, env => \%env);
		push @bad, "call $i: status $got->{status}: $got->{out}$got->{err}"
			if $got->{status} != 0 || $got->{out} ne $want->{out};
	}
	is("@bad", '', "$marker: 20 calls in a row each read what standalone reads");
	# Side by side: a shared offset would give a line to one call only.
	my @calls = map { start_call([$script], dir => $env->{dir}, env => \%env) } 1 .. 12;
	@bad = ();
	for my $i (0 .. $#calls) {
		my $got = wait_call($calls[$i]);
		push @bad, "call $i: status $got->{status}: $got->{out}$got->{err}"
			if $got->{status} != 0 || $got->{out} ne $want->{out};
	}
	is("@bad", '', "$marker: 12 calls at once each read what standalone reads");
	ok(server_pid_of($script), "$marker: those calls were served by a server");
	kill_servers($env);
}

done_testing;
