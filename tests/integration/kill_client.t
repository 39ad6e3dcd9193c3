# Killing the client ends the executor's whole process group within a
# second, also when the server was first started with SIGINT ignored
# (as a background job of a non-interactive shell would be).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

my $env = new_env();
# PFI_LANG=perl or python (tests/meson.build runs both).
my $script = write_script($env, 'sleeper.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
$| = 1;
my $kid = fork // die;
if (!$kid) { exec 'sleep', '300'; }
print "pgrp=", getpgrp(), " pid=$$ kid=$kid\n";
sleep 300;
EOS
import os, subprocess, time
import prefork_interp
prefork_interp.initialisation_complete()
kid = subprocess.Popen(["sleep", "300"])
print(f"pgrp={os.getpgrp()} pid={os.getpid()} kid={kid.pid}", flush=True)
time.sleep(300)
EOS

sub one_round {
	my ($sig, $ignore_int) = @_;
	pipe my $r, my $w or die;
	my $pid = fork // die;
	if (!$pid) {
		close $r;
		open STDOUT, '>&', $w or POSIX::_exit(120);
		$SIG{INT} = 'IGN' if $ignore_int;
		exec $script or POSIX::_exit(121);
	}
	close $w;
	my $line = <$r>;
	close $r;
	my ($pg) = ($line // '') =~ /pgrp=(\d+)/;
	return "no pgrp line (got " . ($line // 'EOF') . ")" unless $pg;
	return "executor shares the client's group" if $pg == $pid || $pg == getpgrp();
	kill $sig, $pid;
	waitpid $pid, 0;
	# The group must end, not be left running: a bound far above the
	# server's grace before SIGKILL (0.5 s), not a speed limit.
	my $t0 = time;
	while (group_alive($pg) && time - $t0 < 10) { sleep 0.01 }
	return group_alive($pg) ? "group $pg still alive after 10 s" : '';
}

# First server started with SIGINT ignored.
is(one_round('TERM', 1), '', 'SIGTERM to client (server started with SIGINT ignored)');
my @fails;
for my $i (1 .. 20) {
	my $sig = $i % 2 ? 'KILL' : 'TERM';
	my $why = one_round($sig, $i % 3 == 0);
	push @fails, "round $i ($sig): $why" if $why;
}
is("@fails", '', 'every round: SIGTERM/SIGKILL to the client ends the executor group');

# SIGINT sent to a client whose call waits for the one running slot
# (max_servers => 1): held until the call's code starts, it must reach
# the handler the script's initialisation installed, as a standalone
# run's SIGINT does (exit 3), not kill the call with SIGINT (130).
{
	my $mark = "$env->{dir}/inth-started";
	my $inth = write_script($env, 'inth.pl', { perl => <<"EOS", python => <<"EOS" });
use strict;
use Proc::Prefork::Interp;
\$SIG{INT} = sub { print "caught INT\\n"; exit 3 };
prefork_initialisation_complete(max_servers => 1);
\$| = 1;
exit 0 if (\$ARGV[0] // '') eq 'first';
if (\@ARGV) { open my \$m, '>>', '$mark'; print \$m "busy\\n"; close \$m; sleep \$ARGV[0]; exit 0 }
sleep 10;
print "no signal\\n";
EOS
import signal, sys, time
import prefork_interp
def on_int(signum, frame):
    print("caught INT", flush=True)
    sys.exit(3)
signal.signal(signal.SIGINT, on_int)
prefork_interp.initialisation_complete(max_servers=1)
if sys.argv[1:] == ["first"]:
    sys.exit(0)
if len(sys.argv) > 1:
    with open('$mark', 'a') as m:
        m.write("busy\\n")
    time.sleep(int(sys.argv[1]))
    sys.exit(0)
time.sleep(10)
print("no signal")
EOS
	# standalone: SIGINT once the script runs
	my $sa = start_call([interpreter(), $inth], unset => ['PREFORK_INTERP']);
	sleep 1;
	kill 'INT', $sa->{pid};
	my $want = wait_call($sa);
	is(describe_status($want->{status}), 'exit 3', 'queued SIGINT: standalone, the handler ends the run');
	is(run_call([$inth, 'first'])->{status}, 0, 'queued SIGINT: the server starts');
	my @got;
	for my $round (1 .. 3) {
		unlink $mark;
		my $busy = start_call([$inth, '2']);
		wait_for(sub { -s $mark }, 10);
		my $server = server_pid_of($inth);
		my $queued = start_call([$inth]);
		# the queued call's executor holds every relayed signal back
		# once its request is in (SigBlk: 1..31 but KILL and STOP)
		my $held = wait_for(sub {
			grep { my $b = (proc_status($_) // {})->{SigBlk} // '0';
			       (hex(substr($b, -8)) & 0x7ffbfeff) == 0x7ffbfeff }
				descendants($server // 0)
		}, 10);
		kill 'INT', $queued->{pid};
		my $r = wait_call($queued);
		wait_call($busy);
		push @got, describe_status($r->{status}) . ($r->{out} =~ /caught INT/ ? ' (caught)' : '')
			. ($held ? '' : ' (not seen waiting)');
	}
	is("@got", join(' ', ('exit 3 (caught)') x 3),
	   'queued SIGINT: reaches the script\'s handler once the call runs, as standalone');
}

done_testing;
