# Flood (SECURITY.md, "Flood"): many connections opened and never
# completed must not stop a well-behaved call, and the server's
# processes stay within max_servers + max_pending + prefork_spares.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use IO::FDPass ();
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

need_root();

my ($MAX_SERVERS, $MAX_PENDING, $SPARES) = (2, 4, 1);
my $BOUND = $MAX_SERVERS + $MAX_PENDING + $SPARES;
my $env = new_env();
my $client = client_path();
my $run = $env->{run};
# PFI_LANG=perl or python (tests/meson.build runs both).
my $script = write_script($env, 'victim.pl', { perl => <<EOS, python => <<EOS });
use Proc::Prefork::Interp;
prefork_initialisation_complete(max_servers => $MAX_SERVERS, max_pending => $MAX_PENDING,
				pending_grace => 0.25,
				prefork_spares => $SPARES);
print "ran \@ARGV\\n";
EOS
import sys
import prefork_interp
prefork_interp.initialisation_complete(max_servers=$MAX_SERVERS, max_pending=$MAX_PENDING,
                                       pending_grace=0.25, prefork_spares=$SPARES)
print("ran " + " ".join(sys.argv[1:]))
EOS
my @cmd = ($client, '-U', '-g', 'sec', interpreter(), $script);
my $sock = "$run/ssec";

my $r = run_call([@cmd, 'first'], dir => $env->{dir});
is($r->{status}, 0, 'the server runs') or diag $r->{err};
my $server;
wait_for(sub { $server = server_pid_of($script) }, 5);
ok($server, 'found the server');
sleep 0.5;
my $kids0 = descendants($server);
my $fds0 = fd_count($server);

# Watches the server's process count while $code runs; returns the most.
sub peak_during {
	my ($code) = @_;
	my $peak = 0;
	my $p = start_call([$^X, '-e', 'sleep 1000'], dir => $env->{dir});
	my $res = $code->(sub { my $n = descendants($server); $peak = $n if $n > $peak });
	kill 'KILL', $p->{pid};
	wait_call($p);
	return ($peak, $res);
}

for my $case (['silent connections', sub { }],
	      ['connections that stall mid-request', sub {
		      my ($s) = @_;
		      read_n($s, length OUR_GREETING, 2);
		      send_all($s, "\0");
		      IO::FDPass::send(fileno $s, 0);
	      }]) {
	my ($label, $stall) = @$case;
	my @flood;
	my ($peak, $took) = peak_during(sub {
		my ($sample) = @_;
		for (1 .. 60) {
			my $s = connect_path($sock) or last;
			$stall->($s);
			push @flood, $s;
			$sample->() unless @flood % 10;
		}
		my $t0 = time;
		my $call = start_call([@cmd, 'good'], dir => $env->{dir});
		my $done = wait_for(sub { $sample->(); waitpid($call->{pid}, WNOHANG) == $call->{pid} }, 20);
		my $took = time - $t0;
		unless ($done) { kill 'KILL', $call->{pid} }
		my $res = wait_call($call);
		$res->{status} = $? if $done;
		ok($done && $res->{out} eq "ran good\n", "$label: a well-behaved call completes during a flood of 60")
			or diag "out '$res->{out}' err '$res->{err}'";
		return $took;
	});
	ok($took < 10, sprintf("%s: and within 10 s (took %.1f s)", $label, $took));
	ok($peak <= $BOUND, "$label: at most $BOUND server processes during the flood (peak $peak)");
	close $_ for @flood;
	ok(wait_for(sub { descendants($server) == $kids0 }, 10), "$label: back to $kids0 processes afterwards")
		or diag 'descendants: ' . join ' ', descendants($server);
	ok(wait_for(sub { fd_count($server) == $fds0 }, 10), "$label: back to $fds0 fds afterwards");
}
# Exactly as many silent connections as there are running slots: each
# was free to run when handed over, so each holds a slot while it never
# sends its request. A well-behaved call must not wait for the request
# timeout (30 s) behind them: they are dropped after pending_grace.
{
	my @hold = map { connect_path($sock) or die "connect: $!" } 1 .. $MAX_SERVERS;
	sleep 0.5;      # handed over, holding the slots
	my $t0 = time;
	my $call = start_call([@cmd, 'good'], dir => $env->{dir});
	my $done = wait_for(sub { waitpid($call->{pid}, WNOHANG) == $call->{pid} }, 15);
	my $took = time - $t0;
	kill 'KILL', $call->{pid} unless $done;
	my $res = wait_call($call);
	ok($done && $res->{out} eq "ran good\n",
	   "$MAX_SERVERS silent connections holding every running slot: a well-behaved call completes")
		or diag "out '$res->{out}' err '$res->{err}'";
	ok($took < 5, sprintf('... within 5 s, not after the request timeout (took %.1f s)', $took));
	close $_ for @hold;
	ok(wait_for(sub { descendants($server) == $kids0 }, 10), "... back to $kids0 processes afterwards");
}
is(server_pid_of($script), $server, 'the same server served throughout');
ok(kill_servers($env), 'no process left behind');
done_testing;
