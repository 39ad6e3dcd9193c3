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
# server; no process title shows a request's data.  An 8 MiB request
# body and a 24 MiB response pass whole; lighttpd's CGI read-timeout
# ends a slow call as it ends the script run standalone.  Where CGI stderr
# goes, as the README's CGI section says: with server.breakagelog, a
# failing initialisation's message, the client's one-line fallback
# (one line per request, the script still answering) and its refusal
# (--fallback=refuse: HTTP 500) reach that file; without it (Debian's
# stock configuration) they go to lighttpd's own stderr (the journal,
# under systemd) and never to server.errorlog.  Out of the box (no run
# directory named), www-data is served from /run/prefork-interp/33.
use strict;
use warnings;
use File::Path qw(remove_tree);
use HTTP::Tiny;
use FindBin;
use lib $FindBin::Bin, "$FindBin::Bin/../lib";
use CGITest;
use PFIHarness qw(wait_for);
use Test::More;

plan skip_all => 'needs root (lighttpd must start as root to serve as www-data)'
	unless $> == 0;
my $lighttpd = (grep { -x } map { "$_/lighttpd" } qw(/usr/sbin /usr/bin /sbin))[0];
plan skip_all => 'needs lighttpd (Debian package lighttpd, in the test set-up)'
	unless $lighttpd;
plan skip_all => 'needs the www-data user' unless defined getpwnam 'www-data';
my $mod_dir = (grep { -e "$_/mod_cgi.so" } qw(/usr/lib/lighttpd /usr/lib64/lighttpd))[0];
plan skip_all => 'needs lighttpd\'s mod_cgi' unless $mod_dir;

my $L = cgi_layout('cgi');
my $base = $L->{base};
my $www_uid = $L->{www_uid};
my $errorlog = "$L->{log}/error.log";
my $breakagelog = "$L->{log}/breakage.log";
my $stderr_file = "$base/lighttpd.out";

write_cgi($L, "$L->{www}/laundered.cgi", '-L', REPORT_BODY);
write_cgi($L, "$L->{www}/unlaundered.cgi", '-U', REPORT_BODY);
write_cgi($L, "$L->{www}/broken.cgi", '-L', BROKEN_BODY);
write_cgi($L, "$L->{www}/stream.cgi", '-L', STREAM_BODY);
# The same script run standalone, for comparison.
write_cgi($L, "$L->{www}/standalone.cgi", undef, STREAM_BODY);
my $marks = "$base/marks";
mkdir $marks or die "mkdir $marks: $!";
chown $www_uid, $L->{www_gid}, $marks;
# A run directory named in the #! line that the client must refuse
# (writable by everyone, not sticky): the script is not served.
my $unsafe = "$base/unsafe";
mkdir $unsafe or die "mkdir $unsafe: $!";
chmod 0777, $unsafe;
write_cgi($L, "$L->{www}/fallback.cgi", "-L,--run-dir=$unsafe", REPORT_BODY);
write_cgi($L, "$L->{www}/refuse.cgi", "-L,--fallback=refuse,--run-dir=$unsafe",
	  REPORT_BODY);

my ($port, $httpd_pid);
# %opt: default_run_dir (name no run directory), stock (no breakagelog).
sub start_lighttpd {
	my (%opt) = @_;
	for my $try (1 .. 3) {   # another process may take the free port first
		$port = free_port();
		my $setenv = $opt{default_run_dir} ? ''
			: qq{setenv.add-environment = ( "PREFORK_INTERP_RUN_DIR" => "$L->{run}" )};
		# The breakagelog line the README asks CGI hosts to add (a file
		# of its own: lighttpd 1.4.69 ignores it when it names the
		# error log).
		my $breakage = $opt{stock} ? '' : qq{server.breakagelog = "$breakagelog"};
		# lighttpd gives up on a CGI that writes nothing for this long.
		my $limits = $opt{read_timeout}
			? qq{cgi.limits = ( "read-timeout" => $opt{read_timeout} )} : '';
		open my $fh, '>', "$base/lighttpd.conf" or die $!;
		print $fh <<"EOC";
server.modules = ( "mod_setenv", "mod_cgi" )
server.document-root = "$L->{www}"
server.errorlog = "$errorlog"
$breakage
server.pid-file = "$base/lighttpd.pid"
server.username = "www-data"
server.groupname = "www-data"
server.bind = "127.0.0.1"
server.port = $port
cgi.assign = ( ".cgi" => "" )
$setenv
$limits
EOC
		close $fh;
		$httpd_pid = start_daemon([$lighttpd, '-D', '-f', "$base/lighttpd.conf"],
					  $stderr_file, [$port]);
		return 1 if $httpd_pid;
	}
	return 0;
}

sub stop_lighttpd { stop_daemon($httpd_pid); $httpd_pid = undef }

# The processes of our servers: their titles name scripts below $base.
sub ours { my ($cmd) = @_; return index($cmd, $base) >= 0 && $cmd !~ /lighttpd/ }
sub stop_servers { return stop_servers_in([$L->{run}, SYSTEM_RUN_DIR], $www_uid, \&ours) }

my $made_sysdir;
END {
	my $status = $?;
	stop_lighttpd();
	if ($base) {
		stop_servers();
		kill 'KILL', map { $_->[0] } processes_where(\&ours);
		remove_tree($base) unless $ENV{PFI_KEEP};
	}
	# www-data's entry only if no one had made the directory before.
	release_system_run_dir($made_sysdir, $made_sysdir ? $www_uid : ());
	$? = $status;
}

ok(start_lighttpd(), "lighttpd started on 127.0.0.1:$port") or do {
	diag `cat $stderr_file $errorlog 2>/dev/null`;
	done_testing;
	exit 1;
};
sub url { return "http://127.0.0.1:$port/$_[0]" }
my $http = HTTP::Tiny->new(timeout => 30);

for my $script (qw(laundered unlaundered)) {
	request_series(name => $script, url => url("$script.cgi"), n => 24,
		       uid => $www_uid, laundered => $script eq 'laundered',
		       served => 1, titles => \&ours);
}
unlike(slurp_file($breakagelog), qr/without a server/,
       'served requests wrote no fallback line');

stream_checks(name => 'lighttpd', url => url('stream.cgi'));

# Failing initialisation: HTTP 500, and the script's message and the
# client's line reach the log lighttpd keeps for CGI stderr.
my $res = $http->get(url("broken.cgi"));
is($res->{status}, 500, 'a script whose initialisation fails answers 500');
my $log = wait_log($breakagelog, qr/prefork-interp: initialisation/);
like($log, qr/BROKEN-INIT-MARKER/, "the script's own message reached lighttpd's breakage log");
like($log, qr/prefork-interp: initialisation of '\Q$L->{www}\E\/broken\.cgi' failed/,
     "the client's line reached lighttpd's breakage log");

# No safe run directory: each request runs the script directly, with
# the client's one line in the breakage log.
my $n_fallback = 4;
request_series(name => 'fallback', url => url("fallback.cgi"), n => $n_fallback,
	       uid => $www_uid, laundered => 1, served => 0);
my $fallback_re = qr/^prefork-interp: running '\Q$L->{www}\E\/fallback\.cgi' without a server \(not accelerated\): .*'\Q$unsafe\E'.*--run-dir.*--fallback=quiet silences this line$/m;
$log = wait_log($breakagelog, qr/(?:without a server.*\n(?s:.*)){$n_fallback}/);
my @lines = grep { /without a server/ } split /\n/, $log;
is(scalar @lines, $n_fallback, "one fallback line per request in the breakage log");
like($log, $fallback_re, 'the fallback line names the script, the directory and the fix')
	or diag $log;

$res = $http->get(url("refuse.cgi"));
is($res->{status}, 500, '--fallback=refuse without a safe run directory answers 500');
$log = wait_log($breakagelog, qr/prefork-interp: .*\Q$unsafe\E.*\n/);
like($log, qr/^prefork-interp: (?!running).*'\Q$unsafe\E'.*--run-dir/m,
     "the refusal's line, naming the directory and the fix, reached the breakage log");
stop_lighttpd();
ok(stop_servers(), 'every server and watcher quit once its socket was removed');

# lighttpd's own time limit (cgi.limits read-timeout) ends a slow call as
# it ends the script run standalone: SIGTERM to the CGI's process (the
# client, which relays it to the call).  (A script that ignores it runs
# on to its end, standalone or served: lighttpd sends nothing more.)
ok(start_lighttpd(read_timeout => 2), 'lighttpd restarted with a CGI read-timeout');
timeout_checks(name => 'lighttpd read-timeout', port => $port, marks => $marks,
	       standalone => '/standalone.cgi', served => '/stream.cgi',
	       cases => [['', 'default SIGTERM']]);
stop_lighttpd();

# Debian's stock configuration (no server.breakagelog): CGI stderr goes
# to lighttpd's own stderr, never to server.errorlog.
ok(start_lighttpd(stock => 1), 'lighttpd restarted without server.breakagelog');
my $before_err = length slurp_file($errorlog);
my $before_out = length slurp_file($stderr_file);
$res = $http->get(url("refuse.cgi"));
is($res->{status}, 500, 'stock: a refused script answers 500');
my $out = substr wait_log($stderr_file, qr/\Q$unsafe\E/), $before_out;
like($out, qr/^prefork-interp: .*\Q$unsafe\E/m,
     "stock: the client's line went to lighttpd's own stderr");
stop_lighttpd();
unlike(substr(slurp_file($errorlog), $before_err), qr/prefork-interp:/,
       'stock: nothing of it reached server.errorlog');

# Out of the box: no run directory named anywhere.  www-data has no
# /run/user/33 and no home of its own; the client then uses the
# system-wide per-user directory that the installed tmpfiles.d snippet
# provides (/run/prefork-interp, root-owned and sticky).
my $sysdir = SYSTEM_RUN_DIR;
$made_sysdir = ensure_system_run_dir();
ok(start_lighttpd(default_run_dir => 1),
   'lighttpd restarted without naming a run directory');
request_series(name => 'out of the box', url => url("laundered.cgi"), n => 8,
	       uid => $www_uid, laundered => 1, served => 1, titles => \&ours);
ok(sockets_below($www_uid, "$sysdir/$www_uid"),
   "out of the box: its socket is below $sysdir/$www_uid")
	or diag `ls -laR $sysdir 2>&1`;
stop_lighttpd();
done_testing;
