# Helpers for the sandbox suite: paths from meson, a fake server, the
# policy as a list, and strace logs split by system call.
package SandboxTest;

use strict;
use warnings;
use Exporter 'import';
use FindBin;
use POSIX qw(:sys_wait_h);
use File::Spec;
use Time::HiRes qw(sleep time);
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Temp qw(tempdir);

our @EXPORT = qw(hooks_client policy_file policy_gen policy_syscalls
		 start_fake stop_fake sandbox_off have_program
		 nobody_dir nosuid_mount have_strace strace_calls wait_for
		 proc_status);

sub need { $ENV{$_[0]} // die "$_[0] not set (run via meson test)\n" }
sub hooks_client { need('PFI_CLIENT_TESTHOOKS') }
sub policy_file  { need('PFI_POLICY_FILE') }
sub policy_gen   { need('PFI_POLICY_GEN') }

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

# Polls $cond every 20 ms for up to $secs seconds.
sub wait_for {
	my ($cond, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline) {
		return 1 if $cond->();
		sleep 0.02;
	}
	return $cond->();
}

# Starts tests/sandbox/fake-server.pl listening as server IDENT in the
# env's run directory (reach it with `-g IDENT`).  Returns its pid.
sub start_fake {
	my ($env, $ident, $mode, $arg, %vars) = @_;
	my $ready = "$env->{dir}/fake-$ident.ready";
	unlink $ready;
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		$ENV{$_} = $vars{$_} for keys %vars;
		open STDIN, '<', '/dev/null';
		exec 'perl', "$FindBin::Bin/fake-server.pl",
			"$env->{run}/s$ident", $ready, $mode, $arg // ()
			or POSIX::_exit(121);
	}
	wait_for(sub { -e $ready }, 10) or die "fake server $ident did not start\n";
	return $pid;
}

sub stop_fake {
	my ($pid) = @_;
	kill 'TERM', $pid;
	waitpid $pid, 0;
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

# /proc/PID/status as a hash.
sub proc_status {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return;
	my %s;
	while (<$fh>) { $s{$1} = $2 if /^(\w+):\s*(.*?)\s*$/ }
	return \%s;
}

1;
