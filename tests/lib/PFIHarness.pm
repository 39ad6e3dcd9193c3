# Test harness for suites that drive real interpreters through the
# built client.  Every suite gets its own private run directory and
# temp directory, and a way to prove nothing is left behind.
package PFIHarness;

use strict;
use warnings;
use Exporter 'import';
use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h _exit);
use Time::HiRes qw(sleep time);

our @EXPORT = qw(client_path perl_lib new_env write_script run_call
		 start_call wait_call processes_matching wait_gone
		 socket_files describe_status standalone_status kill_servers);

sub client_path { $ENV{PFI_CLIENT} // die "PFI_CLIENT not set (run via meson test)\n" }
sub perl_lib    { $ENV{PFI_PERL_LIB} // die "PFI_PERL_LIB not set\n" }

# A directory is a safe place for a run directory if every component is
# owned by root or us and not writable by group or other: the client
# refuses anything else, as it should.
sub path_is_safe {
	my ($path) = @_;
	my $walk = '';
	for my $c ('', grep { length } split m{/}, $path) {
		$walk .= "/$c";
		$walk =~ s{^//}{/};
		my @st = lstat $walk or return 0;
		return 0 if -l _;
		return 0 unless $st[4] == 0 || $st[4] == $>;
		return 0 if $st[2] & 022;
	}
	return 1;
}

# Chooses a base for private run and temp directories that the client
# will accept: the build tree if it is safe, else somewhere that is.
sub safe_base {
	my @candidates = ($ENV{PFI_TEST_BASE} // (), $ENV{MESON_BUILD_ROOT} // (),
			  "/run/user/$>", (getpwuid $>)[7] . "/.cache");
	for my $c (@candidates) {
		next unless defined $c && -d $c && path_is_safe(abs_path($c));
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
	my $run = "$dir/run";
	mkdir $run, 0700 or die "mkdir $run: $!";
	$ENV{PREFORK_INTERP_RUN_DIR} = $run;
	$ENV{PERL5LIB} = perl_lib();
	my $env = { dir => $dir, run => $run };
	return bless $env, 'PFIHarness::Env';
}

# Writes an executable script with a #! line naming the client.
# $opts{interp} is the combined-form argument (default "-U,perl").
sub write_script {
	my ($env, $name, $body, %opts) = @_;
	my $path = "$env->{dir}/$name";
	my $interp = $opts{interp} // '-U,perl';
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

sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; my $s = <$fh>; $s // '' }

sub wait_call {
	my ($p) = @_;
	waitpid($p->{pid}, 0);
	my %r = (status => $?, out => slurp($p->{files}{out}),
		 err => slurp($p->{files}{err}));
	unlink values %{ $p->{files} };
	return \%r;
}

# The wait status a standalone `perl SCRIPT ARGS` gives.
sub standalone_status {
	my ($script, @args) = @_;
	my $r = run_call(['perl', $script, @args], unset => ['PREFORK_INTERP']);
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
sub wait_gone {
	my ($needle, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline) {
		return 1 unless processes_matching($needle);
		sleep 0.02;
	}
	return !processes_matching($needle);
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
	return wait_gone($env->{dir}, 10);
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
