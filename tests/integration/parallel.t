# 16 callers in parallel, 20 calls each, max_servers => 4: every call
# is served by the one server, completes with the right output and
# status, and no more than 4 run at once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
# A call the client could not hand to the server would run the script
# directly, with the same output and status: refuse that instead.
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';
# PFI_LANG=perl or python (tests/meson.build runs both).
my $script = write_script($env, 'par.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use Time::HiRes ();
use Proc::Prefork::Interp;
prefork_initialisation_complete(max_servers => 4);
my ($caller, $n, $spans) = @ARGV;
my $start = Time::HiRes::time();
select undef, undef, undef, 0.01 * ($n % 3);
my $end = Time::HiRes::time();
print "caller=$caller n=$n\n";
if (defined $spans) {
	open my $fh, '>>', $spans or die "$spans: $!";
	printf $fh "%d %.6f %.6f\n", getppid(), $start, $end;
	close $fh or die "$spans: $!";
}
exit(($caller * 20 + $n) % 256);
EOS
import os, sys, time
import prefork_interp
prefork_interp.initialisation_complete(max_servers=4)
caller, n = int(sys.argv[1]), int(sys.argv[2])
start = time.time()
time.sleep(0.01 * (n % 3))
end = time.time()
print(f"caller={caller} n={n}")
if len(sys.argv) > 3:
    with open(sys.argv[3], "a") as spans:
        spans.write("%d %.6f %.6f\n" % (os.getppid(), start, end))
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
			my $r = run_call([$script, $c, $n, "$env->{dir}/spans.$c"],
					 dir => $env->{dir});
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

# Each call's parent (the server that forked it) and when it ran.
my (%parents, @events, $spans);
for my $c (1 .. 16) {
	for (split /\n/, slurp_file("$env->{dir}/spans.$c") // '') {
		my ($ppid, $start, $end) = /\A(\d+) (\S+) (\S+)\z/ or next;
		$parents{$ppid}++;
		push @events, [$start, 1], [$end, -1];
		$spans++;
	}
}
is($spans // 0, 320, 'every call wrote its span');
is(join(',', sort keys %parents), server_pid_of($script) // "no server",
   'every call was forked by the one server');
my ($now, $most) = (0, 0);
for my $e (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @events) {
	$now += $e->[1];
	$most = $now if $now > $most;
}
cmp_ok($most, '<=', 4, "max_servers => 4: at most 4 calls at once (saw $most)");
cmp_ok($most, '>=', 2, "16 callers: calls did run at once (saw $most)");

done_testing;
