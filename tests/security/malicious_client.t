# A malicious or broken client against the real server (SECURITY.md,
# "Bounded decoding" on the server side): garbage after the greeting,
# missing fds, a length field larger than the data, oversized and
# malformed requests, and the connection dropped at every step.  The
# server must log protocol errors, run nothing, keep serving others, and
# end up with exactly the processes and fds it had before.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use IO::FDPass ();
use Test::More;
use Time::HiRes qw(sleep time);

need_root();

my $env = new_env();
my $client = client_path();
my $run = $env->{run};
my $log = "$env->{dir}/log";
my ($script, $marker) = victim($env, 'logger => \\&logger, request_timeout => 3, '
				 . 'max_servers => 2, prefork_spares => 1');
my @cmd = ($client, '-U', '-g', 'sec', interpreter(), $script);
my $sock = "$run/ssec";

my $r = run_call([@cmd, 'first'], dir => $env->{dir});
is($r->{status}, 0, 'the server runs') or diag $r->{err};
my $server = server_pid_of($script);
ok($server, 'found the server');
sleep 0.5;
my $kids0 = descendants($server);
my $fds0 = fd_count($server);
unlink $marker;

sub req { my $b = join '', map { "$_\0" } @_; return pack('N', length $b) . $b }
my $GOOD = req('A=1', '', 'perl', $script, 'evil');

sub still_serves {
	my ($label) = @_;
	my $x = run_call([@cmd, 'good'], dir => $env->{dir});
	ok($x->{status} == 0 && $x->{out} eq "ran good\n", "$label: a good call is still served")
		or diag "status $x->{status} out '$x->{out}' err '$x->{err}'";
}

# The fd passed for each ['fd'] step: /dev/null, so that whatever a
# call that did start writes (a Python executor's KeyboardInterrupt
# traceback when the dropped call is interrupted) stays out of the
# test's TAP output.
open(my $null, '+<', '/dev/null') or die "/dev/null: $!";

# Sends @steps (strings, or ['fd'] for one fd with its byte), then either
# closes or waits for the server to close.  Returns what came back after
# the greeting.
sub abuse {
	my ($label, $steps, %o) = @_;
	my $s = connect_path($sock) or die "connect: $!";
	my $greeting = $o{skip_greeting} ? '' : read_n($s, length OUR_GREETING, 5);
	is($greeting, OUR_GREETING, "$label: got the greeting") unless $o{skip_greeting};
	for my $step (@$steps) {
		if (ref $step) {
			IO::FDPass::send(fileno $s, fileno $null) or last;
		} else {
			send_all($s, $step) or last;
		}
	}
	sleep $o{hold} if $o{hold};
	my $back = '';
	if ($o{wait}) {
		my $t0 = time;
		$back = read_n($s, 4, $o{wait});
		ok(time - $t0 < $o{wait}, "$label: the server closed the connection itself");
	}
	close $s;
	return $back;
}

# Only what the log gained since $from counts: several cases log the
# same line, and an earlier case's line must not pass a later one.
sub logged {
	my ($label, $re, $from) = @_;
	ok(wait_for(sub { substr(slurp_file($log), $from) =~ $re }, 5), "$label: logged")
		or diag 'log since the case began: ' . substr(slurp_file($log), $from);
}

# A well-formed caller-state block (docs/protocol.md), with one edit.
sub state_block {
	my (%e) = @_;
	my @e = ('umask=' . ($e{umask} // '0022'), 'nice=0',
		 (map { "rlimit.$_=inf:inf" } qw(cpu fsize data stack core rss nproc
		   nofile memlock as locks sigpending msgqueue nice rtprio rttime)),
		 'sigign=0000000000000000', 'sigblock=0000000000000000');
	@e = grep { !/^\Q$e{drop}\E=/ } @e if $e{drop};
	push @e, $e{extra} if $e{extra};
	my $body = join '', map { "$_\0" } @e;
	return pack('N', length $body) . $body;
}
my $good_req = req('A=1', '', 'perl', $script, 'x');

# Garbage and malformed requests: logged, nothing runs, no status.
my @cases = (
	['garbage after the greeting', ["\x80garbage" x 100], qr/initial byte is 0x80/],
	['caller-state bit, then garbage', ["\x01garbage" x 100], qr/fd 0 carried no file descriptor|receiving fd 0: /],
	['bytes where fds belong', ["\0", "\0\0\0\0", "junk"], qr/fd 0 carried no file descriptor|receiving fd 0: /],
	['only one fd', ["\0", ['fd'], "\0\0\0\x05", "junk"], qr/fd 1 carried no file descriptor|receiving fd 1: /],
	['request length over the cap', ["\0", ['fd'], ['fd'], ['fd'], pack('N', 0x7fffffff)], qr/request length 2147483647 exceeds/],
	['request without a final NUL', ["\0", ['fd'], ['fd'], ['fd'], pack('N', 3), "A=1"], qr/does not end with NUL/],
	['request without end of environment', ["\0", ['fd'], ['fd'], ['fd'], req('A=1', 'B=2')], qr/no end of environment/],
	['environment entry without =', ["\0", ['fd'], ['fd'], ['fd'], req('A', '', 'perl', $script)], qr/without "="/],
	['request without script', ["\0", ['fd'], ['fd'], ['fd'], req('A=1', '', 'perl')], qr/1 argument strings/],
	['length field larger than the data, held open', ["\0", ['fd'], ['fd'], ['fd'], pack('N', 1000), "A=1\0"],
	 qr/request not complete after 3 s/],
	['no request at all, held open', [], qr/request not complete after 3 s/],
	# A fault is refused when its bytes arrive, not when the rest of the
	# request would have: the log names it, not the deadline.
	['entry without "=", the rest held open', ["\0", ['fd'], ['fd'], ['fd'], pack('N', 1000), "NOEQUALS\0"],
	 qr/protocol error: environment entry without "="/],
	['length over the cap, the rest held open', ["\0", ['fd'], ['fd'], ['fd'], pack('N', 0x7fffffff), "A=1\0"],
	 qr/protocol error: request length 2147483647 exceeds/],
	# caller-state (step-2 bit 0x01): a block after a good request
	['caller-state over 8192 bytes', ["\x01", ['fd'], ['fd'], ['fd'], $good_req, pack('N', 9000)],
	 qr/caller-state length 9000 exceeds 8192/],
	['caller-state with an unknown key', ["\x01", ['fd'], ['fd'], ['fd'], $good_req,
	  state_block(extra => "evil=1")], qr/caller-state key 'evil' unknown/],
	['caller-state with a key missing', ["\x01", ['fd'], ['fd'], ['fd'], $good_req,
	  state_block(drop => 'rlimit.nofile')], qr/caller-state key 'rlimit.nofile' missing/],
	['caller-state with a bad value', ["\x01", ['fd'], ['fd'], ['fd'], $good_req,
	  state_block(umask => '9999')], qr/caller-state umask has a bad value '9999'/],
	['caller-state cut short, held open', ["\x01", ['fd'], ['fd'], ['fd'], $good_req,
	  pack('N', 100), "umask=0022\0"], qr/request not complete after 3 s/],
);
for my $case (@cases) {
	my ($label, $steps, $re) = @$case;
	my $from = length slurp_file($log);
	my $back = abuse($label, $steps, wait => 8);
	is($back, '', "$label: no status sent back");
	logged($label, $re, $from);
	# the requests above name 'x' or 'evil' (the good ones 'good')
	unlike(slurp_file($marker), qr/^ran (?:x|evil)$/m, "$label: the script did not run");
	still_serves($label);
}

# The connection dropped at every step of the exchange: quietly ended.
my @full = ("\0", ['fd'], ['fd'], ['fd'], substr($GOOD, 0, 2), substr($GOOD, 2, 2),
	    substr($GOOD, 4, 10), substr($GOOD, 14));
my $drops_from = length slurp_file($log);
abuse('dropped before reading the greeting', [], skip_greeting => 1);
for my $n (0 .. $#full - 1) {
	abuse("dropped after step $n of the request", [ @full[0 .. $n] ]);
}
still_serves('after every drop');
# Quietly: a caller that goes away is no protocol error.
my $drop_log = substr(slurp_file($log), $drops_from);
unlike($drop_log, qr/protocol error|^err:/m, 'the dropped connections were not logged as errors')
	or diag $drop_log;
# A client that relays signals but never reads what comes back: STOP and
# CONT in turn fill its socket with stop and continue words, then KILL
# ends the call. The final status cannot be sent; the server must not
# wait for it (a blocking send stalled the whole server).
{
	my $s = connect_path($sock) or die "connect: $!";
	is(read_n($s, length OUR_GREETING, 5), OUR_GREETING, 'unread relay: got the greeting');
	send_all($s, "\x02");
	IO::FDPass::send(fileno $s, fileno $null) for 0 .. 2;
	send_all($s, req('A=1', '', 'perl', $script, 'sleep29'));
	ok(wait_for(sub { slurp_file($marker) =~ /ran sleep29/ }, 5), 'unread relay: the call runs');
	for (1 .. 600) {
		send_all($s, chr 19) or last;    # SIGSTOP
		sleep 0.002;
		send_all($s, chr 18) or last;    # SIGCONT
		sleep 0.002;
	}
	send_all($s, chr 9);                     # SIGKILL
	sleep 0.5;
	my $x = run_call(['timeout', '20', @cmd, 'good'], dir => $env->{dir});
	ok($x->{status} == 0 && $x->{out} eq "ran good\n",
	   'unread relay: the server still serves others') or diag "status $x->{status} err '$x->{err}'";
	close $s;
}

# A call whose code has not started (waiting for the one running slot)
# when its client hangs up: nothing of the script may run for it, not the
# SIGINT handler of its initialisation, nor its END blocks (atexit).
{
	my $pmark = "$env->{dir}/pending-marker";
	my $pending = write_script($env, 'pending.pl', { perl => <<"EOS", python => <<"EOS" });
use strict;
use Proc::Prefork::Interp;
our \$ran;
sub mark { open my \$m, '>>', '$pmark' or return; print \$m "\@_\\n"; close \$m }
\$SIG{INT} = sub { mark("INT handler in \$\$"); exit 3 };
END { mark("END without a call in \$\$") unless \$ran }
prefork_initialisation_complete(max_servers => 1);
\$ran = 1;
mark("call \@ARGV");
sleep \$1 if (\$ARGV[0] // '') =~ /^sleep(\\d+)\$/;
EOS
import atexit, os, signal, sys, time
import prefork_interp
ran = False
def mark(s):
    with open('$pmark', 'a') as m:
        m.write(s + "\\n")
def on_int(signum, frame):
    mark(f"INT handler in {os.getpid()}")
    sys.exit(3)
signal.signal(signal.SIGINT, on_int)
atexit.register(lambda: ran or mark(f"END without a call in {os.getpid()}"))
prefork_interp.initialisation_complete(max_servers=1)
ran = True
mark("call " + " ".join(sys.argv[1:]))
if len(sys.argv) > 1 and sys.argv[1].startswith("sleep"):
    time.sleep(int(sys.argv[1][5:]))
EOS
	# a -g name: a socket path short enough to connect to by name
	my @pcmd = ($client, '-U', '-g', 'pend', interpreter(), $pending);
	my $x = run_call([@pcmd, 'first'], dir => $env->{dir});
	is($x->{status}, 0, 'pending call: the server starts') or diag $x->{err};
	my $busy = start_call([@pcmd, 'sleep2'], dir => $env->{dir});
	ok(wait_for(sub { slurp_file($pmark) =~ /^call sleep2$/m }, 5), 'pending call: the only slot is taken');
	my $s = connect_path("$run/spend") or die "connect $run/spend: $!";
	is(read_n($s, length OUR_GREETING, 5), OUR_GREETING, 'pending call: got the greeting');
	send_all($s, "\0");
	IO::FDPass::send(fileno $s, fileno $null) for 0 .. 2;
	send_all($s, req('A=1', '', 'perl', $pending, 'queued'));
	sleep 0.5;                 # the request is in; the call waits for the slot
	close $s;                  # and its client goes
	my $b = wait_call($busy);
	is($b->{status}, 0, 'pending call: the running call was not disturbed') or diag $b->{err};
	sleep 0.3;
	my $log_text = slurp_file($pmark);
	unlike($log_text, qr/INT handler|END without a call|call queued/,
	       'pending call whose client left: nothing of the script ran for it')
		or diag $log_text;
	is(run_call([@pcmd, 'after'], dir => $env->{dir})->{status}, 0, 'pending call: the server still serves');

	# A client that drops out mid-request while the running slot is
	# free: the go-ahead travels with the hand-off, so the server counts
	# the call as holding the slot, but nothing of the script has run
	# for it, and nothing may: not its INT handler, not its END blocks.
	# Each client waits for the server to close the call (it has reaped
	# the executor) before the next connects, so every one finds the
	# slot free. A race, so repeated.
	wait_for(sub { slurp_file($pmark) =~ /^call after$/m }, 5);
	unlink $pmark;
	my ($greeted, $closed) = (0, 0);
	for my $i (1 .. 40) {
		my $c = connect_path("$run/spend") or die "connect $run/spend: $!";
		$greeted++ if read_n($c, length OUR_GREETING, 5) eq OUR_GREETING;
		send_all($c, "\0");
		IO::FDPass::send(fileno $c, fileno $null) for 0 .. 2;
		send_all($c, pack('N', 100) . "A=1\0");    # 4 of 100 request bytes
		shutdown($c, 1);
		$closed++ if read_n($c, 4, 10) eq '';       # no status: EOF
		close $c;
	}
	is("$greeted $closed", '40 40', 'dropped mid-request: 40 calls greeted, each closed without a status');
	sleep 0.3;
	$log_text = slurp_file($pmark);
	unlike($log_text, qr/INT handler|END without a call|call /,
	       'dropped mid-request with a free slot: nothing of the script ran for it')
		or diag $log_text;
	is(run_call([@pcmd, 'later'], dir => $env->{dir})->{status}, 0, 'mid-request drops: the server still serves');
	run_call([$client, '--kill', '-g', 'pend'], dir => $env->{dir});
}

# A complete request whose client then vanishes: the call is stopped.
abuse('dropped while the call runs', ["\0", ['fd'], ['fd'], ['fd'], req("A=1", "", "perl", $script, "sleep30")], hold => 1);
ok(wait_for(sub { slurp_file($marker) =~ /ran sleep30/ }, 3), 'the complete request did run');
still_serves('after a client vanished mid-call');

unlike(slurp_file($marker), qr/evil/, 'no incomplete or malformed request ran');
ok(wait_for(sub { descendants($server) == $kids0 }, 10),
   "no process leaked (back to $kids0 descendants)")
	or diag 'descendants: ' . join ' ', map { my $c = slurp_file("/proc/$_/cmdline"); $c =~ tr/\0/ /; "$_ $c" } descendants($server);
ok(wait_for(sub { fd_count($server) == $fds0 }, 10), "no fd leaked (back to $fds0)")
	or diag 'fds: ' . join ' ', map { "$_->" . (readlink($_) // '?') } glob "/proc/$server/fd/*";
is(server_pid_of($script), $server, 'the same server served throughout');
ok(kill_servers($env), 'no process left behind');
done_testing;
