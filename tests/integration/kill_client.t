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

done_testing;
