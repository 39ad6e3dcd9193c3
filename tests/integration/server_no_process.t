# A running server that can make no process for a call (the user's
# process limit reached, no spare ready) declines it: our client then
# runs the script directly, as nothing of the call ran, with the one
# line of every case of "not served" (no_process.t, fallback.t); the
# server stays and serves the next call once processes can be made.
# Acted by uid 65534: the script's initialisation sets its process
# limit, and processes of that uid fill it up. Repeated.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;
use Time::HiRes qw(sleep);

need_root();
my ($pub, $why) = nobody_dir();
plan skip_all => "no directory that uid 65534 can use: $why" unless $pub;

use constant LIMIT => 40;    # the server's RLIMIT_NPROC (soft)
my $client = client_path();
my $run = nobody_run_dir($pub);
my $python = script_lang() eq 'python';
my $script = "$pub/snp";
my $body = PFIHarness::body_for_lang({ perl => <<'EOS', python => <<'EOS' });
use Proc::Prefork::Interp;
my (undef, $hard) = @{ Proc::Prefork::Interp::Linux::get_rlimit(6) };
Proc::Prefork::Interp::Linux::set_rlimit(6, __LIMIT__, $hard) or die "set_rlimit: $!";
prefork_initialisation_complete(prefork_spares => 0);
print "pid=$$\n";
exit 4;
EOS
import os, resource, sys
import prefork_interp
resource.setrlimit(resource.RLIMIT_NPROC, (__LIMIT__, resource.getrlimit(resource.RLIMIT_NPROC)[1]))
prefork_interp.initialisation_complete(prefork_spares=0)
print(f"pid={os.getpid()}", flush=True)
sys.exit(4)
EOS
$body =~ s/__LIMIT__/LIMIT/ge;
open my $fh, '>', $script or die "$script: $!";
print $fh "#!$client -U,", interpreter(), "\n", $body;
close $fh;
chmod 0755, $script;
my %env = (PREFORK_INTERP_RUN_DIR => $run, PERL5LIB => perl_lib(),
	   ($python ? (PYTHONPATH => python_lib()) : ()));

sub nobody_pids {
	opendir my $d, '/proc' or die $!;
	return grep { /^\d+$/ && ((stat "/proc/$_")[4] // -1) == OTHER_UID } readdir $d;
}

sub nobody_count { return scalar(my @p = nobody_pids()) }

# Whether uid 65534 runs nothing but the server $server and its
# watcher: the last call's executor, still ending, would count towards
# the limit and make the fill below one short.
sub only_server_left {
	my ($server) = @_;
	for my $pid (nobody_pids()) {
		next if $pid == $server;
		open my $fh, '<', "/proc/$pid/cmdline" or next;
		my $cmd = <$fh> // '';
		return 0 unless $cmd =~ /^prefork-interp: watcher/;
	}
	return 1;
}

my $first = run_call(client_as_other($script), dir => $pub, env => \%env);
is(describe_status($first->{status}), 'exit 4', 'the first call starts the server') or diag $first->{err};
my $server = wait_for(sub { server_pid_of($script) }, 10);
ok($server, 'the server runs') or BAIL_OUT('no server');

# Processes of uid 65534 (sleepers) until it has $n; returns their pids.
sub fill_to {
	my ($n) = @_;
	my @fill;
	while (nobody_count() < $n) {
		my $pid = fork // die "fork: $!";
		if (!$pid) {
			exec @{ client_as_other('sleep', '60') } or POSIX::_exit(127);
		}
		push @fill, $pid;
		wait_for(sub { ((stat "/proc/$pid")[4] // -1) == OTHER_UID }, 5);
	}
	return @fill;
}

sub unfill {
	kill 'KILL', @_;
	waitpid $_, 0 for @_;
}

# A call made while uid 65534 has $n processes besides: it must run
# directly, declined. Then one once they are gone: it must be served.
sub declined_then_served {
	my ($label, $n, $server) = @_;
	wait_for(sub { $server ? only_server_left($server) : nobody_count() == 0 }, 10)
		or diag "$label: uid 65534 still runs: " . `ps -u @{[OTHER_UID]} -o pid,args`;
	my @fill = fill_to($n);
	my $p = start_call(client_as_other($script, 'x'), dir => $pub, env => \%env);
	my $r = wait_call($p);
	unfill(@fill);
	is(describe_status($r->{status}), 'exit 4', "$label: at the limit, the script ran, with its own status")
		or diag $r->{err};
	like($r->{out}, qr/^pid=$p->{pid}$/m, "$label: directly, in the caller's process");
	one_prefork_line($r, qr/^prefork-interp: running '\Q$script\E' without a server \(not accelerated\): its server could make no process for the call now/,
			 $label);
	my $after = server_pid_of($script);
	my $next = start_call(client_as_other($script), dir => $pub, env => \%env);
	my $s = wait_call($next);
	is(describe_status($s->{status}), 'exit 4', "$label: below the limit again, a call")
		or diag $s->{err};
	my ($ran) = $s->{out} =~ /^pid=(\d+)$/m;
	ok($ran && $ran != $next->{pid}, "$label: is served");
	is($s->{err}, '', "$label: without a word");
	return $after;
}

sub kill_all {
	run_call(client_as_other($client, '--kill-all'), dir => $pub, env => \%env);
	return wait_for(sub { !server_pid_of($script) }, 10);
}

for my $round (1 .. 3) {
	# Up to one short of the limit: the client is the last one, and the
	# server's fork for it fails. The server stays.
	is(declined_then_served("round $round", LIMIT - 1, $server), $server,
	   "round $round: the server stayed");
}
ok(kill_all(), 'the server is stopped');
# Its watcher and its last executors may still be ending: counted, they
# would make the fill below one short and the setup's fork work.
ok(wait_for(sub { nobody_count() == 0 }, 10), 'no process of uid 65534 stays');

# The setup that cannot fork the server declines the first call the
# same way, and ends: no server and no watcher stay; once processes can
# be made, a call starts a server as usual.
for my $round (1 .. 3) {
	# The client, the watcher and the setup make the limit: the setup's
	# fork of the server fails.
	is(declined_then_served("setup, round $round", LIMIT - 3), undef,
	   "setup, round $round: no server stayed");
	ok(kill_all(), "setup, round $round: the server the next call started is stopped");
	ok(wait_for(sub { nobody_count() == 0 }, 10), "setup, round $round: no process of uid 65534 stays")
		or diag `ps -u @{[OTHER_UID]} -o pid,args`;
}
done_testing;
