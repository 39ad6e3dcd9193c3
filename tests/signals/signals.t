# Signals and job control reach the script as in a standalone run
# (issue 13, docs/protocol.md "signals"). Every case runs in a real
# pseudo-terminal under an interactive bash with job control, once
# with the script run standalone (`perl SCRIPT`) and once through the
# client, and the two must agree: the lines the script printed, the
# status the shell saw, and the job-control facts the case checks.
# Each case is repeated (PFI_SIGNALS_ROUNDS, default 3): the relaying
# is concurrent with the script, so one lucky run proves little.
# PFI_LANG=perl or python: the scripts are written in that language, and
# the standalone run is `perl SCRIPT` or `python3 SCRIPT`
# (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib", $FindBin::Bin;
use PFIHarness;
use Test::More;
use Time::HiRes qw(sleep time);

BEGIN {
	eval { require IO::Pty; 1 }
		or plan skip_all => 'IO::Pty missing (Debian: libio-pty-perl)';
}
use PtyShell;

my $rounds = $ENV{PFI_SIGNALS_ROUNDS} // 3;
my $env = new_env();
my $dir = $env->{dir};
my $hooks = $ENV{PFI_CLIENT_TESTHOOKS};

# One script for the signal cases: MODE says what it does with which
# signal (set up in the per-call code), READY is a file it creates once
# that is done, so that the shell sends the signal only then; SECS
# (default 60) is how long it then waits for a signal.
write_script($env, 'sig.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use warnings;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
$| = 1;
my ($mode, $ready, $secs) = @ARGV;
if ($mode =~ /\Acatch:(\w+)\z/) {
	my $sig = $1;
	$SIG{$sig} = sub { print "out: caught $sig\n"; exit 3 };
} elsif ($mode eq 'ignore-term') {
	$SIG{TERM} = 'IGNORE';
	$SIG{USR1} = sub { print "out: USR1 after an ignored TERM\n"; exit 5 };
} elsif ($mode eq 'winch') {
	$SIG{WINCH} = sub {
		my $ws = "\0" x 8;
		ioctl(STDOUT, 0x5413, $ws) or die "TIOCGWINSZ: $!";  # TIOCGWINSZ
		my ($rows, $cols) = unpack 'S2', $ws;
		print "out: window now ${rows}x$cols\n";
		exit 6;
	};
}
print "pgrp: ", getpgrp(), "\n";
print "out: ready\n";
if ($ready) { open my $f, '>', $ready or die "$ready: $!"; close $f }
sleep 1 for 1 .. ($secs // 60);
print "out: no signal came\n";
exit 9;
EOS
import os, signal, sys, time
import prefork_interp
prefork_interp.initialisation_complete()
mode = sys.argv[1] if len(sys.argv) > 1 else ""
ready = sys.argv[2] if len(sys.argv) > 2 else None
secs = int(sys.argv[3]) if len(sys.argv) > 3 else 60
def out(text):
    print("out: " + text, flush=True)
if mode.startswith("catch:"):
    name = mode[6:]
    def caught(signum, frame):
        out(f"caught {name}")
        sys.exit(3)
    # NUMnn: signal nn, as perl's %SIG names a real-time signal
    signal.signal(int(name[3:]) if name.startswith("NUM")
                  else getattr(signal, "SIG" + name), caught)
elif mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    def usr1(signum, frame):
        out("USR1 after an ignored TERM")
        sys.exit(5)
    signal.signal(signal.SIGUSR1, usr1)
elif mode == "winch":
    import fcntl, struct, termios
    def winch(signum, frame):
        ws = fcntl.ioctl(1, termios.TIOCGWINSZ, bytes(8))
        rows, cols = struct.unpack("HH", ws[:4])
        out(f"window now {rows}x{cols}")
        sys.exit(6)
    signal.signal(signal.SIGWINCH, winch)
print(f"pgrp: {os.getpgrp()}", flush=True)
out("ready")
if ready:
    open(ready, "w").close()
for _ in range(secs):
    time.sleep(1)
out("no signal came")
sys.exit(9)
EOS

# Reads lines from the terminal until 'quit': the terminal must keep
# working after the call was stopped and resumed.
write_script($env, 'echo.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use warnings;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
$| = 1;
print "pid: $$\n";
while (my $line = <STDIN>) {
	chomp $line;
	print "out: read '$line'\n";
	last if $line eq 'quit';
}
exit 7;
EOS
import os, sys
import prefork_interp
prefork_interp.initialisation_complete()
print(f"pid: {os.getpid()}", flush=True)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    line = line.rstrip("\n")
    print(f"out: read '{line}'", flush=True)
    if line == "quit":
        break
sys.exit(7)
EOS

# Prints numbered ticks: it must stop when stopped and go on after bg.
write_script($env, 'tick.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use warnings;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
$| = 1;
print "pid: $$\n";
for my $i (1 .. 6000) {
	print "tick $i\n";
	select undef, undef, undef, 0.05;
}
exit 8;
EOS
import os, sys, time
import prefork_interp
prefork_interp.initialisation_complete()
print(f"pid: {os.getpid()}", flush=True)
for i in range(1, 6001):
    print(f"tick {i}", flush=True)
    time.sleep(0.05)
sys.exit(8)
EOS

# Catches TERM from its initialisation on (a server's handler): a TERM
# that reaches the client while it still sends the request must reach
# that handler once the call runs.
write_script($env, 'term-init.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use warnings;
use Proc::Prefork::Interp;
$SIG{TERM} = sub { print "out: caught TERM\n"; exit 3 };
prefork_initialisation_complete();
$| = 1;
if (@ARGV) { open my $f, '>', $ARGV[0] or die "$ARGV[0]: $!"; close $f }
sleep 1 for 1 .. 60;
print "out: no signal came\n";
exit 9;
EOS
import signal, sys, time
import prefork_interp
def term(signum, frame):
    print("out: caught TERM", flush=True)
    sys.exit(3)
signal.signal(signal.SIGTERM, term)
prefork_interp.initialisation_complete()
if len(sys.argv) > 1:
    open(sys.argv[1], "w").close()
for _ in range(60):
    time.sleep(1)
print("out: no signal came", flush=True)
sys.exit(9)
EOS

# Says its initialisation began, then waits for the file 'go' (at most
# 60 s) before it completes; each call prints its argument.
write_script($env, 'slowinit.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use warnings;
use Proc::Prefork::Interp;
$| = 1;
print "out: init\n";
for (1 .. 3000) { last if -e 'go'; select undef, undef, undef, 0.02 }
prefork_initialisation_complete();
print "out: call @ARGV\n";
exit 4;
EOS
import os, sys, time
import prefork_interp
print("out: init", flush=True)
for _ in range(3000):
    if os.path.exists("go"):
        break
    time.sleep(0.02)
prefork_interp.initialisation_complete()
print("out: call " + " ".join(sys.argv[1:]), flush=True)
sys.exit(4)
EOS

# --fallback=refuse: a call the client could not hand to a server would
# otherwise run the script directly, a standalone run compared with a
# standalone run. Background jobs here read /dev/null, not the terminal: one
# that may read its terminal runs directly (the case "a background job
# reading the terminal" below).
my $sh = PtyShell->new(dir => $dir, env => { PATH => $ENV{PATH},
					     PREFORK_INTERP_FALLBACK => 'refuse' });
# Warm the servers, so that what the cases see is a warm call.
$sh->run('./echo.pl </dev/null >/dev/null');
$sh->run("./$_ </dev/null >/dev/null & p=\$!; sleep 1; kill -TERM \$p; wait \$p")
	for qw(sig.pl tick.pl term-init.pl);

# The shell waits for the script's ready file while the job runs, and at
# most 10 s: a script that never starts (a broken client) fails its case
# instead of hanging.
my $WAIT_RDY = 'n=0; while [ ! -e rdy ] && kill -0 $p 2>/dev/null && [ $n -lt 500 ]; '
	. 'do sleep 0.02; n=$((n+1)); done;';

sub use_mode {
	my ($mode) = @_;
	$sh->run($mode eq 'client' ? "c=./" : "c='" . interpreter() . " '");
	return;
}

# What a case's transcript says: the script's "out:" lines, in order.
sub out_lines {
	my ($text) = @_;
	($text //= '') =~ s/\^[CZ]//g;   # the terminal's echo of Ctrl-C, Ctrl-Z
	return join '', grep { /^out: / } split /^/, $text;
}

sub cmd { my ($script, @args) = @_; return join ' ', "\${c}$script", @args }

sub proc_state {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return 'gone';
	my $stat = <$fh> // return 'gone';
	my ($state) = $stat =~ /\) (\S) / or return '?';
	return $state;
}

sub wait_state {
	my ($pid, $re, $secs) = @_;
	my $until = time + ($secs // 10);
	while (time < $until) {
		return 1 if proc_state($pid) =~ $re;
		sleep 0.02;
	}
	return proc_state($pid) =~ $re;
}

# Sends $sig from the shell once the script is ready (background job).
sub kill_when_ready {
	my ($mode, $sig, $script_mode) = @_;
	use_mode($mode);
	my ($text, $st) = $sh->run("rm -f rdy; " . cmd('sig.pl', $script_mode, 'rdy')
		. " </dev/null & p=\$!; $WAIT_RDY "
		. "kill -$sig \$p; wait \$p");
	return { out => out_lines($text), status => $st };
}

# Sends $sig once the script is ready to a job that inherited it
# ignored: a background job of a non-interactive shell (INT, QUIT) or a
# job started by nohup (HUP). A script that handles it must see it (a
# handler overrides an inherited SIG_IGN); one that does not must run
# on to its end, 2 s later.
sub kill_ignored_when_ready {
	my ($mode, $sig, $script_mode) = @_;
	use_mode($mode);
	my $run = "sig.pl $script_mode rdy 2";
	my ($text, $st) = $sig eq 'HUP'
		? $sh->run("rm -f rdy nohup.txt; nohup \${c}$run >nohup.txt 2>&1 "
			   . "& p=\$!; $WAIT_RDY kill -HUP \$p; wait \$p; s=\$?; "
			   . "cat nohup.txt; (exit \$s)")
		: $sh->run("rm -f rdy; bash -c '\${0}$run & p=\$!; $WAIT_RDY "
			   . "kill -$sig \$p; wait \$p' \"\$c\"");
	return { out => out_lines($text), status => $st };
}

# Ctrl-Z while the script reads the terminal, then fg: the shell says
# the job stopped, the script was stopped, and reads on after fg.
sub ctrl_z_fg {
	my ($mode) = @_;
	use_mode($mode);
	my %facts;
	$sh->type(cmd('echo.pl') . "\n");
	my (undef, $pid) = $sh->expect(qr/^pid: (\d+)\n/m);
	$sh->type("one\n");
	my $text = $sh->expect(qr/^out: read 'one'\n/m) // '';
	$sh->type("\x1a");
	$facts{shell_says_stopped} = defined $sh->expect(qr/^\[\d+\]\+\s+Stopped\s/m) ? 1 : 0;
	$sh->expect(qr/PFI\$ /);
	$facts{script_stopped} = $pid && wait_state($pid, qr/^T/) ? 1 : 0;
	$sh->type("fg\n");
	$sh->type("two\n");
	$text .= $sh->expect(qr/^out: read 'two'\n/m) // '';
	$sh->type("quit\n");
	$text .= $sh->expect(qr/PFI\$ /) // '';
	return { %facts, out => out_lines($text), status => $sh->last_status };
}

# Each case returns a hash of what it observed; the client's must equal
# the standalone run's. $check (optional) says what both must show.
my @cases = (
	['TERM from timeout, caught' => sub {
		my ($mode) = @_;
		use_mode($mode);
		my ($text, $st) = $sh->run('timeout --preserve-status 3 '
					   . cmd('sig.pl', 'catch:TERM'));
		return { out => out_lines($text), status => $st };
	}, { status => 3, out => "out: ready\nout: caught TERM\n" }],
	['TERM from timeout, default action' => sub {
		my ($mode) = @_;
		use_mode($mode);
		my ($text, $st) = $sh->run('timeout --preserve-status 3 '
					   . cmd('sig.pl', 'default'));
		return { out => out_lines($text), status => $st };
	}, { status => 143, out => "out: ready\n" }],
	['HUP, caught' => sub { kill_when_ready($_[0], 'HUP', 'catch:HUP') },
		{ status => 3, out => "out: ready\nout: caught HUP\n" }],
	['HUP, default action' => sub { kill_when_ready($_[0], 'HUP', 'default') },
		{ status => 129, out => "out: ready\n" }],
	['USR1 to a handler' => sub { kill_when_ready($_[0], 'USR1', 'catch:USR1') },
		{ status => 3, out => "out: ready\nout: caught USR1\n" }],
	['USR2, QUIT, ALRM to handlers' => sub {
		my ($mode) = @_;
		return { map { $_ => kill_when_ready($mode, $_, "catch:$_") }
			 qw(USR2 QUIT ALRM) };
	}, { USR2 => { status => 3, out => "out: ready\nout: caught USR2\n" },
	     QUIT => { status => 3, out => "out: ready\nout: caught QUIT\n" },
	     ALRM => { status => 3, out => "out: ready\nout: caught ALRM\n" } }],
	# Every signal a standalone script can be sent reaches the call, not
	# only the usual ones: the client must relay these too (it died of
	# them, and the call got SIGINT instead). 35 is a real-time signal
	# (SIGRTMIN+1), which perl's %SIG calls NUM35.
	['PWR, VTALRM, URG, a real-time signal, ABRT, SEGV, PIPE to handlers' => sub {
		my ($mode) = @_;
		return { map { my ($sig, $name) = @$_;
			       ($name => kill_when_ready($mode, $sig, "catch:$name")) }
			 [PWR => 'PWR'], [VTALRM => 'VTALRM'], [URG => 'URG'],
			 [35 => 'NUM35'], [ABRT => 'ABRT'], [SEGV => 'SEGV'],
			 [PIPE => 'PIPE'] };
	}, { map { ($_ => { status => 3, out => "out: ready\nout: caught $_\n" }) }
	     qw(PWR VTALRM URG NUM35 ABRT SEGV PIPE) }],
	['INT from kill' => sub { kill_when_ready($_[0], 'INT', 'default') },
		{ status => 130, out => "out: ready\n" }],
	['INT ignored by the caller (background job of sh -c), caught' => sub {
		kill_ignored_when_ready($_[0], 'INT', 'catch:INT')
	}, { status => 3, out => "out: ready\nout: caught INT\n" }],
	['INT ignored by the caller, not handled: still ignored' => sub {
		kill_ignored_when_ready($_[0], 'INT', 'default')
	}, { status => 9, out => "out: ready\nout: no signal came\n" }],
	['HUP ignored by the caller (nohup), caught' => sub {
		kill_ignored_when_ready($_[0], 'HUP', 'catch:HUP')
	}, { status => 3, out => "out: ready\nout: caught HUP\n" }],
	['HUP ignored by the caller (nohup), not handled: still ignored' => sub {
		kill_ignored_when_ready($_[0], 'HUP', 'default')
	}, { status => 9, out => "out: ready\nout: no signal came\n" }],
	['INT from the terminal (Ctrl-C)' => sub {
		my ($mode) = @_;
		my %r;
		for my $how ('default', 'catch:INT') {
			use_mode($mode);
			$sh->type(cmd('sig.pl', $how) . "\n");
			my $text = $sh->expect(qr/^out: ready\n/m);
			$sh->type("\x03");
			$text .= $sh->expect(qr/PFI\$ /) // '';
			$r{$how} = { out => out_lines($text), status => $sh->last_status };
		}
		return \%r;
	}, { default => { status => 130, out => "out: ready\n" },
	     'catch:INT' => { status => 3, out => "out: ready\nout: caught INT\n" } }],
	['WINCH after a resize' => sub {
		my ($mode) = @_;
		use_mode($mode);
		$sh->resize(24, 80);
		$sh->type(cmd('sig.pl', 'winch') . "\n");
		my $text = $sh->expect(qr/^out: ready\n/m);
		$sh->resize(33, 111);
		$text .= $sh->expect(qr/PFI\$ /) // '';
		$sh->resize(24, 80);
		return { out => out_lines($text), status => $sh->last_status };
	}, { status => 6, out => "out: ready\nout: window now 33x111\n" }],
	['a script that ignores TERM' => sub {
		my ($mode) = @_;
		use_mode($mode);
		my ($text, $st) = $sh->run("rm -f rdy; " . cmd('sig.pl', 'ignore-term', 'rdy')
			. " </dev/null & p=\$!; $WAIT_RDY "
			. "kill -TERM \$p; sleep 0.3; kill -0 \$p && echo 'out: alive after TERM'; "
			. "kill -USR1 \$p; wait \$p");
		return { out => out_lines($text), status => $st };
	}, { status => 5, out => "out: ready\nout: alive after TERM\nout: USR1 after an ignored TERM\n" }],
	['Ctrl-Z, then fg: stopped, and the terminal still works' => sub {
		return ctrl_z_fg(@_);
	}, { status => 7, shell_says_stopped => 1, script_stopped => 1,
	     out => "out: read 'one'\nout: read 'two'\nout: read 'quit'\n" }],
	# An ignored SIGCONT still resumes a stopped process: the client, and
	# the call it must resume in turn (it hung stopped before).
	['Ctrl-Z, then fg, the caller ignoring SIGCONT' => sub {
		$sh->run("trap '' CONT");
		my $facts = ctrl_z_fg(@_);
		$sh->run("trap - CONT");
		return $facts;
	}, { status => 7, shell_says_stopped => 1, script_stopped => 1,
	     out => "out: read 'one'\nout: read 'two'\nout: read 'quit'\n" }],
	# A job started in the background that reads the terminal stops
	# with SIGTTIN (bash: "Stopped (tty input)") and reads on after fg;
	# the call must neither read the line typed for the shell meanwhile
	# nor go on. The executor has no controlling terminal, so the client
	# runs the script directly then (fallback quiet: a refused call
	# would not be a standalone run).
	['a background job reading the terminal: SIGTTIN, then fg' => sub {
		my ($mode) = @_;
		use_mode($mode);
		my %facts;
		$sh->type("PREFORK_INTERP_FALLBACK=quiet " . cmd('echo.pl') . " &\n");
		# (after the prompt, on its line: no ^)
		my (undef, $pid) = $sh->expect(qr/pid: (\d+)\n/);
		unless ($pid) {
			$sh->run('kill -KILL %1; wait', 10);
			return { error => 'no pid' };
		}
		$facts{script_stopped} = wait_state($pid, qr/^T/) ? 1 : 0;
		my ($jobs) = $sh->run('jobs -l', 5);
		$facts{shell_says_tty_input} = ($jobs // '') =~ /Stopped \(tty input\)/ ? 1 : 0;
		my $text = '';
		if ($facts{shell_says_tty_input}) {
			$sh->type("fg\n");
			$sh->type("one\n");
			$text .= $sh->expect(qr/^out: read 'one'\n/m) // '';
			$sh->type("quit\n");
			$text .= $sh->expect(qr/PFI\$ /) // '';
			$facts{status} = $sh->last_status;
		} else {
			$text = $jobs // '';
			# (the call read the shell's line: end it, so the
			# shell is usable for the cases that follow)
			kill 'KILL', $pid;
			$sh->run('wait', 10);
		}
		return { %facts, out => out_lines($text) };
	}, { status => 7, script_stopped => 1, shell_says_tty_input => 1,
	     out => "out: read 'one'\nout: read 'quit'\n" }],
	# Under `stty tostop` a background job writing its terminal stops
	# with SIGTTOU (bash: "Stopped (tty output)"); the call runs
	# directly for the same reason (its stdin is not the terminal here).
	['a background job writing the terminal under tostop: SIGTTOU' => sub {
		my ($mode) = @_;
		use_mode($mode);
		my %facts;
		$sh->run('stty tostop');
		my ($text) = $sh->run("PREFORK_INTERP_FALLBACK=quiet " . cmd('tick.pl')
			. " </dev/null & echo \"bgpid: \$!\"", 10);
		my ($pid) = ($text // '') =~ /^bgpid: (\d+)$/m;
		if ($pid) {
			$facts{script_stopped} = wait_state($pid, qr/^T/) ? 1 : 0;
			my ($jobs) = $sh->run('jobs -l', 5);
			$facts{shell_says_tty_output} = ($jobs // '') =~ /Stopped \(tty output\)/ ? 1 : 0;
			kill 'KILL', $pid;
		} else {
			$facts{error} = "no pid in: " . ($text // '');
		}
		$sh->run('stty -tostop; wait', 10);
		return \%facts;
	}, { script_stopped => 1, shell_says_tty_output => 1 }],
	# Ctrl-Z while the first run is still initialising (it is the one
	# starting the server), then the script again: a standalone run goes
	# on, and so must the call, directly (it must not wait for the
	# stopped job's server); fg then finishes the first run.
	['Ctrl-Z during the first run\'s initialisation, then the script again' => sub {
		my ($mode) = @_;
		$sh->run("rm -f go; " . client_path() . " --kill ./slowinit.pl >/dev/null 2>&1");
		use_mode($mode);
		my %facts;
		$sh->type(cmd('slowinit.pl', 'first') . "\n");
		my $text = $sh->expect(qr/^out: init\n/m) // '';
		$sh->type("\x1a");
		$facts{shell_says_stopped} = defined $sh->expect(qr/^\[\d+\]\+\s+Stopped\s/m) ? 1 : 0;
		$sh->expect(qr/PFI\$ /);
		my ($second, $st) = $sh->run("touch go; PREFORK_INTERP_FALLBACK=warn "
					     . cmd('slowinit.pl', 'second'), 20);
		@facts{qw(second_out second_status)} = (out_lines($second), $st);
		$sh->type("fg\n");
		$text = $sh->expect(qr/^out: call first\n/m) // '';
		$sh->expect(qr/PFI\$ /);
		@facts{qw(first_out first_status)} = (out_lines($text), $sh->last_status);
		return \%facts;
	}, { shell_says_stopped => 1, second_out => "out: init\nout: call second\n",
	     second_status => 4, first_out => "out: call first\n", first_status => 4 }],
	['Ctrl-Z, then bg, then fg and Ctrl-C' => sub {
		my ($mode) = @_;
		use_mode($mode);
		my %facts;
		$sh->type(cmd('tick.pl') . "\n");
		my (undef, $pid) = $sh->expect(qr/^pid: (\d+)\n/m);
		$sh->expect(qr/^tick 2\n/m);
		$sh->type("\x1a");
		$facts{shell_says_stopped} = defined $sh->expect(qr/^\[\d+\]\+\s+Stopped\s/m) ? 1 : 0;
		$sh->expect(qr/PFI\$ /);
		$facts{script_stopped} = $pid && wait_state($pid, qr/^T/) ? 1 : 0;
		$sh->type("bg\n");
		my ($t, $n) = $sh->expect(qr/^tick (\d+)\n/m);
		my (undef, $m) = $sh->expect(qr/^tick (\d+)\n/m);
		$facts{ticks_after_bg} = defined $m && $m > $n ? 1 : 0;
		$facts{running_after_bg} = proc_state($pid) =~ /^[RS]/ ? 1 : 0;
		$sh->type("fg\n");
		$sh->expect(qr/^tick \d+\n/m);
		$sh->type("\x03");
		$sh->expect(qr/PFI\$ /);
		return { %facts, status => $sh->last_status };
	}, { status => 130, shell_says_stopped => 1, script_stopped => 1,
	     ticks_after_bg => 1, running_after_bg => 1 }],
	['SIGKILL of the client ends the call within a second' => sub {
		my ($mode) = @_;
		use_mode($mode);
		my ($text) = $sh->run("rm -f rdy; " . cmd('sig.pl', 'default', 'rdy')
			. " </dev/null & p=\$!; $WAIT_RDY echo \"cpid: \$p\"");
		my ($pg) = ($text // '') =~ /^pgrp: (\d+)$/m;
		my ($cpid) = ($text // '') =~ /^cpid: (\d+)$/m;
		return { error => "no pids in: $text" } unless $pg && $cpid;
		kill 'KILL', $cpid;
		# Ended, not left running: a bound far above the server's
		# grace before SIGKILL, not a speed limit.
		my $t0 = time;
		sleep 0.01 while group_alive($pg) && time - $t0 < 10;
		my $gone = group_alive($pg) ? 0 : 1;
		my (undef, $st) = $sh->run("wait $cpid");
		return { group_gone => $gone, status => $st };
	}, { group_gone => 1, status => 137 }],
);

# PFI_SIGNALS_ONLY=REGEX runs only the cases whose names match.
my $only = $ENV{PFI_SIGNALS_ONLY};
for my $round (1 .. $rounds) {
	for my $case (@cases) {
		my ($name, $run, $want) = @$case;
		next if defined $only && $name !~ /$only/;
		my $standalone = $run->('standalone');
		my $client = $run->('client');
		is_deeply($standalone, $want, "round $round: $name: standalone run as expected")
			or diag explain $standalone;
		is_deeply($client, $standalone, "round $round: $name: client same as standalone")
			or diag explain $client;
	}
}

# A signal that arrives while the client still sends the request: the
# test-hooks client sends itself SIGTERM between the stdio fds and the
# request body. The script's TERM handler (from its initialisation) must
# run once the call runs, as for a TERM a standalone run gets once it is
# set up.
SKIP: {
	skip 'PFI_CLIENT_TESTHOOKS not set (run via meson test)', 2 * $rounds unless $hooks;
	skip 'not among PFI_SIGNALS_ONLY', 2 * $rounds
		if defined $only && 'TERM while the request is still being sent' !~ /$only/;
	for my $round (1 .. $rounds) {
		use_mode('standalone');
		my ($text, $st) = $sh->run("rm -f rdy; " . cmd('term-init.pl', 'rdy')
			. " </dev/null & p=\$!; $WAIT_RDY "
			. "kill -TERM \$p; wait \$p");
		my $standalone = { out => out_lines($text), status => $st };
		($text, $st) = $sh->run("PFI_TEST_HOOK=send-request:kill-self-term "
					. "$hooks -U " . interpreter() . " ./term-init.pl");
		my $client = { out => out_lines($text), status => $st };
		like($text // '', qr/reached send-request:kill-self-term/,
		     "round $round: mid-request: the hook sent the signal");
		is_deeply($client, $standalone, "round $round: TERM while the request "
			  . "is still being sent: client same as standalone")
			or diag explain [$client, $standalone];
	}
}

$sh->close;
note $sh->log_text if $ENV{PFI_SIGNALS_LOG};
done_testing();
