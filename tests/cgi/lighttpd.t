# CGI through a real web server: lighttpd with mod_cgi, bound to
# 127.0.0.1 on a free port, started by this test with its own
# configuration and stopped after.  It serves wrapped CGI scripts as
# www-data: a `#!` line naming the client, copied into a root-owned
# directory www-data can reach (as an installation would be).
#
# Checked: every response of a bounded series of requests; the
# laundered (-L) server's initialisation sees no request variables and
# no arguments; no request's HTTP_* header reaches another request
# (laundered and unlaundered); the calls run as www-data and reuse one
# server; no process title shows a request's data; a script whose
# initialisation fails gives HTTP 500 and its message reaches the file
# lighttpd writes CGI stderr to (server.breakagelog, which the README's
# CGI section asks for: lighttpd's stock configuration throws CGI stderr
# away, or leaves it to systemd's journal when run with -D).
use strict;
use warnings;
use File::Copy qw(copy);
use File::Find qw(find);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use FindBin;
use Test::More;
use Time::HiRes qw(sleep time);

my $client = $ENV{PFI_CLIENT} // die "PFI_CLIENT not set (run via meson test)\n";
my $perl_lib = $ENV{PFI_PERL_LIB} // die "PFI_PERL_LIB not set\n";

plan skip_all => 'needs root (lighttpd must start as root to serve as www-data)'
	unless $> == 0;
my $lighttpd = (grep { -x } map { "$_/lighttpd" } qw(/usr/sbin /usr/bin /sbin))[0];
plan skip_all => 'needs lighttpd (Debian package lighttpd, in the test set-up)'
	unless $lighttpd;
my ($www_uid, $www_gid) = (getpwnam 'www-data')[2, 3];
plan skip_all => 'needs the www-data user' unless defined $www_uid;
my $mod_dir = (grep { -e "$_/mod_cgi.so" } qw(/usr/lib/lighttpd /usr/lib64/lighttpd))[0];
plan skip_all => 'needs lighttpd\'s mod_cgi' unless $mod_dir;

# Root-owned layout that www-data can read but not change:
#   BASE/bin/prefork-interp, BASE/lib (the module), BASE/www (scripts),
#   BASE/run (the run directory, www-data's, 0700), BASE/log.
# /run is root-owned and not writable by others, so the run directory's
# path passes the client's checks (a directory below /tmp would not).
my $base = tempdir('pfi-cgi-XXXXXX', DIR => -d '/run' ? '/run' : '/var/tmp',
		   CLEANUP => 0);
chmod 0755, $base;
make_path("$base/bin", "$base/www", "$base/log", { mode => 0755 });
copy($client, "$base/bin/prefork-interp") or die "copy client: $!";
chmod 0755, "$base/bin/prefork-interp";
system('cp', '-R', $perl_lib, "$base/lib") == 0 or die "copy module\n";
system('chmod', '-R', 'a+rX,go-w', "$base/lib") == 0 or die "chmod module\n";
mkdir "$base/run", 0700 or die "mkdir run: $!";
chown $www_uid, $www_gid, "$base/run" or die "chown run: $!";
# lighttpd writes its log as www-data once it has dropped privileges.
chown $www_uid, $www_gid, "$base/log";
my $errorlog = "$base/log/error.log";
my $breakagelog = "$base/log/breakage.log";

sub write_cgi {
	my ($name, $mode, $body) = @_;
	my $path = "$base/www/$name";
	open my $fh, '>', $path or die "$path: $!";
	print $fh "#!$base/bin/prefork-interp $mode,perl,-I$base/lib\n", $body;
	close $fh or die "$path: $!";
	chmod 0755, $path;
	return $path;
}

# Reports what the initialisation saw and what the call sees.
my $report = <<'EOP';
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
EOP
write_cgi('laundered.cgi', '-L', $report);
write_cgi('unlaundered.cgi', '-U', $report);
write_cgi('broken.cgi', '-L', <<'EOP');
use Proc::Prefork::Interp;
die "BROKEN-INIT-MARKER: the initialisation failed\n";
prefork_initialisation_complete();
EOP

sub free_port {
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
				      Proto => 'tcp', Listen => 1) or die "socket: $!";
	return $s->sockport;
}

my ($port, $httpd_pid);
sub start_lighttpd {
	my (%opt) = @_;
	$port = free_port();
	# The run directory named to the client, unless the test is of the
	# out-of-the-box case.
	my $setenv = $opt{default_run_dir} ? ''
		: qq{setenv.add-environment = ( "PREFORK_INTERP_RUN_DIR" => "$base/run" )};
	open my $fh, '>', "$base/lighttpd.conf" or die $!;
	# Debian's stock settings for what matters here, plus the
	# breakagelog line the README asks CGI hosts to add: without it,
	# lighttpd throws away what a CGI writes to stderr.  (It must be a
	# file of its own: lighttpd 1.4.69 ignores it when it names the
	# error log.)
	print $fh <<"EOC";
server.modules = ( "mod_setenv", "mod_cgi" )
server.document-root = "$base/www"
server.errorlog = "$errorlog"
server.breakagelog = "$breakagelog"
server.pid-file = "$base/lighttpd.pid"
server.username = "www-data"
server.groupname = "www-data"
server.bind = "127.0.0.1"
server.port = $port
cgi.assign = ( ".cgi" => "" )
$setenv
EOC
	close $fh;
	$httpd_pid = fork // die "fork: $!";
	if (!$httpd_pid) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', "$base/lighttpd.out";
		open STDERR, '>&', \*STDOUT;
		exec $lighttpd, '-D', '-f', "$base/lighttpd.conf";
		exit 127;
	}
	my $deadline = time + 10;
	while (time < $deadline) {
		return 1 if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
						   Proto => 'tcp');
		return 0 if waitpid($httpd_pid, WNOHANG) == $httpd_pid;
		sleep 0.05;
	}
	return 0;
}

sub start_lighttpd_retrying {
	my (%opt) = @_;
	for my $try (1 .. 3) {   # another process may take the free port first
		return 1 if start_lighttpd(%opt);
		stop_lighttpd();
	}
	return 0;
}

sub stop_lighttpd {
	return unless $httpd_pid;
	kill 'TERM', $httpd_pid;
	my $deadline = time + 10;
	while (waitpid($httpd_pid, WNOHANG) == 0 && time < $deadline) {
		sleep 0.05;
	}
	kill 'KILL', $httpd_pid if waitpid($httpd_pid, WNOHANG) == 0;
	waitpid($httpd_pid, 0);
	$httpd_pid = undef;
}

sub our_processes {
	my @found;
	opendir my $d, '/proc' or die $!;
	for my $pid (grep { /^\d+$/ } readdir $d) {
		next if $pid == $$ || ($httpd_pid && $pid == $httpd_pid);
		open my $fh, '<', "/proc/$pid/cmdline" or next;
		local $/;
		my $cmd = <$fh> // next;
		push @found, [$pid, $cmd] if index($cmd, $base) >= 0;
	}
	return @found;
}

# Removing the sockets makes each watcher tell its server to quit (the
# client may keep them in a subdirectory of its own).
sub stop_servers {
	my @sockets;
	find(sub { push @sockets, $File::Find::name if -S $_ }, "$base/run")
		if -d "$base/run";
	unlink @sockets;
	my $deadline = time + 10;
	while (time < $deadline) {
		return 1 unless our_processes();
		sleep 0.05;
	}
	return 0;
}

my $made_sysdir;
END {
	my $status = $?;
	stop_lighttpd();
	stop_servers() if $base;
	kill_our_processes() if $base;
	remove_tree($made_sysdir) if $made_sysdir;
	if ($base && !$ENV{PFI_KEEP}) {
		remove_tree($base);
	}
	$? = $status;
}

my $started = start_lighttpd_retrying();
ok($started, "lighttpd started on 127.0.0.1:$port") or do {
	diag `cat $base/lighttpd.out $errorlog 2>/dev/null`;
	done_testing;
	exit 1;
};

my $http = HTTP::Tiny->new(timeout => 30);

sub fields {
	my ($body) = @_;
	my %f;
	for my $line (split /\n/, $body) {
		$f{$1} = $2 if $line =~ /\A(\w+)=(.*)\z/;
	}
	($f{init_pid}, $f{pid}) = $f{init_pid} =~ /\A(\d+) pid=(\d+)\z/
		if defined $f{init_pid};
	return \%f;
}

# A bounded series of requests (count and time): each carries its own
# header value, every third one none at all.
for my $script (qw(laundered unlaundered)) {
	my $n = 24;
	my $deadline = time + 120;
	my (%init_pids, $bad, $done) = ();
	my $init_clean = 1;
	for my $i (1 .. $n) {
		last if time > $deadline;
		my $probe = $i % 3 ? "probe-$script-$i" : undef;
		my $res = $http->get("http://127.0.0.1:$port/$script.cgi?n=$i",
			{ headers => $probe ? { 'X-Probe' => $probe } : {} });
		my $f = fields($res->{content} // '');
		my $want_http = $probe ? "HTTP_X_PROBE=$probe" : '';
		my @wrong;
		push @wrong, "status $res->{status}" unless $res->{status} == 200;
		push @wrong, "uid " . ($f->{uid} // 'none') unless ($f->{uid} // '') eq $www_uid;
		push @wrong, "query '" . ($f->{query} // '') . "'" unless ($f->{query} // '') eq "n=$i";
		push @wrong, "request variables '" . ($f->{http} // '') . "'"
			unless defined $f->{http} && $f->{http} eq $want_http;
		if ($script eq 'laundered') {
			push @wrong, "initialisation saw '$f->{init_http}'"
				unless defined $f->{init_http} && $f->{init_http} eq '';
			push @wrong, "initialisation saw arguments '$f->{init_argv}'"
				unless defined $f->{init_argv} && $f->{init_argv} eq '';
			$init_clean = 0 unless ($f->{init_env} // '')
				eq 'HOME,LOGNAME,PATH,PREFORK_INTERP,USER';
		}
		$init_pids{$f->{init_pid}}++ if $f->{init_pid};
		if (@wrong) {
			$bad++;
			diag "$script request $i: @wrong; body:\n" . ($res->{content} // '');
		}
		$done++;
	}
	is($done, $n, "$script: all $n requests made within the time bound");
	ok(!$bad, "$script: every response right (status 200, as www-data, its own query and X-Probe header only)");
	if ($script eq 'laundered') {
		ok($init_clean, 'laundered: the initialisation saw only HOME, LOGNAME, PATH, PREFORK_INTERP and USER');
	}
	my ($most) = sort { $b <=> $a } values %init_pids;
	cmp_ok($most // 0, '>=', $n - 2, "$script: one server answered (nearly) every request")
		or diag explain \%init_pids;

	my @leaky = grep { $_->[1] =~ /probe-|n=\d/ } our_processes();
	ok(!@leaky, "$script: no process title shows a request's data")
		or diag join "\n", map { "$_->[0]: $_->[1]" } @leaky;
}

# Failing initialisation: HTTP 500, and the script's message and the
# client's line reach the log lighttpd keeps for CGI stderr.
my $res = $http->get("http://127.0.0.1:$port/broken.cgi");
is($res->{status}, 500, 'a script whose initialisation fails answers 500');
my $log = '';
for (1 .. 100) {
	$log = do { local (@ARGV, $/) = $breakagelog; <> } // '';
	last if $log =~ /prefork-interp:/;
	sleep 0.05;
}
like($log, qr/BROKEN-INIT-MARKER/, "the script's own message reached lighttpd's breakage log");
like($log, qr/prefork-interp: initialisation of '\Q$base\E\/www\/broken\.cgi' failed/,
     "the client's line reached lighttpd's breakage log");

stop_lighttpd();
ok(stop_servers(), 'every server and watcher quit once its socket was removed');

# Out of the box: no run directory named anywhere.  www-data has no
# /run/user/33 and no home of its own; the client then uses the
# system-wide per-user directory that the installed tmpfiles.d snippet
# provides (/run/prefork-interp, root-owned and sticky).
my $snippet = "$FindBin::Bin/../../data/tmpfiles.d/prefork-interp.conf";
SKIP: {
	skip 'this client has no system-wide run directory (no data/tmpfiles.d snippet)', 4
		unless -f $snippet;
	my $sysdir = '/run/prefork-interp';
	unless (-e $sysdir) {
		# What the snippet's line makes (systemd-tmpfiles may be absent).
		mkdir $sysdir or die "mkdir $sysdir: $!";
		chmod 01777, $sysdir;
		$made_sysdir = $sysdir;
	}
	ok(start_lighttpd_retrying(default_run_dir => 1),
	   'lighttpd restarted without naming a run directory');
	my ($bad, %init_pids) = (0);
	my $n = 8;
	for my $i (1 .. $n) {
		my $res = $http->get("http://127.0.0.1:$port/laundered.cgi?n=$i",
			{ headers => { 'X-Probe' => "box-$i" } });
		my $f = fields($res->{content} // '');
		$init_pids{$f->{init_pid}}++ if $f->{init_pid};
		next if $res->{status} == 200 && ($f->{query} // '') eq "n=$i"
			&& ($f->{http} // '') eq "HTTP_X_PROBE=box-$i"
			&& ($f->{init_http} // 'x') eq '';
		$bad++;
		diag "out of the box, request $i: status $res->{status}:\n"
			. ($res->{content} // '') . `cat $breakagelog 2>/dev/null`;
	}
	ok(!$bad, "out of the box: all $n responses right");
	my ($most) = sort { $b <=> $a } values %init_pids;
	cmp_ok($most // 0, '>=', $n - 1, 'out of the box: one server answered them');
	my @sockets;
	find(sub { push @sockets, $File::Find::name
			   if ((lstat $_)[4] // -1) == $www_uid && -S _ },
	     "$sysdir/$www_uid") if -d "$sysdir/$www_uid";
	ok(@sockets, "out of the box: its socket is below $sysdir/$www_uid")
		or diag `ls -laR $sysdir 2>&1`;
	stop_lighttpd();
}
done_testing;

# The servers' processes (their titles name scripts below $base).
sub kill_our_processes {
	my @pids = map { $_->[0] } our_processes() or return;
	kill 'TERM', @pids;
	my $deadline = time + 10;
	sleep 0.05 while our_processes() && time < $deadline;
	kill 'KILL', map { $_->[0] } our_processes();
}
