# Helpers for the security suite: acting as another uid, fake servers
# and raw clients speaking (or abusing) the v1 wire protocol, and
# counting what a server holds so that leaks show.
package PFISec;

use strict;
use warnings;
use Exporter 'import';
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use IO::FDPass ();
use POSIX qw(_exit);
use Socket qw(AF_UNIX SOCK_STREAM SOL_SOCKET SO_PEERCRED SOMAXCONN
	      pack_sockaddr_un);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT = qw(need_root OTHER_UID as_other_uid client_as_other
		 one_prefork_line server_pid_of fd_count descendants
		 fake_server fake_wait raw_connect read_n send_all
		 slurp_file wait_for logging_script_header victim);

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

sub slurp_file {
	my ($f) = @_;
	open my $fh, '<', $f or return '';
	local $/;
	return scalar(<$fh>) // '';
}

# Polls $cond until it is true or $secs pass.
sub wait_for {
	my ($secs, $cond) = @_;
	my $end = time + $secs;
	while (time < $end) {
		return 1 if $cond->();
		sleep 0.02;
	}
	return $cond->() ? 1 : 0;
}

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

sub raw_connect {
	my ($path) = @_;
	socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
	connect($s, pack_sockaddr_un($path)) or return undef;
	return $s;
}

# Reads up to $n bytes, stopping at EOF or after $secs; returns them.
sub read_n {
	my ($s, $n, $secs) = @_;
	my $buf = '';
	my $end = time + ($secs // 10);
	while (length $buf < $n) {
		my $left = $end - time;
		last if $left <= 0;
		my $rin = '';
		vec($rin, fileno $s, 1) = 1;
		next if select(my $rout = $rin, undef, undef, $left) <= 0;
		my $got = sysread($s, $buf, $n - length $buf, length $buf);
		last unless $got;
	}
	return $buf;
}

sub send_all {
	my ($s, $data) = @_;
	local $SIG{PIPE} = 'IGNORE';
	my $off = 0;
	while ($off < length $data) {
		my $n = syswrite($s, $data, length($data) - $off, $off);
		return 0 unless $n;
		$off += $n;
	}
	return 1;
}

# A fake server: binds $path (in a child process), accepts connections
# and runs $serve->($conn, $report_fh) for each, writing whatever it
# wants the test to know to the report file.  %opt: uid => run as that
# uid after bind (so SO_PEERCRED shows it), chown => uid to give the
# socket file to, max => connections to serve (default 1).
sub fake_server {
	my ($path, $serve, %opt) = @_;
	my $report = "$path.report";
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
		for (1 .. ($opt{max} // 1)) {
			accept(my $c, $l) or _exit(87);
			my $cred = getsockopt($c, SOL_SOCKET, SO_PEERCRED);
			my $peer = $cred ? (unpack 'iII', $cred)[0] : 0;
			$serve->($c, $rep, $peer);
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

# Perl that a test script puts before prefork_initialisation_complete:
# a logger writing each message to "log" beside the script, so that the
# tests can see what the server logged (there is no syslog in CI).
sub logging_script_header {
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
	my $body = logging_script_header() . <<EOS;
prefork_initialisation_complete(${\($init // '')});
open my \$m, '>>', '$marker'; print \$m "ran \@ARGV\\n"; close \$m;
sleep \$1 if (\$ARGV[0] // '') =~ /^sleep(\\d+)\$/;
print "ran \@ARGV\\n";
EOS
	return (write_script($env, 'victim.pl', $body), $marker);
}

1;
