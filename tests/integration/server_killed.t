# A server killed outright during a call (SIGKILL, the OOM killer) can
# report no exit status: the call's process was its child. The client
# says so in one line (not a protocol fault) and exits 127; the call
# itself runs to its end, and the next call starts a new server.
# Repeated. PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';
my $dir = $env->{dir};
# argv: "slow N" says "started", waits for the file go-N, writes done-N
# and exits 5; no argument exits 3 at once.
my $script = write_script($env, 'slow.pl', { perl => <<"EOS", python => <<"EOS" });
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
exit 3 unless (\$ARGV[0] // '') eq 'slow';
\$| = 1;
print "started\\n";
select undef, undef, undef, 0.02 until -e "$dir/go-\$ARGV[1]";
open my \$fh, '>', "$dir/done-\$ARGV[1]" or die;
close \$fh;
exit 5;
EOS
import os, sys, time
import prefork_interp
prefork_interp.initialisation_complete()
if sys.argv[1:2] != ["slow"]:
    sys.exit(3)
print("started", flush=True)
while not os.path.exists(f"$dir/go-{sys.argv[2]}"):
    time.sleep(0.02)
open(f"$dir/done-{sys.argv[2]}", "w").close()
sys.exit(5)
EOS

for my $round (1 .. 3) {
	my $warm = run_call([$script]);
	is($warm->{status} >> 8, 3, "round $round: a call starts the server") or diag $warm->{err};
	my $server = wait_for(sub { server_pid_of($script) }, 10);
	ok($server, "round $round: found the server") or last;
	my $call = start_call([$script, 'slow', $round], dir => $dir);
	ok(wait_for(sub { slurp_file($call->{files}{out}) =~ /started/ }, 10),
	   "round $round: the slow call runs");
	kill 'KILL', $server;
	my $r = wait_call($call);
	is($r->{status} >> 8, 127, "round $round: its client exits 127");
	is($r->{err}, "prefork-interp: the server ended before reporting the call's exit "
	   . "status (killed? its messages may say); the call may still be running\n",
	   "round $round: saying so in one line");
	ok(!-e "$dir/done-$round", "round $round: (the call had not ended)");
	open my $go, '>', "$dir/go-$round" or die;
	close $go;
	ok(wait_for(sub { -e "$dir/done-$round" }, 10), "round $round: the call runs to its end");
	my $next = run_call([$script]);
	is($next->{status} >> 8, 3, "round $round: the next call is served") or diag $next->{err};
	my $new = wait_for(sub { server_pid_of($script) }, 10);
	ok($new && $new != $server, "round $round: by a new server");
	ok(kill_servers($env), "round $round: no process left behind");
}
done_testing;
