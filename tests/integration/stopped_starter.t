# A caller that is starting the server and is stopped (Ctrl-Z, SIGSTOP)
# during the script's initialisation must not hold up the other callers:
# their standalone runs would go on. A caller that finds the server
# still being started waits for it while its starter runs, and runs the
# script directly (one line on stderr, as any unserved call; an error
# under --fallback=refuse) once it has seen the starter stopped. Both
# places a caller can wait are covered: for the server's greeting (the
# socket is bound before the initialisation runs) and for the lock
# (a caller that found no socket). Repeated: the stop is concurrent with
# the wait.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Fcntl qw(:flock O_RDWR O_CREAT O_EXCL);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

my $env = new_env();
my $dir = $env->{dir};
my $go = "$dir/go";
my $started = "$dir/started";
# The initialisation says it has begun, then waits for $go (at most
# 60 s); each call prints its pid and arguments.
my $script = write_script($env, 'slowinit.pl', <<"EOS");
use strict;
use Proc::Prefork::Interp;
{ open my \$f, '>', '$started' or die; }
for (1 .. 3000) { last if -e '$go'; select undef, undef, undef, 0.02 }
prefork_initialisation_complete();
print "pid=\$\$ argv=\@ARGV\\n";
exit 4;
EOS

sub field { my ($out, $k) = @_; return ($out =~ /^$k=(\S*)/m)[0] }
sub ours { my ($r) = @_; return grep { /^prefork-interp: / } split /\n/, $r->{err} }

# Runs the script and waits at most $secs for it: a call that waits
# for ever fails the test instead of hanging it.
sub call_within {
	my ($secs, @args) = @_;
	my %opts = ref $args[-1] eq 'HASH' ? %{ pop @args } : ();
	return run_within($secs, [$script, @args], %opts);
}

sub run_within {
	my ($secs, $cmd, %opts) = @_;
	my $p = start_call($cmd, dir => $dir, %opts);
	my $done = wait_for(sub { waitpid($p->{pid}, POSIX::WNOHANG()) == $p->{pid} }, $secs);
	my $status = $?;
	if (!$done) {
		kill 'KILL', $p->{pid};
		waitpid $p->{pid}, 0;
	}
	my %r = (status => $done ? $status : undef, pid => $p->{pid},
		 out => slurp_file($p->{files}{out}),
		 err => slurp_file($p->{files}{err}));
	unlink values %{ $p->{files} };
	return \%r;
}

# Starts the first call, in its own process group as a shell job would
# be, and waits until its initialisation has begun.
sub start_starter {
	unlink $go, $started;
	my $out = "$dir/starter.out";
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		setpgrp(0, 0);
		open STDOUT, '>', $out or POSIX::_exit(120);
		open STDERR, '>', "$dir/starter.err" or POSIX::_exit(120);
		exec $script, 'first' or POSIX::_exit(121);
	}
	wait_for(sub { -e $started }, 10) or die "the initialisation did not start\n";
	return $pid;
}

sub state_of {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return 'gone';
	my ($state) = (<$fh> // '') =~ /\) (\S) / or return '?';
	return $state;
}

sub finish_starter {
	my ($pid) = @_;
	open my $f, '>', $go or die;
	close $f;
	kill 'CONT', -$pid;
	waitpid $pid, 0;
	return { status => $?, out => slurp_file("$dir/starter.out"),
		 err => slurp_file("$dir/starter.err") };
}

# 1. Waiting for the greeting of a server whose starter is stopped.
for my $round (1 .. 5) {
	kill_servers($env);
	my $starter = start_starter();
	kill 'STOP', -$starter;
	wait_for(sub { state_of($starter) eq 'T' }, 10) or die "starter not stopped\n";
	open my $f, '>', $go or die;   # the direct run's own initialisation
	close $f;

	my $r = call_within(20, 'second');
	is(describe_status($r->{status} // 0), 'exit 4', "round $round: a call while the starter is stopped ends as a standalone run")
		or diag "status " . ($r->{status} // 'none: still waiting after 20 s') . ", stderr: $r->{err}";
	is(field($r->{out}, 'pid'), $r->{pid}, "round $round: ran directly, in the caller's process");
	my @lines = ours($r);
	is(scalar(@lines), 1, "round $round: one line from prefork-interp") or diag $r->{err};
	like($lines[0] // '', qr/running '\Q$script\E' without a server \(not accelerated\): the server is being started by process $starter \(holding '[^']+\/l[^']+'\), which is stopped; not waiting for it/,
	     "round $round: the line names the stopped starter");

	$r = call_within(20, 'third', { env => { PREFORK_INTERP_FALLBACK => 'refuse' } });
	is(describe_status($r->{status} // 0), 'exit 127', "round $round: --fallback=refuse: exit 127");
	is($r->{out}, '', "round $round: refuse: the script did not run");
	is(scalar(ours($r)), 1, "round $round: refuse: one line") or diag $r->{err};

	# --kill cannot take the lock either: it says why instead of
	# waiting, and leaves the socket being started.
	my @socks = PFIHarness::socket_files($env);
	$r = run_within(20, [client_path(), '--kill', $script]);
	is(describe_status($r->{status} // 0), 'exit 127', "round $round: --kill: exit 127")
		or diag "status " . ($r->{status} // 'none: still waiting after 20 s');
	like($r->{err}, qr/\Aprefork-interp: the server is being started by process $starter \(holding '[^']+'\), which is stopped; not waiting for it\n\z/,
	     "round $round: --kill: one line naming the stopped starter");
	is(join(' ', PFIHarness::socket_files($env)), join(' ', @socks), "round $round: --kill: the socket is left");

	# The starter, continued, finishes its call and leaves its server,
	# which serves the next call.
	my $s = finish_starter($starter);
	is($s->{status} >> 8, 4, "round $round: the starter's own call completes after SIGCONT") or diag $s->{err};
	is($s->{err}, '', "round $round: the starter said nothing on stderr");
	my $server = server_pid_of($script);
	ok($server, "round $round: its server runs");
	$r = call_within(20, 'fourth');
	is(describe_status($r->{status} // 0), 'exit 4', "round $round: a later call is served");
	isnt(field($r->{out}, 'pid'), $r->{pid}, "round $round: not directly");
	is($r->{err}, '', "round $round: and silently");
	is(server_pid_of($script), $server, "round $round: by the starter's server");
	$r = run_within(20, [client_path(), '--kill', $script]);
	is(describe_status($r->{status} // 0), 'exit 0', "round $round: --kill then stops it");
	ok(wait_for(sub { !server_pid_of($script) }, 10), "round $round: the server quits");
}

# 2. A starter that runs (a slow initialisation): callers wait for it
# and are served, however long it takes.
for my $round (1 .. 3) {
	kill_servers($env);
	my $starter = start_starter();
	my $p = start_call([$script, 'waiter'], dir => $dir);
	sleep 0.6;    # several looks at the starter
	is(waitpid($p->{pid}, POSIX::WNOHANG()), 0, "round $round: a call waits for a running starter");
	my $s = finish_starter($starter);
	is($s->{status} >> 8, 4, "round $round: the starter's call completes");
	my $r = wait_call($p);
	is($r->{status} >> 8, 4, "round $round: the waiting call completes");
	isnt(field($r->{out}, 'pid'), $p->{pid}, "round $round: served by the new server");
	is($r->{err}, '', "round $round: nothing on stderr");
}

# 3. Waiting for the lock: no socket yet, its lock held by a process
# that is stopped, then by one that runs and lets go. Run on the test's
# run directory, and again on btrfs (4.), where stat() gives a device
# per subvolume and /proc/locks the filesystem's.
sub lock_rounds {
	my ($where) = @_;
	kill_servers($env);
	my $first = call_within(20, 'x');
	($first->{status} // 0) >> 8 == 4 or die "cannot start a server: $first->{err}";
	my ($sock) = PFIHarness::socket_files($env);
	my $lock = "$env->{run}/l" . substr($sock, 1);
	kill_servers($env);
	unlink $lock;

	for my $round (1 .. 3) {
		my $at = "$where, lock round $round";
		my $holder = hold_lock($lock);
		kill 'STOP', $holder;
		wait_for(sub { state_of($holder) eq 'T' }, 10) or die;
		my $r = call_within(20, 'locked');
		is(describe_status($r->{status} // 0), 'exit 4', "$at: a call while the lock's holder is stopped still runs")
			or diag "status " . ($r->{status} // 'none') . ", stderr: $r->{err}";
		is(field($r->{out}, 'pid'), $r->{pid}, "$at: directly");
		like(join("\n", ours($r)), qr/\Aprefork-interp: running .*started by process $holder \(holding '\Q$lock\E'\), which is stopped; not waiting for it; --fallback=quiet silences this line\z/,
		     "$at: one line naming the holder");
		is(join(' ', PFIHarness::socket_files($env)), '', "$at: no server started");

		# Continued, the holder keeps the lock 0.5 s more, then lets go.
		kill 'CONT', $holder;
		my $p = start_call([$script, 'after'], dir => $dir);
		sleep 0.5;
		is(waitpid($p->{pid}, POSIX::WNOHANG()), 0, "$at: a call waits while the holder runs");
		kill 'KILL', $holder;
		waitpid $holder, 0;
		$r = wait_call($p);
		is($r->{status} >> 8, 4, "$at: a call waiting for a running holder completes");
		isnt(field($r->{out}, 'pid'), $p->{pid}, "$at: it started the server once the lock was free");
		is($r->{err}, '', "$at: nothing on stderr");
		kill_servers($env);
		unlink $lock;
	}
	return;
}

sub hold_lock {
	my ($lock) = @_;
	pipe my $rd, my $wr or die;
	my $pid = fork // die;
	if (!$pid) {
		close $rd;
		sysopen my $fh, $lock, O_RDWR | O_CREAT, 0600 or POSIX::_exit(1);
		flock $fh, LOCK_EX or POSIX::_exit(1);
		syswrite $wr, "x";
		sleep 60;
		POSIX::_exit(0);
	}
	close $wr;
	sysread $rd, my $c, 1 or die "the holder did not lock\n";
	return $pid;
}

lock_rounds('run directory');

# 4. The same on btrfs, as root (a loop-mounted file system).
my $mnt = "$dir/btrfs";
my $mounted = 0;
END {
	if ($mounted) {
		system('umount', $mnt) == 0 or system('umount', '-l', $mnt);
		unlink "$dir/btrfs.img";
	}
}
SKIP: {
	my $why = $> != 0 ? 'not root: cannot mount a btrfs file system'
		: !have_program('mkfs.btrfs') ? 'mkfs.btrfs missing (Debian: btrfs-progs)'
		: '';
	if (!$why) {
		mkdir $mnt, 0700 or die;
		my $img = "$dir/btrfs.img";
		system("truncate -s 200M '$img' && mkfs.btrfs -q '$img' >/dev/null 2>&1"
		       . " && mount -o loop '$img' '$mnt' 2>/dev/null") == 0
			or $why = 'cannot make or loop-mount a btrfs file system here';
		$mounted = !$why;
	}
	skip $why, 1 if $why;
	chmod 0700, $mnt;
	my $run = run_subdir($mnt, $>);
	mkdir $run, 0700 or die "$run: $!";
	local $ENV{PREFORK_INTERP_RUN_DIR} = $mnt;
	local $env->{run} = $run;
	lock_rounds('btrfs');
	# and the greeting wait there, once
	kill_servers($env);
	my $starter = start_starter();
	kill 'STOP', -$starter;
	wait_for(sub { state_of($starter) eq 'T' }, 10) or die "starter not stopped\n";
	open my $f, '>', $go or die;
	close $f;
	my $r = call_within(20, 'second');
	is(describe_status($r->{status} // 0), 'exit 4', 'btrfs: a call while the starter is stopped still runs');
	like(join("\n", ours($r)), qr/started by process $starter .*which is stopped/, 'btrfs: naming the starter');
	is(finish_starter($starter)->{status} >> 8, 4, 'btrfs: the starter completes');
	ok(kill_servers($env), 'btrfs: no server left');
}

ok(kill_servers($env), 'no server left');
done_testing();
