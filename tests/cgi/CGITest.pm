# Helpers of the cgi suite (lighttpd.t, apache.t): an installed-like,
# root-owned layout that the web server's user can read, wrapped CGI
# scripts that report what their initialisation and their call saw,
# starting and stopping a web server on 127.0.0.1, and a checked series
# of requests.
package CGITest;

use strict;
use warnings;
use Exporter 'import';
use File::Copy qw(copy);
use File::Find qw(find);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Digest::SHA ();
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness qw(slurp_file wait_for);

our @EXPORT = qw(cgi_layout write_cgi REPORT_BODY BROKEN_BODY LAUNDERED_ENV
		 free_port start_daemon stop_daemon processes_where
		 stop_servers_in sockets_below fields request_series
		 slurp_file wait_log SYSTEM_RUN_DIR ensure_system_run_dir
		 release_system_run_dir STREAM_BODY stream_checks live
		 slow_request marked_pid timeout_checks);

# The environment a laundered (-L) initialisation sees after loading
# the module (README, "Laundered mode": PREFORK_INTERP is the module's).
use constant LAUNDERED_ENV => 'HOME,LOGNAME,PATH,USER';

# Root-owned layout that www-data can read but not change:
#   BASE/bin/prefork-interp, BASE/lib (the module), BASE/www (scripts),
#   BASE/run (a run directory, www-data's, 0700), BASE/log (www-data's).
# /run is root-owned and not writable by others, so the run directory's
# path passes the client's checks.
sub cgi_layout {
	my ($tag) = @_;
	my $client = $ENV{PFI_CLIENT} // die "PFI_CLIENT not set (run via meson test)\n";
	my $perl_lib = $ENV{PFI_PERL_LIB} // die "PFI_PERL_LIB not set\n";
	my ($www_uid, $www_gid) = (getpwnam 'www-data')[2, 3];
	my $base = tempdir("pfi-$tag-XXXXXX", DIR => -d '/run' ? '/run' : '/var/tmp',
			   CLEANUP => 0);
	chmod 0755, $base;
	make_path("$base/bin", "$base/www", "$base/log", { mode => 0755 });
	copy($client, "$base/bin/prefork-interp") or die "copy client: $!";
	chmod 0755, "$base/bin/prefork-interp";
	system('cp', '-R', $perl_lib, "$base/lib") == 0 or die "copy module\n";
	system('chmod', '-R', 'a+rX,go-w', "$base/lib") == 0 or die "chmod module\n";
	mkdir "$base/run", 0700 or die "mkdir run: $!";
	chown $www_uid, $www_gid, "$base/run" or die "chown run: $!";
	# lighttpd writes its logs as www-data once it has dropped privileges.
	chown $www_uid, $www_gid, "$base/log";
	return { base => $base, client => "$base/bin/prefork-interp",
		 lib => "$base/lib", www => "$base/www", run => "$base/run",
		 log => "$base/log", www_uid => $www_uid, www_gid => $www_gid };
}

# Writes $path with a #! line naming the layout's client with $options
# (for example '-L' or '-L,--fallback=refuse'), or perl itself when
# $options is undef (a standalone CGI); owned by $uid if given.
sub write_cgi {
	my ($layout, $path, $options, $body, $uid, $gid) = @_;
	open my $fh, '>', $path or die "$path: $!";
	print $fh defined $options ? "#!$layout->{client} $options,perl,-I$layout->{lib}\n"
				   : "#!$^X -I$layout->{lib}\n", $body;
	close $fh or die "$path: $!";
	chmod 0755, $path;
	chown $uid, $gid // $uid, $path if defined $uid;
	return $path;
}

# Reports what the initialisation saw and what the call sees.
use constant REPORT_BODY => <<'EOP';
use strict;
use warnings;
use Proc::Prefork::Interp;
our %init_env = %ENV;
our @init_argv = @ARGV;
our $init_pid = $$;
prefork_initialisation_complete();
print "Content-Type: text/plain\r\n\r\n";
print "uid=$<\n";
print "init_pid=$init_pid pid=$$\n";
print "init_argv=", join(',', @init_argv), "\n";
print "init_env=", join(',', sort keys %init_env), "\n";
print "init_http=", join(',', map { "$_=$init_env{$_}" } sort grep { /^HTTP_/ } keys %init_env), "\n";
print "http=", join(',', map { "$_=$ENV{$_}" } sort grep { /^HTTP_X_/ } keys %ENV), "\n";
print "query=", $ENV{QUERY_STRING} // '', "\n";
print "run_dir_var=", $ENV{PREFORK_INTERP_RUN_DIR} // '(unset)', "\n";
EOP

use constant BROKEN_BODY => <<'EOP';
use Proc::Prefork::Interp;
die "BROKEN-INIT-MARKER: the initialisation failed\n";
prefork_initialisation_complete();
EOP

sub free_port {
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
				      Proto => 'tcp', Listen => 1) or die "socket: $!";
	return $s->sockport;
}

# Runs @$cmd (a web server in the foreground) with stdout and stderr to
# $out; returns its pid once every port in @$ports accepts, undef if
# it exits or 10 s pass first (then it is stopped).
sub start_daemon {
	my ($cmd, $out, $ports) = @_;
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		# A session of its own: Apache's prefork MPM stops its children
		# by signalling its whole process group, which would be ours.
		POSIX::setsid();
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $out;
		open STDERR, '>&', \*STDOUT;
		{ exec { $cmd->[0] } @$cmd }
		POSIX::_exit(127);
	}
	my $deadline = time + 10;
	my @waiting = @$ports;
	while (time < $deadline) {
		@waiting = grep { !IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_",
							 Proto => 'tcp') } @waiting;
		return $pid unless @waiting;
		if (waitpid($pid, WNOHANG) == $pid) {
			return undef;
		}
		sleep 0.05;
	}
	stop_daemon($pid);
	return undef;
}

sub stop_daemon {
	my ($pid) = @_;
	return unless $pid;
	kill 'TERM', $pid;
	my $deadline = time + 10;
	sleep 0.05 while waitpid($pid, WNOHANG) == 0 && time < $deadline;
	kill 'KILL', $pid if waitpid($pid, WNOHANG) == 0;
	waitpid($pid, 0);
}

# [pid, command line, uid] of the live processes for which $want->(cmd,
# uid) is true (zombies have an empty command line and are left out).
sub processes_where {
	my ($want) = @_;
	my @found;
	opendir my $d, '/proc' or die $!;
	for my $pid (grep { /^\d+$/ } readdir $d) {
		next if $pid == $$;
		open my $fh, '<', "/proc/$pid/cmdline" or next;
		local $/;
		my $cmd = <$fh>;
		next unless defined $cmd && length $cmd;
		my $uid = (stat "/proc/$pid")[4] // next;
		push @found, [$pid, $cmd, $uid] if $want->($cmd, $uid);
	}
	return @found;
}

sub sockets_below {
	my ($uid, @dirs) = @_;
	my @sockets;
	find(sub { push @sockets, $File::Find::name
			   if ((lstat $_)[4] // -1) == $uid && -S _ },
	     grep { -d } @dirs);
	return @sockets;
}

# Removing the sockets makes each watcher tell its server to quit;
# then waits (10 s at most) until no process $want->() selects is left.
sub stop_servers_in {
	my ($dirs, $uid, $want) = @_;
	unlink sockets_below($uid, @$dirs);
	return 1 if wait_for(sub { !processes_where($want) }, 10);
	# What is left, for the failure's report.
	for my $p (processes_where($want)) {
		my ($pid, $cmd, $owner) = @$p;
		my ($state, $ppid) = slurp_file("/proc/$pid/stat") =~ /\) (\S) (\d+)/;
		$cmd =~ tr/\0/ /;
		Test::More::diag("left: pid $pid uid $owner state " . ($state // '?')
				 . " ppid " . ($ppid // '?') . ": $cmd");
	}
	return 0;
}

sub fields {
	my ($body) = @_;
	my %f;
	for my $line (split /\n/, $body // '') {
		$f{$1} = $2 if $line =~ /\A(\w+)=(.*)\z/;
	}
	($f{init_pid}, $f{pid}) = $f{init_pid} =~ /\A(\d+) pid=(\d+)\z/
		if defined $f{init_pid};
	return \%f;
}

my $http = HTTP::Tiny->new(timeout => 30);

# Makes a bounded series of requests (count and time) to $o{url}, a
# script with REPORT_BODY, each with its own X-Probe header (every third
# none) and query, and checks each response: status 200, run as
# $o{uid}, its own query and header only, and, with $o{laundered} and
# $o{served}, an initialisation that saw no request variables, no
# arguments and the fixed environment.  $o{served}: one server answered
# (nearly) every request, in calls forked from it; else each request
# ran on its own (no server).  $o{titles}: the processes whose titles
# must never show a request's data.  Returns the responses' fields.
sub request_series {
	my (%o) = @_;
	my ($name, $n) = ($o{name}, $o{n});
	my $deadline = time + 120;
	my (%init_pids, @seen, $bad) = ();
	my ($init_clean, $done, $forked) = (1, 0, 0);
	for my $i (1 .. $n) {
		last if time > $deadline;
		my $probe = $i % 3 ? "probe-$name-$i" : undef;
		my $res = $http->get("$o{url}?n=$i",
			{ headers => $probe ? { 'X-Probe' => $probe } : {} });
		my $f = fields($res->{content});
		push @seen, $f;
		my $want_http = $probe ? "HTTP_X_PROBE=$probe" : '';
		my @wrong;
		push @wrong, "status $res->{status}" unless $res->{status} == 200;
		push @wrong, "uid " . ($f->{uid} // 'none') unless ($f->{uid} // '') eq $o{uid};
		push @wrong, "query '" . ($f->{query} // '') . "'" unless ($f->{query} // '') eq "n=$i";
		push @wrong, "request variables '" . ($f->{http} // '') . "'"
			unless defined $f->{http} && $f->{http} eq $want_http;
		if ($o{laundered} && $o{served}) {
			push @wrong, "initialisation saw '$f->{init_http}'"
				unless defined $f->{init_http} && $f->{init_http} eq '';
			push @wrong, "initialisation saw arguments '$f->{init_argv}'"
				unless defined $f->{init_argv} && $f->{init_argv} eq '';
			$init_clean = 0 unless ($f->{init_env} // '') eq LAUNDERED_ENV;
		}
		if ($f->{init_pid}) {
			$init_pids{$f->{init_pid}}++;
			$forked++ if $f->{pid} != $f->{init_pid};
		}
		if (@wrong) {
			$bad++;
			diag "$name request $i: @wrong; body:\n" . ($res->{content} // '');
		}
		$done++;
	}
	is($done, $n, "$name: all $n requests made within the time bound");
	ok(!$bad, "$name: every response right (status 200, as uid $o{uid}, its own query and X-Probe header only)");
	my ($most) = sort { $b <=> $a } values %init_pids;
	if ($o{served}) {
		ok($init_clean, "$name: the initialisation saw only " . LAUNDERED_ENV)
			if $o{laundered};
		cmp_ok($most // 0, '>=', $n - 2, "$name: one server answered (nearly) every request")
			or diag explain \%init_pids;
		is($forked, $done, "$name: every call ran in a process forked from a server");
	} else {
		is($forked, 0, "$name: every request ran the script directly (no server)");
		is(scalar keys %init_pids, $done, "$name: each request its own process");
	}
	if ($o{titles}) {
		my @leaky = grep { $_->[1] =~ /probe-|n=\d/ } processes_where($o{titles});
		ok(!@leaky, "$name: no process title shows a request's data")
			or diag join "\n", map { "$_->[0]: $_->[1]" } @leaky;
	}
	return \@seen;
}

# Moves bytes through a call, and outlives a web server's patience:
#   ?mode=post           reads the request body to its end: its length
#                        and SHA-256;
#   ?mode=big&n=N        answers N bytes of a fixed pattern;
#   ?mode=slow&mark=PATH makes PATH.PID, then sleeps two minutes before
#                        it answers (&ignore=1: with SIGTERM ignored).
# Every answer says which process served it (init_pid=... pid=...).  The
# same text runs standalone with a plain `#!/usr/bin/perl` line (the
# module's function then simply returns).
use constant STREAM_BODY => <<'EOP';
use strict;
use warnings;
use Digest::SHA;
use Proc::Prefork::Interp;
our $init_pid = $$;
prefork_initialisation_complete();
my %q = map { split /=/, $_, 2 } split /&/, $ENV{QUERY_STRING} // '';
my $mode = $q{mode} // '';
binmode STDIN;
binmode STDOUT;
if ($mode eq 'post') {
	my ($len, $buf, $sha) = (0, '', Digest::SHA->new(256));
	while ((my $n = read STDIN, $buf, 65536) > 0) { $len += $n; $sha->add($buf) }
	print "Content-Type: text/plain\r\n\r\n";
	print "init_pid=$init_pid pid=$$\nlen=$len\nsha=", $sha->hexdigest, "\n";
} elsif ($mode eq 'big') {
	print "Content-Type: application/octet-stream\r\n\r\n";
	my $chunk = join '', map { chr($_ % 251) } 0 .. 65535;
	for (my $left = $q{n}; $left > 0; $left -= 65536) {
		print substr($chunk, 0, $left < 65536 ? $left : 65536);
	}
} elsif ($mode eq 'slow') {
	$SIG{TERM} = 'IGNORE' if $q{ignore};
	open my $fh, '>', "$q{mark}.$$" or die "$q{mark}.$$: $!";
	close $fh;
	sleep 1 for 1 .. 120;
	print "Content-Type: text/plain\r\n\r\nfinished\n";
}
EOP

# Whether $pid is a live process (a zombie, which an init that reaps
# slowly keeps around, is not).
sub live {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/cmdline" or return 0;
	local $/;
	my $cmd = <$fh>;
	return defined $cmd && length $cmd;
}

# The pid in the name of the file PREFIX.PID once the script made it
# (10 s at most), or undef.
sub marked_pid {
	my ($prefix) = @_;
	my $pid;
	wait_for(sub { ($pid) = map { /\.(\d+)\z/ ? $1 : () } glob "$prefix.*"; $pid }, 10);
	return $pid;
}

# Sends a GET for $path to 127.0.0.1:$port and returns the socket (the
# script's mark says when it has begun).
sub slow_request {
	my ($port, $path) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 30)
		or return undef;
	print $s "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	return $s;
}

# What a call carries both ways, as a standalone CGI would: a request
# body of several MiB arrives whole on stdin (every byte value), and a
# response larger than any pipe's buffer arrives whole, each in a call
# forked from a server ($o{url} is a script with STREAM_BODY).
sub stream_checks {
	my (%o) = @_;
	my ($name, $url) = @o{qw(name url)};
	my $body = pack 'N*', map { $_ * 2654435761 % 4294967296 } 0 .. 2 * 1024 * 1024 - 1;
	my $res = $http->post("$url?mode=post", { content => $body,
		headers => { 'Content-Type' => 'application/octet-stream' } });
	my $f = fields($res->{content});
	is($res->{status}, 200, "$name: an 8 MiB POST answers 200");
	is($f->{len}, length $body, "$name: the whole body reached the call's stdin");
	is($f->{sha} // '', Digest::SHA::sha256_hex($body), "$name: byte for byte");
	ok($f->{pid} && $f->{init_pid} && $f->{pid} != $f->{init_pid},
	   "$name: the POST was served by a call forked from a server");

	my $n = 24 * 1024 * 1024 + 17;
	my $chunk = join '', map { chr($_ % 251) } 0 .. 65535;
	my $want = substr($chunk x (int($n / 65536) + 1), 0, $n);
	$res = $http->get("$url?mode=big&n=$n");
	is($res->{status}, 200, "$name: a 24 MiB response answers 200");
	is(length($res->{content} // ''), $n, "$name: the whole response arrived");
	ok(($res->{content} // '') eq $want, "$name: byte for byte");
}

# A web server that gives up on a slow CGI (its timeout) ends it as it
# ends the same script run standalone: for each of $o{cases} (a query
# suffix and what it means), the standalone script at $o{standalone}
# and the served one at $o{served} (paths on 127.0.0.1:$o{port}, both
# STREAM_BODY) get a slow request (two minutes of silence); the call's
# process must end for each, 30 s at most being a hang guard.  (Not
# the HTTP status: lighttpd's differs from one run to the next even for
# the standalone script.)  $o{marks}: a directory the scripts' user may
# write to.
sub timeout_checks {
	my (%o) = @_;
	for my $case (@{ $o{cases} }) {
		my ($query, $what) = @$case;
		for my $script (qw(standalone served)) {
			# Its own name in each use (mod_cgi, then mod_cgid, share
			# the directory): another's mark would pass for this
			# call's at once, and leave this one running unseen.
			my $mark = "$o{marks}/" . ($o{name} =~ s/\W//gr) . "-$script"
				. ($query =~ s/\W//gr);
			my $sock = slow_request($o{port}, "$o{$script}?mode=slow$query&mark=$mark");
			my $pid = marked_pid($mark);
			ok($sock && $pid, "$o{name}, $what, $script: the call began") or next;
			ok(wait_for(sub { !live($pid) }, 30),
			   "$o{name}, $what, $script: the web server's time limit ended the call's process")
				or diag "the call's process: ", join ' ', map { s/\s+/ /gr }
					grep { /^(?:State|PPid|Sig\w+|ShdPnd)/ }
					split /\n/, slurp_file("/proc/$pid/status");
			kill 'KILL', $pid if live($pid);
		}
	}
}

# The system-wide directory of per-user run directories (the client's
# third candidate), as the installed tmpfiles.d snippet makes it.
use constant SYSTEM_RUN_DIR => '/run/prefork-interp';

# Makes SYSTEM_RUN_DIR if it is missing (systemd-tmpfiles may be absent
# or not run); returns whether this test made it.
sub ensure_system_run_dir {
	return 0 if -e SYSTEM_RUN_DIR;
	mkdir SYSTEM_RUN_DIR or die "mkdir " . SYSTEM_RUN_DIR . ": $!\n";
	chmod 01777, SYSTEM_RUN_DIR;
	return 1;
}

# Removes the entries of @uids (users whose servers the test started)
# and, if the test made it, the directory once no one else's entry is
# left in it.
sub release_system_run_dir {
	my ($made, @uids) = @_;
	remove_tree(map { SYSTEM_RUN_DIR . "/$_" } @uids);
	rmdir SYSTEM_RUN_DIR if $made;
}

# The log's text once it matches $re, or after 5 s, whatever it is then.
sub wait_log {
	my ($file, $re) = @_;
	wait_for(sub { slurp_file($file) =~ $re }, 5);
	return slurp_file($file);
}

1;
