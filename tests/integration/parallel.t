# 16 callers in parallel, 20 calls each, max_servers => 4: every call
# completes with the right output and status.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
# PFI_LANG=perl or python (tests/meson.build runs both).
my $script = write_script($env, 'par.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete(max_servers => 4);
my ($caller, $n) = @ARGV;
select undef, undef, undef, 0.002 * ($n % 3);
print "caller=$caller n=$n\n";
exit(($caller * 20 + $n) % 256);
EOS
import sys, time
import prefork_interp
prefork_interp.initialisation_complete(max_servers=4)
caller, n = int(sys.argv[1]), int(sys.argv[2])
time.sleep(0.002 * (n % 3))
print(f"caller={caller} n={n}")
sys.exit((caller * 20 + n) % 256)
EOS

# Warm the server up so the parallel phase measures steady state.
is(run_call([$script, 0, 0], dir => $env->{dir})->{status}, 0, 'warm-up call');

my @kids;
for my $c (1 .. 16) {
	my $pid = fork // die;
	if (!$pid) {
		my @bad;
		for my $n (1 .. 20) {
			my $r = run_call([$script, $c, $n], dir => $env->{dir});
			my $want = (($c * 20 + $n) % 256) << 8;
			push @bad, "c$c n$n status " . describe_status($r->{status}) . " err=$r->{err}"
				if $r->{status} != $want;
			push @bad, "c$c n$n output '$r->{out}'"
				if $r->{out} ne "caller=$c n=$n\n";
		}
		print STDERR "$_\n" for @bad;
		POSIX::_exit(@bad ? 1 : 0);
	}
	push @kids, $pid;
}
my $failed = 0;
for (@kids) { waitpid $_, 0; $failed++ if $? }
is($failed, 0, '16 callers x 20 calls: all outputs and statuses right');

done_testing;
