# Servers starting and ending while calls arrive, by repetition:
#   1. many callers at once with no server: exactly one initialisation,
#      every call runs once with its own arguments and exit status, and
#      --kill then leaves no process, socket or lock;
#   2. callers calling over and over while the server keeps ending:
#      after each call (idle_timeout), through --kill and through an
#      edit of the script (autoreload); each call is served exactly once
#      with its own status, by the old server or a fresh one.
# The client may not fall back to a direct run (refuse): a call that a
# server could have served must be.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

my $env = new_env();
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';
my $log = "$env->{dir}/log";

# Each initialisation and each call appends a line to $log (lines this
# short are written whole with O_APPEND); a call prints its arguments
# and exits with the second one.
sub racer {
	my ($name, $idle) = @_;
	return write_script($env, $name, { perl => <<"EOS", python => <<"EOS" });
use strict;
BEGIN { open my \$f, '>>', '$log' or die; print \$f "init\\n"; close \$f }
use Proc::Prefork::Interp;
prefork_initialisation_complete(idle_timeout => $idle);
open my \$f, '>>', '$log' or die; print \$f "call \@ARGV\\n"; close \$f;
print "out \@ARGV\\n";
exit \$ARGV[1];
EOS
import sys
with open('$log', 'a') as f:
    f.write("init\\n")
import prefork_interp
prefork_interp.initialisation_complete(idle_timeout=$idle)
with open('$log', 'a') as f:
    f.write("call " + " ".join(sys.argv[1:]) + "\\n")
print("out " + " ".join(sys.argv[1:]))
sys.exit(int(sys.argv[2]))
EOS
}

# Problems with one call's result (empty if it is right).
sub check_call {
	my ($r, $a, $b) = @_;
	my @bad;
	push @bad, "call $a $b: " . describe_status($r->{status}) . ": $r->{err}"
		if $r->{status} != ($b << 8);
	push @bad, "call $a $b: output '$r->{out}'" if $r->{out} ne "out $a $b\n";
	return @bad;
}

# Problems with the log: each of the calls there exactly once.
sub check_log {
	my ($want) = @_;
	my %seen;
	$seen{$_}++ for slurp_file($log) =~ /^call (\d+ \d+)$/mg;
	my @bad = map { "call $_ ran $seen{$_} times" } grep { $seen{$_} != 1 } sort keys %seen;
	push @bad, "call $_ never ran" for grep { !$seen{$_} } @$want;
	return @bad;
}

sub leftovers {
	my ($script) = @_;
	my @bad;
	my $k = run_call([client_path(), '--kill', $script]);
	push @bad, "--kill: " . describe_status($k->{status}) . " $k->{err}" if $k->{status};
	push @bad, 'processes left after --kill'
		unless wait_processes_gone($script, 10);
	opendir my $d, $env->{run} or die "$env->{run}: $!";
	push @bad, "files left after --kill: @$_" for grep { @$_ } [grep { /^[sl]/ } readdir $d];
	return @bad;
}

# 1. A stampede on a script without a server.
{
	my $script = racer('cold.pl', 600);
	my @bad;
	for my $round (1 .. 10) {
		unlink $log;
		my @calls = map { start_call([$script, $round, $_], dir => $env->{dir}) } 1 .. 12;
		push @bad, check_call(wait_call($calls[$_ - 1]), $round, $_) for 1 .. 12;
		my $inits = () = slurp_file($log) =~ /^init$/mg;
		push @bad, "round $round: $inits initialisations" if $inits != 1;
		push @bad, map { "round $round: $_" } check_log([map { "$round $_" } 1 .. 12]),
			leftovers($script);
		last if @bad > 10;
	}
	is(join("\n", @bad), '', '12 callers at once, no server: one server, each call once, nothing left');
}

# 2. Servers ending while calls arrive.
sub churn {
	my ($script, $disturb) = @_;
	unlink $log;
	my @callers;
	for my $c (1 .. 6) {
		my $pid = fork // die "fork: $!";
		if (!$pid) {
			srand($$);
			my @bad;
			for my $n (1 .. 20) {
				push @bad, check_call(run_call([$script, $c, $n], dir => $env->{dir}), $c, $n);
				sleep rand(0.03);
			}
			print STDERR "$_\n" for @bad;
			POSIX::_exit(@bad ? 1 : 0);
		}
		push @callers, $pid;
	}
	my $disturber;
	if ($disturb) {
		$disturber = fork // die "fork: $!";
		if (!$disturber) {
			srand($$);
			for (;;) { sleep rand(0.1); $disturb->() }
		}
	}
	my $failed = 0;
	for (@callers) { waitpid $_, 0; $failed++ if $? }
	if ($disturber) { kill 'KILL', $disturber; waitpid $disturber, 0 }
	my @bad = ($failed ? "$failed callers saw wrong results (above)" : (),
		   check_log([map { my $c = $_; map { "$c $_" } 1 .. 20 } 1 .. 6]));
	return join "\n", @bad, leftovers($script);
}

{
	my $script = racer('idle.pl', 0.01);
	is(churn($script), '', 'idle_timeout ending the server between calls: every call served once');
}
{
	my $script = racer('killed.pl', 600);
	is(churn($script, sub { system(client_path(), '--kill', $script) }), '',
	   '--kill while calls arrive: every call served once');
}
{
	my $script = racer('edited.pl', 600);
	is(churn($script, sub { my $t = time; utime $t, $t, $script }), '',
	   'the script edited while calls arrive (autoreload): every call served once');
}

ok(kill_servers($env), 'no server left');
done_testing;
