# A server sent SIGTERM, SIGINT or SIGHUP (kill PID, systemd stopping
# a unit, a shutdown) quits as --kill makes it quit: it accepts no more
# calls, the calls it runs finish and their callers get their exit
# statuses, and it exits; the next call starts a fresh server. The
# script's own handlers for those signals (installed in its
# initialisation) are its calls', and never run in the server.
# Repeated: a signal can come at any point of the server's loop.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;
use Time::HiRes qw(sleep time);

my $env = new_env();
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';
my $dir = $env->{dir};
# argv: "slow" waits for the file go (after saying "started" and its
# pid) and exits 7; anything else names its server (its parent) and
# exits 3 at once. The handlers leave a mark, naming
# the process they ran in.
my $script = write_script($env, 'sig.pl', { perl => <<"EOS", python => <<"EOS" });
use strict;
use Proc::Prefork::Interp;
for my \$sig (qw(TERM INT HUP)) {
	\$SIG{\$sig} = sub {
		if (open my \$fh, '>>', "$dir/handler-\$\$") { print \$fh "\$sig\\n" }
		exit 9;
	};
}
prefork_initialisation_complete();
\$| = 1;
if ((\$ARGV[0] // '') eq 'slow') {
	print "started \$\$\\n";
	select undef, undef, undef, 0.02 until -e "$dir/go";
	print "done\\n";
	exit 7;
}
print "server ", getppid(), "\\n";
exit 3;
EOS
import os, signal, sys, time
import prefork_interp
def handler(signum, frame):
    with open(f"$dir/handler-{os.getpid()}", "a") as f:
        f.write(signal.Signals(signum).name[3:] + "\\n")
    sys.exit(9)
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, handler)
prefork_interp.initialisation_complete()
if sys.argv[1:2] == ["slow"]:
    print(f"started {os.getpid()}", flush=True)
    while not os.path.exists("$dir/go"):
        time.sleep(0.02)
    print("done", flush=True)
    sys.exit(7)
print(f"server {os.getppid()}")
sys.exit(3)
EOS

# Alive and not a zombie (kill 0 counts zombies an init has not reaped).
sub alive {
	my ($pid) = @_;
	my ($state) = slurp_file("/proc/$pid/stat") =~ /\) (\S)/;
	return defined $state && $state ne 'Z';
}

# Whether a socket of the run directory is listening (/proc/net/unix
# shows the name the client bound it by, which ends in the file's).
sub listening {
	my @names = socket_files($env) or return 0;
	my $re = join '|', map { quotemeta } @names;
	open my $fh, '<', '/proc/net/unix' or die "/proc/net/unix: $!";
	while (<$fh>) {
		my @f = split;
		return 1 if @f >= 8 && $f[3] eq '00010000' && $f[7] =~ m{/(?:$re)\z};
	}
	return 0;
}

sub marks { return map { s{.*/}{}r } glob "$dir/handler-*" }

sub started_server {
	my $r = run_call([$script], dir => $dir);
	is($r->{status} >> 8, 3, 'a call starts a server') or diag $r->{err};
	return wait_for(sub { server_pid_of($script) }, 10);
}

for my $sig (qw(TERM INT HUP)) {
	for my $round (1 .. 4) {
		my $label = "SIG$sig, round $round";
		unlink "$dir/go";
		my $server = started_server();
		ok($server, "$label: the server runs") or next;
		my $call = start_call([$script, 'slow'], dir => $dir);
		ok(wait_for(sub { slurp_file($call->{files}{out}) =~ /started/ }, 20),
		   "$label: the call is under way");
		ok(listening(), "$label: the server listens");
		kill $sig, $server;
		# It accepts no more calls at once: the next one is served by a
		# fresh server, while this one waits for the call it runs.
		ok(wait_for(sub { !listening() }, 20), "$label: it stops listening");
		my $next = run_call([$script], dir => $dir);
		is($next->{status} >> 8, 3, "$label: the next call runs meanwhile")
			or diag $next->{err};
		my ($served_by) = $next->{out} =~ /^server (\d+)$/m;
		ok($served_by && $served_by != $server, "$label: by a fresh server");
		ok(alive($server), "$label: the signalled server waits for its call");
		open my $go, '>', "$dir/go" or die;
		close $go;
		my $r = wait_call($call);
		is(describe_status($r->{status}), 'exit 7',
		   "$label: the call under way reported its own status")
			or diag $r->{err};
		like($r->{out}, qr/\Astarted \d+\ndone\n\z/, "$label: and its whole output");
		is($r->{err}, '', "$label: and nothing on stderr");
		ok(wait_for(sub { !alive($server) }, 20), "$label: then the server exits");
		is(join(',', marks()), '', "$label: the script's handler ran nowhere");
		kill_servers($env);
	}
}

# A signal as soon as the server is up, with no call: it quits at once,
# whichever point of its loop the signal meets (not at the next event).
for my $round (1 .. 20) {
	my $server = started_server() or next;
	kill 'TERM', $server;
	ok(wait_for(sub { !alive($server) }, 10),
	   "idle server, round $round: SIGTERM ends it") or kill_servers($env);
}
is(join(',', marks()), '', "idle servers: the script's handler ran nowhere");

# A spare the signal reaches dies of it, without running the script's
# handler; the server goes on and serves the next call.
{
	my $server = started_server();
	my @spares;
	wait_for(sub { @spares = grep { $_ != $server } descendants($server); @spares }, 10);
	ok(@spares, 'the server has a spare') or diag 'no spare';
	kill 'TERM', @spares;
	ok(wait_for(sub { !grep { alive($_) } @spares }, 10), 'the spare died of it');
	my $r = run_call([$script], dir => $dir);
	is($r->{status} >> 8, 3, 'the next call is served');
	like($r->{out}, qr/^server $server$/m, 'by the same server');
	is(join(',', marks()), '', "a spare: the script's handler ran nowhere");
}

# In a call, the handlers are the script's, as standalone.
{
	unlink "$dir/go";
	my $call = start_call([$script, 'slow'], dir => $dir);
	ok(wait_for(sub { slurp_file($call->{files}{out}) =~ /started/ }, 20),
	   'a call is under way');
	my ($pid) = slurp_file($call->{files}{out}) =~ /started (\d+)/;
	kill 'TERM', $pid if $pid;
	my $r = wait_call($call);
	is(describe_status($r->{status}), 'exit 9', "the call ran the script's SIGTERM handler");
	is(join(',', marks()), "handler-$pid", 'in the call only') if $pid;
	unlink glob "$dir/handler-*";
}

kill_servers($env);
done_testing;
