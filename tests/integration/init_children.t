# What the script's initialisation starts gets nothing of the server's:
# a program it runs (system, os.system) holds the fds a standalone run's
# program holds, not the socket and pipes that PREFORK_INTERP names, and
# so does a process it forks (where prefork_initialisation_complete
# returns at once, as standalone). One that outlives a killed server (SIGKILL, the OOM
# killer) would otherwise keep the server's socket listening, and every
# later call would wait on it for ever; here the next call starts a new
# server. Repeated: each round kills the server its helpers outlive.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;
use Time::HiRes qw(time);

my $env = new_env();
# A call the client could not hand to a server would run the script
# directly: refuse that instead, so that each call here is served.
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';

# PFI_T_OUT (seen by the initialisation, with -U): where the helpers
# write what they hold, and their pids. The helpers live on (60 s).
my $script = write_script($env, 'helpers.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use warnings;
use POSIX ();
use Proc::Prefork::Interp;
my $out = $ENV{PFI_T_OUT};
if ($out) {
	system('sh', '-c', 'ls /proc/$$/fd | sort -n > "$1.exec"; sleep 60 </dev/null >/dev/null 2>&1 &
		echo $! > "$1.exec.pid"', 'sh', $out) == 0 or die "system: $?";
	my $child = fork // die "fork: $!";
	if (!$child) {
		# As standalone: returns at once in a forked child.
		prefork_initialisation_complete();
		opendir my $d, '/proc/self/fd' or die;
		my $own = fileno $d;
		my @fds = sort { $a <=> $b } grep { /^\d+$/ && $_ != $own } readdir $d;
		open my $f, '>', "$out.fork" or die;
		print $f map { "$_\n" } grep { $_ != fileno $f } @fds;
		close $f;
		open $f, '>', "$out.fork.pid" or die;
		print $f "$$\n";
		close $f;
		sleep 60;
		POSIX::_exit(0);
	}
	select undef, undef, undef, 0.01 until -s "$out.fork.pid";
}
prefork_initialisation_complete();
print "called\n";
EOS
import os, sys, time
import prefork_interp
out = os.environ.get("PFI_T_OUT")
if out:
    if os.system("sh -c 'ls /proc/$$/fd | sort -n > \"$1.exec\"; sleep 60 </dev/null >/dev/null 2>&1 &"
                 " echo $! > \"$1.exec.pid\"' sh '%s'" % out) != 0:
        sys.exit("os.system failed")
    child = os.fork()
    if child == 0:
        # As standalone: returns at once in a forked child.
        prefork_interp.initialisation_complete()
        fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
        with open(out + ".fork", "w") as f:
            f.write("\n".join(str(fd) for fd in fds
                              if os.path.exists(f"/proc/self/fd/{fd}")) + "\n")
        with open(out + ".fork.pid", "w") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(60)
        os._exit(0)
    while not os.path.exists(out + ".fork.pid"):
        time.sleep(0.01)
prefork_interp.initialisation_complete()
print("called")
EOS

# Stops the helpers a run left (their pids in $out.*.pid); true once
# they are gone.
sub stop_helpers {
	my ($out) = @_;
	my @pids = grep { /\A\d+\z/ } map { my $p = slurp_file("$out.$_.pid"); chomp $p; $p }
		qw(exec fork);
	kill 'TERM', @pids;
	return wait_for(sub { !grep { kill 0, $_ } @pids }, 10);
}

# The reference: what the same programs hold in a standalone run.
my $ref = "$env->{dir}/standalone";
my $alone = run_call([interpreter(), $script], env => { PFI_T_OUT => $ref },
		     unset => ['PREFORK_INTERP']);
is($alone->{status}, 0, 'standalone run') or diag $alone->{err};
ok(stop_helpers($ref), 'standalone: its helpers are stopped');
my $exec_fds = slurp_file("$ref.exec");
my $fork_fds = slurp_file("$ref.fork");
my $list = join ',', split /\n/, $exec_fds;
like($exec_fds, qr/\A0\n1\n2\n/, "standalone: the program holds 0, 1, 2 ($list)");

for my $round (1 .. 3) {
	my $out = "$env->{dir}/served-$round";
	my $first = run_call([$script], env => { PFI_T_OUT => $out });
	is($first->{status}, 0, "round $round: the call that starts the server")
		or diag $first->{err};
	is(slurp_file("$out.exec"), $exec_fds,
	   "round $round: a program the initialisation runs holds what it holds standalone");
	is(slurp_file("$out.fork"), $fork_fds,
	   "round $round: a process the initialisation forks holds what it holds standalone");
	my $server = wait_for(sub { server_pid_of($script) }, 10);
	ok($server, "round $round: found the server") or last;
	my $second = run_call([$script]);
	is($second->{status}, 0, "round $round: a served call") or diag $second->{err};

	# The server dies without cleaning up; its helpers live on.
	kill 'KILL', $server;
	ok(wait_for(sub { !kill 0, $server or slurp_file("/proc/$server/stat") =~ /\) Z/ }, 10),
	   "round $round: the server is gone");
	my $t0 = time;
	my $next = run_call(['timeout', '-s', 'KILL', '30', $script]);
	is($next->{status}, 0, "round $round: the next call is served (not left waiting "
	   . "on a socket the helpers hold)") or diag $next->{err};
	like($next->{out}, qr/\Acalled\n\z/, "round $round: by the script");
	ok(time - $t0 < 20, "round $round: within 20 s");
	my $new = wait_for(sub { server_pid_of($script) }, 10);
	ok($new && $new != $server, "round $round: by a new server");
	ok(stop_helpers($out), "round $round: the helpers are stopped");
	ok(kill_servers($env), "round $round: the server stops");
}

ok(kill_servers($env), 'no process left behind');
done_testing;
