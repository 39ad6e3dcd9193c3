# The helpers of the meson suites (integration, security, sandbox,
# interop), in one place:
#   - environment: the built client and module, private run and temp
#     directories (new_env), scripts naming the client (write_script);
#   - calls through the real client (run_call, start_call, wait_call)
#     and what a standalone run gives;
#   - processes: by command line, descendants, fds, the server's pid;
#   - waiting, always "what, then timeout in seconds": wait_for(COND,
#     SECS), wait_processes_gone(NEEDLE, SECS);
#   - the raw client (connect_path, read_n, send_all, send_fds), which is
#     perl/t/lib/PFITest.pm's, so that there is one;
#   - the fake server (fake_server, with canned behaviours from
#     fake_reply; start_fake/stop_fake name one in a run directory);
#   - acting as a second uid, the policy file, strace logs;
#   - the script language (PFI_LANG=perl or python): the suites that
#     share a shape run once per language; write_script, victim,
#     logging_script_header, standalone_status, interpreter and
#     server_pid_of follow it.
# Every test file gets its own run and temp directory, and a way to
# prove nothing is left behind.
package PFIHarness;

use strict;
use warnings;
use Exporter 'import';
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use IO::FDPass ();
use POSIX qw(:sys_wait_h _exit);
use Socket qw(AF_UNIX SOCK_STREAM SOL_SOCKET SO_PEERCRED SOMAXCONN
	      pack_sockaddr_un);
use Test::More;
use Time::HiRes qw(sleep time);
use lib dirname(abs_path(__FILE__)) . '/../../perl/t/lib';
use PFITest ();

our @EXPORT = qw(client_path perl_lib new_env write_script run_call
		 start_call wait_call standalone_status describe_status
		 processes_matching wait_processes_gone socket_files kill_servers
		 server_pid_of fd_count descendants proc_status
		 wait_for slurp_file
		 connect_path read_n send_all send_fds
		 fake_server fake_reply fake_wait start_fake stop_fake
		 need_root OTHER_UID as_other_uid client_as_other one_prefork_line
		 logging_script_header victim
		 hooks_client policy_file policy_gen policy_syscalls sandbox_off
		 have_program nobody_dir nobody_run_dir nosuid_mount have_strace strace_calls
		 group_alive run_subdir OUR_GREETING
		 script_lang interpreter python_lib);

# The raw client: the module's own tests' (perl/t/lib/PFITest.pm).
*connect_path = \&PFITest::connect_path;
*read_n       = \&PFITest::read_n;
*send_all     = \&PFITest::send_all;
*send_fds     = \&PFITest::send_fds;

#---------------------------------------------------------------- environment

sub need { $ENV{$_[0]} // die "$_[0] not set (run via meson test)\n" }
sub client_path  { need('PFI_CLIENT') }
sub perl_lib     { need('PFI_PERL_LIB') }
sub hooks_client { need('PFI_CLIENT_TESTHOOKS') }
sub policy_file  { need('PFI_POLICY_FILE') }
sub policy_gen   { need('PFI_POLICY_GEN') }
sub python_lib   { need('PFI_PYTHON_LIB') }

#---------------------------------------------------------------- script language

# The language the test scripts are written in: perl (the default) or
# python, from PFI_LANG; meson registers each shared suite once per
# language (tests/meson.build).
sub script_lang {
	my $lang = $ENV{PFI_LANG} // 'perl';
	$lang =~ /\A(?:perl|python)\z/
		or die "PFI_LANG is '$lang': it must be perl or python\n";
	return $lang;
}

# The interpreter a script of that language names in its #! line and
# runs under standalone: perl, or the Python the module was installed
# for (meson's, PFI_PYTHON).
sub interpreter {
	return script_lang() eq 'python' ? ($ENV{PFI_PYTHON} // 'python3') : 'perl';
}

# The body for the current language: a string (a Perl-only body) or a
# hash { perl => ..., python => ... }.
sub body_for_lang {
	my ($body) = @_;
	return $body if script_lang() eq 'perl' && !ref $body;
	ref $body eq 'HASH' && defined $body->{script_lang()}
		or die "this test has no " . script_lang() . " script body\n";
	return $body->{script_lang()};
}

#---------------------------------------------------------------- run directories and calls

# A directory is a safe place for a run directory if, with symlinks
# resolved, every component is owned by root or us and not writable by
# group or other unless it is sticky (as /tmp): the client's own rule
# (src/safepath.h), which refuses anything else, as it should.
sub path_is_safe {
	my ($path) = @_;
	$path = abs_path($path) // return 0;
	my $walk = '';
	for my $c ('', grep { length } split m{/}, $path) {
		$walk .= "/$c";
		$walk =~ s{^//}{/};
		my @st = lstat $walk or return 0;
		return 0 if -l _;
		return 0 unless $st[4] == 0 || $st[4] == $>;
		return 0 if $st[2] & 022 && !($st[2] & 01000);
	}
	return 1;
}

# Makes (or reuses) a private directory of ours, mode 0700: a
# candidate base when nothing else is safe, for example a clone in a
# directory others can write to.
sub private_dir {
	my ($path) = @_;
	mkdir $path, 0700;
	my @st = lstat $path or return undef;
	return undef if -l _ || !-d _ || $st[4] != $> || ($st[2] & 077);
	return $path;
}

# Chooses a base for private run and temp directories that the client
# will accept: the build tree if it is safe, else one it makes itself
# in the system's temp directory (/tmp: sticky, so safe to pass).
sub safe_base {
	my $tmp = File::Spec->tmpdir;
	# The private directory last, and made only when nothing else will do.
	my @candidates = ($ENV{PFI_TEST_BASE} // (), $ENV{MESON_BUILD_ROOT} // (),
			  "/run/user/$>", sub { private_dir("$tmp/pfi-test-$>") });
	for my $c (@candidates) {
		$c = $c->() if ref $c;
		next unless defined $c && -d $c && path_is_safe($c);
		my $base = abs_path($c) . "/pfi-test";
		make_path($base, { mode => 0700 });
		chmod 0700, $base;
		return $base if path_is_safe($base);
	}
	die "no safe directory for test run directories (tried @candidates)\n";
}

# A fresh environment for one test file: run dir, temp dir, and %ENV
# set so that the client and perl find what they need.
sub new_env {
	my $base = safe_base();
	my $dir = tempdir("t-XXXXXX", DIR => $base, CLEANUP => 0);
	chmod 0700, $dir;
	# The override names a directory; the client keeps its files in
	# its own subdirectory of it (made here so tests can look in).
	my $run_dir = "$dir/run";
	my $run = run_subdir($run_dir, $>);
	mkdir $run_dir, 0700 or die "mkdir $run_dir: $!";
	mkdir $run, 0700 or die "mkdir $run: $!";
	$ENV{PREFORK_INTERP_RUN_DIR} = $run_dir;
	$ENV{PERL5LIB} = perl_lib();
	if (script_lang() eq 'python') {
		$ENV{PYTHONPATH} = python_lib();
		# The scripts' bytecode must not land in the source tree.
		$ENV{PYTHONDONTWRITEBYTECODE} = 1;
	}
	my $env = { dir => $dir, run => $run, run_dir => $run_dir };
	return bless $env, 'PFIHarness::Env';
}

# Where the client keeps uid $uid's files given --run-dir $dir.
# The greeting our module sends to our client: one place to change
# when an extension is added (docs/protocol.md).
use constant OUR_XDATA => 'full-argv caller-state signals extra-fds';
use constant OUR_GREETING => "PFI\n" . pack('N', length OUR_XDATA) . OUR_XDATA;

sub run_subdir {
	my ($dir, $uid) = @_;
	return "$dir/prefork-interp-$uid";
}

# Writes an executable script with a #! line naming the client.
# $opts{interp} is the combined-form argument (default "-U,perl", or
# "-U,PYTHON" under PFI_LANG=python); $body is a string (Perl only) or
# { perl => ..., python => ... }.
sub write_script {
	my ($env, $name, $body, %opts) = @_;
	my $path = "$env->{dir}/$name";
	my $interp = $opts{interp} // '-U,' . interpreter();
	$body = body_for_lang($body);
	open my $fh, '>', $path or die "$path: $!";
	print $fh "#!" . client_path() . " $interp\n$body";
	close $fh or die "$path: $!";
	chmod 0755, $path;
	return $path;
}

# Runs a command with optional stdin text; returns a hash of stdout,
# stderr and the raw wait status.
sub run_call {
	my ($cmd, %opts) = @_;
	my $p = start_call($cmd, %opts);
	return wait_call($p);
}

sub start_call {
	my ($cmd, %opts) = @_;
	my $tag = "$$." . int(rand(1e9));
	my $dir = $opts{dir} // File::Spec->tmpdir;
	my %f = map { $_ => "$dir/.$tag.$_" } qw(in out err);
	open my $in, '>', $f{in} or die $!;
	print $in $opts{stdin} // '';
	close $in;
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		open STDIN, '<', $f{in} or _exit(120);
		open STDOUT, '>', $f{out} or _exit(120);
		open STDERR, '>', $f{err} or _exit(120);
		$SIG{INT} = 'IGN' if $opts{ignore_int};
		%ENV = (%ENV, %{ $opts{env} // {} });
		delete $ENV{$_} for @{ $opts{unset} // [] };
		exec @$cmd or _exit(121);
	}
	return { pid => $pid, files => \%f };
}

sub wait_call {
	my ($p) = @_;
	waitpid($p->{pid}, 0);
	my %r = (status => $?, out => slurp_file($p->{files}{out}),
		 err => slurp_file($p->{files}{err}));
	unlink values %{ $p->{files} };
	return \%r;
}

# The wait status a standalone `perl SCRIPT ARGS` (or python) gives.
sub standalone_status {
	my ($script, @args) = @_;
	my $r = run_call([interpreter(), $script, @args], unset => ['PREFORK_INTERP']);
	return $r;
}

sub describe_status {
	my ($st) = @_;
	return "exit " . ($st >> 8) if WIFEXITED($st);
	return "signal " . WTERMSIG($st) if WIFSIGNALED($st);
	return sprintf "status 0x%x", $st;
}

# pids of processes whose command line contains $needle.
sub processes_matching {
	my ($needle) = @_;
	my @pids;
	opendir my $d, '/proc' or die $!;
	for my $pid (grep { /^\d+$/ } readdir $d) {
		next if $pid == $$;
		open my $fh, '<', "/proc/$pid/cmdline" or next;
		local $/;
		my $cmd = <$fh> // next;
		# zombies have an empty command line
		push @pids, $pid if index($cmd, $needle) >= 0;
	}
	return @pids;
}

# Waits up to $secs for every process matching $needle to disappear.
sub wait_processes_gone {
	my ($needle, $secs) = @_;
	return wait_for(sub { !processes_matching($needle) }, $secs);
}

# A process group is alive while a process in it is not yet a zombie.
# (kill 0 would count zombies, which an init that reaps slowly keeps
# around.)
sub group_alive {
	my ($pg) = @_;
	opendir my $d, '/proc' or die $!;
	for my $pid (grep { /^\d+$/ } readdir $d) {
		open my $fh, '<', "/proc/$pid/stat" or next;
		my $stat = <$fh> // next;
		my ($state, $pgrp) = $stat =~ /\) (\S) \d+ (\d+)/ or next;
		return 1 if $pgrp == $pg && $state ne 'Z';
	}
	return 0;
}

sub socket_files {
	my ($env) = @_;
	opendir my $d, $env->{run} or return ();
	return grep { /^s/ } readdir $d;
}

# Removes every server socket in the run directory, which makes each
# watcher tell its server to quit; then waits for them to go.
sub kill_servers {
	my ($env) = @_;
	unlink "$env->{run}/$_" for socket_files($env);
	return wait_processes_gone($env->{dir}, 10);
}

#---------------------------------------------------------------- waiting

# Polls $cond every 20 ms until it returns true or $secs pass; returns
# its last value.
sub wait_for {
	my ($cond, $secs) = @_;
	ref $cond eq 'CODE' or die "wait_for(CONDITION, SECONDS): not a code ref: $cond\n";
	my $end = time + $secs;
	for (;;) {
		my $got = $cond->();
		return $got if $got || time >= $end;
		sleep 0.02;
	}
}

sub slurp_file {
	my ($f) = @_;
	open my $fh, '<', $f or return '';
	local $/;
	return scalar(<$fh>) // '';
}

#---------------------------------------------------------------- processes

# The pid of the server for $script (its $0 names it; SO_PEERCRED of a
# connection would name whoever called listen(), the client that started
# it).
sub session_of {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return -1;
	my $stat = <$fh> // return -1;
	my ($sid) = $stat =~ /\) \S+ \d+ \d+ (\d+)/;
	return $sid // -1;
}

sub server_pid_of {
	my ($script) = @_;
	return python_server_pid_of($script) if script_lang() eq 'python';
	my @p = grep {
		open my $fh, "<", "/proc/$_/cmdline";
		local $/;
		my $c = $fh ? <$fh> : "";
		defined $c && $c =~ /\A\Q$script\E \[prefork server\]/
			# A child the server has just forked carries its name
			# for a moment; the server is the session leader.
			&& session_of($_) == $_;
	} processes_matching("$script [prefork server]");
	return @p == 1 ? $p[0] : undef;
}

# The Python module cannot change its command line (the standard library
# has no way): its server is the session leader named pfi-server
# (/proc/PID/comm) whose command line names the script.
sub python_server_pid_of {
	my ($script) = @_;
	my @p = grep {
		my $comm = slurp_file("/proc/$_/comm");
		$comm eq "pfi-server\n" && session_of($_) == $_;
	} processes_matching("$script\0");
	return @p == 1 ? $p[0] : undef;
}

sub fd_count {
	my ($pid) = @_;
	opendir my $d, "/proc/$pid/fd" or return undef;
	return scalar grep { /^\d+$/ } readdir $d;
}

# Every live descendant of $pid (zombies included: they are leaks too).
sub descendants {
	my ($root) = @_;
	my %kids;
	opendir my $d, '/proc' or die $!;
	for my $pid (grep { /^\d+$/ } readdir $d) {
		open my $fh, '<', "/proc/$pid/stat" or next;
		my $stat = <$fh> // next;
		my ($ppid) = $stat =~ /\) \S+ (\d+)/ or next;
		push @{ $kids{$ppid} }, $pid;
	}
	my @out;
	my @todo = ($root);
	while (@todo) {
		my $p = shift @todo;
		for my $k (@{ $kids{$p} // [] }) {
			push @out, $k;
			push @todo, $k;
		}
	}
	return @out;
}

# /proc/PID/status as a hash.
sub proc_status {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return;
	my %s;
	while (<$fh>) { $s{$1} = $2 if /^(\w+):\s*(.*?)\s*$/ }
	return \%s;
}

#---------------------------------------------------------------- a second uid

use constant OTHER_UID => 65534;

# The attacks need a second uid; only root can act as one.  Never pass
# silently: say why the whole file is skipped.
sub need_root {
	return if $> == 0;
	plan skip_all => "needs root to act as a second uid (uid " . OTHER_UID
		. "); run the suite as root, as CI does (running as uid $>)";
}

# Runs $code in a child whose real and effective uid and gid are
# OTHER_UID; returns the child's wait status.
sub as_other_uid {
	my ($code) = @_;
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		POSIX::setgroups() if POSIX->can('setgroups');
		$) = OTHER_UID . ' ' . OTHER_UID;
		POSIX::setgid(OTHER_UID) or _exit(90);
		POSIX::setuid(OTHER_UID) or _exit(91);
		_exit(92) if $< != OTHER_UID || $> != OTHER_UID;
		my $r = eval { $code->() };
		_exit(defined $r ? $r : 93);
	}
	waitpid $pid, 0;
	return $?;
}

# A command line that runs @cmd as OTHER_UID (setpriv, so exec is clean
# and AT_SECURE is not set).
sub client_as_other {
	my (@cmd) = @_;
	return ['setpriv', '--reuid=' . OTHER_UID, '--regid=' . OTHER_UID,
		'--clear-groups', @cmd];
}

# The lines of stderr that come from the client; the tests expect
# exactly one, naming the problem.
sub one_prefork_line {
	my ($r, $want, $label) = @_;
	my @ours = grep { /^prefork-interp: / } split /\n/, $r->{err};
	is(scalar(@ours), 1, "$label: exactly one line from prefork-interp")
		or diag "stderr: $r->{err}";
	like($ours[0] // '', $want, "$label: the message names the problem");
	return $ours[0];
}

# Perl that a test script puts before prefork_initialisation_complete:
# a logger writing each message to "log" beside the script, so that the
# tests can see what the server logged (there is no syslog in CI).
sub logging_script_header {
	return <<'EOS' if script_lang() eq 'python';
import os, sys
import prefork_interp
LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log")
def logger(prio, msg):
    with open(LOG, "a") as f:
        f.write(f"{prio}: {msg}\n")
EOS
	return <<'EOS';
use strict;
use warnings;
use Proc::Prefork::Interp;
use File::Basename qw(dirname);
my $LOG = dirname(__FILE__) . '/log';
sub logger {
	my ($prio, $msg) = @_;
	open my $fh, '>>', $LOG or return;
	print $fh "$prio: $msg\n";
	close $fh;
}
EOS
}

# Writes the attacked script: it appends "ran ARGS" to a marker file
# (so a test sees whether anything ran) and prints it.  $init is the
# option list for prefork_initialisation_complete; with a logger the
# server's log goes to "log" beside the script.  Returns the script path
# and the marker path.
sub victim {
	my ($env, $init) = @_;
	my $marker = "$env->{dir}/marker";
	return python_victim($env, $init, $marker) if script_lang() eq 'python';
	my $body = logging_script_header() . <<EOS;
prefork_initialisation_complete(${\($init // '')});
open my \$m, '>>', '$marker'; print \$m "ran \@ARGV\\n"; close \$m;
sleep \$1 if (\$ARGV[0] // '') =~ /^sleep(\\d+)\$/;
print "ran \@ARGV\\n";
EOS
	return (write_script($env, 'victim.pl', $body), $marker);
}

# The victim in Python.  $init is the Perl option list; its simple
# forms (name => number, logger => \&logger) are the Python keywords.
sub python_victim {
	my ($env, $init, $marker) = @_;
	my @opts;
	for my $item (split /\s*,\s*/, $init // '') {
		my ($k, $v) = $item =~ /\A\s*(\w+)\s*=>\s*(.*?)\s*\z/
			or die "python_victim: cannot translate option '$item'\n";
		$v = 'logger' if $v eq '\\&logger';
		$v =~ /\A(?:-?\d+(?:\.\d+)?|logger)\z/
			or die "python_victim: cannot translate option '$item'\n";
		push @opts, "$k=$v";
	}
	my $body = logging_script_header() . <<EOS;
prefork_interp.initialisation_complete(${\join ', ', @opts})
import re, time
with open("$marker", "a") as m:
    m.write("ran " + " ".join(sys.argv[1:]) + "\\n")
s = re.fullmatch(r"sleep(\\d+)", sys.argv[1] if len(sys.argv) > 1 else "")
if s:
    time.sleep(int(s[1]))
print("ran " + " ".join(sys.argv[1:]))
EOS
	return (write_script($env, 'victim.py', { python => $body }), $marker);
}

#---------------------------------------------------------------- fake server

# A fake server: binds $path (in a child process), accepts connections
# and runs $serve->($conn, $report_fh, $peer_pid) for each, writing
# whatever it wants the test to know to the report file.  %opt: uid =>
# run as that uid after bind (so SO_PEERCRED shows it), chown => uid to
# give the socket file to, max => connections to serve (default 1; 0:
# until killed), report => the report file (default "$path.report").
sub fake_server {
	my ($path, $serve, %opt) = @_;
	my $report = $opt{report} // "$path.report";
	unlink $report;
	pipe(my $ready_r, my $ready_w) or die $!;
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		close $ready_r;
		$SIG{PIPE} = 'IGNORE';
		socket(my $l, AF_UNIX, SOCK_STREAM, 0) or _exit(80);
		unlink $path;
		bind($l, pack_sockaddr_un($path)) or _exit(81);
		if (defined $opt{chown}) {
			chown $opt{chown}, $opt{chown}, $path or _exit(82);
		}
		open my $rep, ">", $report or _exit(86);
		$rep->autoflush(1);
		if (defined $opt{uid}) {
			# listen() records the credentials a client sees.
			$) = "$opt{uid} $opt{uid}";
			POSIX::setgid($opt{uid}) or _exit(83);
			POSIX::setuid($opt{uid}) or _exit(84);
		}
		listen($l, SOMAXCONN) or _exit(85);
		syswrite $ready_w, "r";
		close $ready_w;
		my $max = $opt{max} // 1;
		for (my $n = 0; !$max || $n < $max; $n++) {
			accept(my $c, $l) or _exit(87);
			my $cred = getsockopt($c, SOL_SOCKET, SO_PEERCRED);
			my $peer = $cred ? (unpack 'iII', $cred)[0] : 0;
			# A die must not return into the test script's code.
			eval { $serve->($c, $rep, $peer); 1 } or _exit(88);
			close $c;
		}
		close $rep;
		_exit(0);
	}
	close $ready_w;
	my $got = read_n($ready_r, 1, 10);
	die "fake server did not start (status $?)" unless $got eq 'r';
	return { pid => $pid, report => $report, path => $path };
}

# Waits for a fake server to end (killing it after $secs); returns its
# report and removes its socket and report file.
sub fake_wait {
	my ($f, $secs) = @_;
	my $end = time + ($secs // 10);
	while (time < $end) {
		last if waitpid($f->{pid}, POSIX::WNOHANG()) == $f->{pid};
		sleep 0.02;
	}
	if (kill 0, $f->{pid}) {
		kill 'KILL', $f->{pid};
		waitpid $f->{pid}, 0;
	}
	my $text = slurp_file($f->{report});
	unlink $f->{report}, $f->{path};
	return $text;
}

# Ends a fake server that serves until killed; keeps its socket file
# (a fresh server may have taken the name since).
sub stop_fake {
	my ($f) = @_;
	kill 'KILL', $f->{pid};
	waitpid $f->{pid}, 0;
	unlink $f->{report};
	return;
}

# A fake server listening as server IDENT in the env's run directory
# (reach it with `-g IDENT`), serving with fake_reply($mode, ...) until
# stopped (stop_fake).
sub start_fake {
	my ($env, $ident, $mode, %o) = @_;
	return fake_server("$env->{run}/s$ident", fake_reply($mode, %o), max => 0,
			   report => "$env->{dir}/fake-$ident.report");
}

# Canned behaviours for fake_server, each speaking just enough of the
# v1 wire protocol to drive the client down one path:
#   bad-greeting  a greeting with the wrong magic
#   status        greet (xdata => the extension data, default empty),
#                 read the request, report wait status => N
#   hold          greet, read the request, report nothing until the
#                 client hangs up (the client sits in its sandbox)
#   slow-xdata    send the greeting head, wait until the file go => PATH
#                 exists (and remove it), then send the xdata (default
#                 full-argv) and finish like "status"
#   hangup-mid    half a greeting head, then hang up
#   eof           hang up at once, as a server that quit to reload
sub fake_reply {
	my ($mode, %o) = @_;
	my $xdata = $o{xdata} // '';
	my $greet = sub { send_all($_[0], "PFI\n" . pack('N', length $xdata) . $xdata) };
	my $status = sub { send_all($_[0], pack('N', $o{status} // 0)) if _fake_read_request($_[0]) };
	my %reply = (
		'bad-greeting' => sub {
			send_all($_[0], "HTTP/1.0 200 OK\r\n\r\n");
			1 while sysread $_[0], my $junk, 4096;
		},
		'eof'          => sub { },
		'hangup-mid'   => sub { send_all($_[0], 'PF') },
		'status'       => sub { $greet->($_[0]); $status->($_[0]) },
		'hold'         => sub {
			$greet->($_[0]);
			_fake_read_request($_[0]);
			1 while sysread $_[0], my $junk, 4096;
		},
		'slow-xdata'   => sub {
			$xdata = 'full-argv' unless length $xdata;
			send_all($_[0], "PFI\n" . pack('N', length $xdata));
			my $go = $o{go} // die "fake_reply: slow-xdata needs go => FILE\n";
			sleep 0.01 until -e $go;
			unlink $go;
			send_all($_[0], $xdata);
			$status->($_[0]);
		},
	);
	return $reply{$mode} // die "fake_reply: unknown mode $mode\n";
}

# The go byte, three one-byte fd messages (reading them without a
# control buffer makes the kernel discard the fds), the request.
sub _fake_read_request {
	my ($c) = @_;
	length(read_n($c, 4, 3600)) == 4 or return 0;
	my $len = read_n($c, 4, 3600);
	length $len == 4 or return 0;
	$len = unpack 'N', $len;
	return length(read_n($c, $len, 3600)) == $len;
}

#---------------------------------------------------------------- sandbox

# The system call names the policy allows, in file order.
sub policy_syscalls {
	open my $fh, '<', policy_file() or die policy_file() . ": $!\n";
	my @names;
	while (<$fh>) {
		s/#.*//;
		push @names, $1 if /^\s*(\w+)/;
	}
	return @names;
}

# Why the sandbox tests cannot apply, if the client was built with
# -Dsandbox=false (a debugging build); else undef.
sub sandbox_off {
	my $client = PFIHarness::client_path();
	my $v = `'$client' --version`;
	return $v =~ /sandbox on/ ? undef
		: "the client was built with -Dsandbox=false ($v)";
}

# The mount options of the filesystem holding $path include nosuid.
sub nosuid_mount {
	my ($path) = @_;
	my ($best, $opts) = ('', '');
	open my $mi, '<', '/proc/self/mountinfo' or return 0;
	while (<$mi>) {
		my @f = split ' ';
		(my $mnt = $f[4]) =~ s/\\040/ /g;
		next unless $path eq $mnt || index($path, $mnt eq '/' ? '/' : "$mnt/") == 0;
		($best, $opts) = ($mnt, $f[5]) if length $mnt >= length $best;
	}
	return $opts =~ /(^|,)nosuid(,|$)/;
}

# A fresh root-owned 0755 directory (removed at exit) that uid 65534
# can reach.  safe => 1: every component of its path is owned by root
# and writable by no one else, so a run directory inside it passes the
# client's checks.  suid => 1: not on a nosuid mount.  Tries the build
# tree, then /run, then the temp directory.  Returns (dir) or
# (undef, why not).
sub nobody_dir {
	my (%want) = @_;
	my @why;
	for my $c ($ENV{PFI_TEST_BASE}, '/run', File::Spec->tmpdir) {
		next unless defined $c && -d $c;
		if ($want{safe} && !PFIHarness::path_is_safe($c)) {
			push @why, "$c: not a safe path"; next;
		}
		if ($want{suid} && nosuid_mount($c)) {
			push @why, "$c: mounted nosuid"; next;
		}
		my $d = eval { tempdir('pfi-sbx-XXXXXX', DIR => $c, CLEANUP => 1) }
			or do { push @why, "$c: cannot create a directory"; next };
		chmod 0755, $d;
		if (system('setpriv', '--reuid=65534', '--regid=65534',
			   '--clear-groups', 'test', '-x', $d) != 0) {
			push @why, "$c: closed to uid 65534"; next;
		}
		return $d;
	}
	return (undef, join '; ', @why);
}

# A run directory of uid 65534's own in $pub (from nobody_dir), mode
# 0700, for PREFORK_INTERP_RUN_DIR.
sub nobody_run_dir {
	my ($pub) = @_;
	my $run = "$pub/run";
	mkdir $run or die "mkdir $run: $!";
	chown OTHER_UID, OTHER_UID, $run or die "chown $run: $!";
	chmod 0700, $run or die "chmod $run: $!";
	return $run;
}

# Whether a program is on PATH.
sub have_program {
	my ($name) = @_;
	return grep { -x "$_/$name" } split /:/, $ENV{PATH} // '';
}

# Whether strace can trace here: present, and ptrace allowed.
sub have_strace {
	return (0, 'strace is not installed') unless have_program('strace');
	my $out = `strace -o /dev/null true 2>&1`;
	return (0, "strace cannot trace here (ptrace not permitted?): $out") if $?;
	return (1, '');
}

# Reads an `strace -f -o LOG` log.  Returns the client's pid (the
# first pid in the log) and its system calls in order, each as
# [name, line]; a call interrupted by another process's output appears
# once, at its start.
sub strace_calls {
	my ($log) = @_;
	open my $fh, '<', $log or die "$log: $!\n";
	my ($first, @calls);
	while (my $l = <$fh>) {
		chomp $l;
		my ($pid, $rest) = $l =~ /^(\d+)\s+(.*)$/ or next;
		$first //= $pid;
		next unless $pid == $first;
		push @calls, [$1, $rest] if $rest =~ /^(\w+)\(/;
	}
	return ($first, @calls);
}

package PFIHarness::Env;
use File::Path qw(remove_tree);

sub DESTROY {
	my ($self) = @_;
	return if $ENV{PFI_KEEP};
	PFIHarness::kill_servers($self);
	remove_tree($self->{dir});
}

1;
