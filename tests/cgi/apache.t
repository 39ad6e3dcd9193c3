# CGI through Apache (Debian's apache2, mod_cgi, prefork MPM), bound to
# 127.0.0.1 on free ports, started by this test with its own
# configuration in a temporary directory (the system's sites and
# service are neither used nor touched) and stopped after.
#
# As www-data, with SetEnv PREFORK_INTERP_RUN_DIR (as the README shows):
# every response of a series is right, no request's HTTP_* header or
# query reaches another request, the laundered (-L) initialisation sees
# only the fixed environment, one server answers every request (calls
# forked from it: accelerated, not falling back), no process title shows
# a request's data; a `cp -p` deploy of the script is served by a fresh
# server at the next request, and (without syslog) the old server's
# message reaches `messages` in the run directory; a failing
# initialisation answers 500 with its message in Apache's ErrorLog.
# Then a series under mod_cgid and the event MPM (what Debian's
# `a2enmod cgi` gives by default).  Under both, an 8 MiB request body
# and a 24 MiB response pass whole, and Apache's Timeout (SIGTERM, then
# SIGKILL) ends a slow call as it ends the script run standalone, also
# one that ignores SIGTERM.
#
# With suexec (apache2-suexec-pristine or -custom; scripts below its
# document root, owned by the user they run as): the script runs as
# that user; suexec strips SetEnv PREFORK_INTERP_RUN_DIR, and the run
# directory is found anyway: in the home directory of a user who has
# one, in /run/prefork-interp/UID (the tmpfiles.d directory) for a user
# who has none.  `--list` and `--kill-all`, run as that user, see and
# stop the server.  When that entry is squatted by another user, the
# client runs the script directly, one line per request in the
# ErrorLog, and every response is still right.
use strict;
use warnings;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use FindBin;
use HTTP::Tiny;
use lib $FindBin::Bin;
use lib "$FindBin::Bin/../deploy";
use lib grep { defined } $ENV{PFI_PERL_LIB};   # the module under test
use CGITest;
use DeployTest qw(ensure_user as_user);
use PFIHarness qw(run_call wait_for);
use Proc::Prefork::Interp::LogFile ();
use Test::More;

my $apache2 = '/usr/sbin/apache2';
my $modules = '/usr/lib/apache2/modules';
plan skip_all => 'needs root (Apache must start as root to serve as www-data)'
	unless $> == 0;
plan skip_all => "needs Apache ($apache2: Debian package apache2, in the test set-up)"
	unless -x $apache2;
for my $m (qw(mpm_prefork mpm_event cgi cgid env mime authz_core)) {
	plan skip_all => "needs Apache's mod_$m ($modules/mod_$m.so)"
		unless -e "$modules/mod_$m.so";
}
plan skip_all => 'needs the www-data user' unless defined getpwnam 'www-data';

my $L = cgi_layout('apache');
my $base = $L->{base};
my $www_uid = $L->{www_uid};
my $errorlog = "$L->{log}/error.log";
my $stderr_file = "$base/apache2.out";
write_cgi($L, "$L->{www}/laundered.cgi", '-L', REPORT_BODY);
write_cgi($L, "$L->{www}/unlaundered.cgi", '-U', REPORT_BODY);
write_cgi($L, "$L->{www}/broken.cgi", '-L', BROKEN_BODY);
write_cgi($L, "$L->{www}/stream.cgi", '-L', STREAM_BODY);
# The same script run standalone, for comparison.
write_cgi($L, "$L->{www}/standalone.cgi", undef, STREAM_BODY);
my $marks = "$base/marks";
mkdir $marks or die "mkdir $marks: $!";
chown $www_uid, $L->{www_gid}, $marks;

# The configuration: modules, logs and run-time files in $base only.
# mod_cgi under the prefork MPM, or (with $cgid) mod_cgid under the
# event MPM, which is what Debian's `a2enmod cgi` enables by default.
# Each site: port, document root, and the suexec user if any; every
# site sets PREFORK_INTERP_RUN_DIR (suexec is to strip it).
my $cgid = 0;
my $timeout = 0;    # Apache's Timeout, if not its default
sub apache_conf {
	my (@sites) = @_;
	my $suexec = grep { $_->{suexec} } @sites;
	my $cgi = $cgid
		? "LoadModule mpm_event_module $modules/mod_mpm_event.so\n"
		  . "LoadModule cgid_module $modules/mod_cgid.so\nScriptSock $base/cgid.sock"
		: "LoadModule mpm_prefork_module $modules/mod_mpm_prefork.so\n"
		  . "LoadModule cgi_module $modules/mod_cgi.so";
	my $conf = <<"EOC";
ServerRoot $base
ServerName 127.0.0.1
$cgi
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule env_module $modules/mod_env.so
LoadModule mime_module $modules/mod_mime.so
TypesConfig /dev/null
User www-data
Group www-data
PidFile $base/apache2.pid
DefaultRuntimeDir $base
Mutex file:$base
ErrorLog $errorlog
LogLevel warn
DocumentRoot $L->{www}
EOC
	$conf .= "Timeout $timeout\n" if $timeout;
	$conf .= "LoadModule suexec_module $modules/mod_suexec.so\n" if $suexec;
	for my $s (@sites) {
		my $user = $s->{suexec} ? "SuexecUserGroup $s->{suexec} $s->{suexec}" : '';
		$conf .= <<"EOC";
Listen 127.0.0.1:$s->{port}
<VirtualHost 127.0.0.1:$s->{port}>
    DocumentRoot $s->{root}
    $user
    <Directory $s->{root}>
        Options +ExecCGI
        AddHandler cgi-script .cgi
        Require all granted
        SetEnv PREFORK_INTERP_RUN_DIR $L->{run}
    </Directory>
</VirtualHost>
EOC
	}
	return $conf;
}

my $httpd_pid;
# Starts Apache with the sites (document roots, suexec users) given;
# returns their ports.
sub start_apache {
	my (@sites) = @_;
	for my $try (1 .. 3) {   # another process may take a free port first
		my %taken;
		for my $s (@sites) {
			do { $s->{port} = free_port() } while $taken{$s->{port}}++;
		}
		open my $fh, '>', "$base/apache2.conf" or die $!;
		print $fh apache_conf(@sites);
		close $fh or die $!;
		$httpd_pid = start_daemon([$apache2, '-f', "$base/apache2.conf",
					   '-DFOREGROUND'], $stderr_file,
					  [map { $_->{port} } @sites]);
		return map { $_->{port} } @sites if $httpd_pid;
	}
	return;
}

sub stop_apache { stop_daemon($httpd_pid); $httpd_pid = undef }

# Our www-data servers: their titles name scripts below $base.
sub ours { my ($cmd) = @_; return index($cmd, $base) >= 0 && $cmd !~ /apache2/ }

my @cleanups;
END {
	my $status = $?;
	stop_apache();
	$_->() for reverse @cleanups;
	if ($base) {
		stop_servers_in([$L->{run}], $www_uid, \&ours);
		kill 'KILL', map { $_->[0] } processes_where(\&ours);
		remove_tree($base) unless $ENV{PFI_KEEP};
	}
	$? = $status;
}

my $http = HTTP::Tiny->new(timeout => 30);

#---------------------------------------------------------------- as www-data

my ($port) = start_apache({ root => $L->{www} });
ok($port, "Apache started on 127.0.0.1:$port") or do {
	diag `cat $stderr_file $errorlog 2>/dev/null`;
	done_testing;
	exit 1;
};
for my $script (qw(laundered unlaundered)) {
	my $seen = request_series(name => "www-data $script",
		url => "http://127.0.0.1:$port/$script.cgi", n => 24,
		uid => $www_uid, laundered => $script eq 'laundered', served => 1,
		titles => \&ours);
	is(scalar(grep { ($_->{run_dir_var} // '') eq $L->{run} } @$seen), scalar @$seen,
	   "www-data $script: SetEnv PREFORK_INTERP_RUN_DIR reached every call");
}
ok(sockets_below($www_uid, $L->{run}), 'www-data: the sockets are in the SetEnv run directory');
stream_checks(name => 'mod_cgi', url => "http://127.0.0.1:$port/stream.cgi");
unlike(slurp_file($errorlog), qr/prefork-interp:/, 'served requests wrote no client line to the ErrorLog');

# A deploy as `cp -p` does it: new contents renamed over the script,
# keeping the old modification time.  The next request is answered by a
# fresh server running the new code; the old server's message about it
# goes to syslog or, without one, to `messages` in the run directory.
{
	my $script = "$L->{www}/laundered.cgi";
	my $before = fields($http->get("http://127.0.0.1:$port/laundered.cgi")->{content});
	my $mtime = (stat $script)[9];
	write_cgi($L, "$script.new", '-L', REPORT_BODY . qq{print "version=2\n";\n});
	utime $mtime - 60, $mtime - 60, "$script.new" or die "utime: $!";
	rename "$script.new", $script or die "rename: $!";
	my $after = fields($http->get("http://127.0.0.1:$port/laundered.cgi")->{content});
	is($after->{version} // '', '2', 'cp -p deploy: the next request runs the new code');
	ok($after->{init_pid} && $before->{init_pid} && $after->{init_pid} != $before->{init_pid},
	   'cp -p deploy: from a fresh server');
	SKIP: {
		skip 'a syslog daemon listens on /dev/log: the servers\' messages go there', 1
			if Proc::Prefork::Interp::LogFile::syslog_reachable();
		# The client binds the socket through /proc/self/fd/N/NAME,
		# which the server must see through to find its run directory.
		my $messages = "$L->{run}/prefork-interp-$www_uid/messages";
		like(wait_log($messages, qr/laundered\.cgi/), qr/\Q$script\E changed since startup/,
		     "the old server's message reached $messages");
	}
}

my $res = $http->get("http://127.0.0.1:$port/broken.cgi");
is($res->{status}, 500, 'a script whose initialisation fails answers 500');
my $log = wait_log($errorlog, qr/prefork-interp: initialisation/);
like($log, qr/BROKEN-INIT-MARKER/, "the script's own message reached Apache's ErrorLog");
like($log, qr/prefork-interp: initialisation of '\Q$L->{www}\E\/broken\.cgi' failed/,
     "the client's line reached Apache's ErrorLog");
stop_apache();
ok(stop_servers_in([$L->{run}], $www_uid, \&ours),
   'every www-data server quit once its socket was removed');

# The same under mod_cgid (the CGI forked by its daemon, not by the
# worker that took the request).
$cgid = 1;
($port) = start_apache({ root => $L->{www} });
ok($port, "Apache (event MPM, mod_cgid) started on 127.0.0.1:$port")
	or diag `cat $stderr_file $errorlog 2>/dev/null`;
request_series(name => 'www-data mod_cgid', url => "http://127.0.0.1:$port/laundered.cgi",
	       n => 12, uid => $www_uid, laundered => 1, served => 1, titles => \&ours);
stream_checks(name => 'mod_cgid', url => "http://127.0.0.1:$port/stream.cgi");
stop_apache();
$cgid = 0;
ok(stop_servers_in([$L->{run}], $www_uid, \&ours),
   'mod_cgid: every www-data server quit once its socket was removed');

# Apache's Timeout ends a slow call as it ends the script run
# standalone: SIGTERM to the CGI's process (the client, which relays it
# to the call), and SIGKILL 3 s later if it is still there (the client
# is gone: the server ends the call), under mod_cgi and mod_cgid alike.
$timeout = 2;
for my $mod (0, 1) {
	$cgid = $mod;
	my $name = $mod ? 'mod_cgid Timeout' : 'mod_cgi Timeout';
	my ($p) = start_apache({ root => $L->{www} });
	ok($p, "Apache started with Timeout $timeout ($name)") or next;
	timeout_checks(name => $name, port => $p, marks => $marks,
		       standalone => '/standalone.cgi', served => '/stream.cgi',
		       cases => [['', 'default SIGTERM'], ['&ignore=1', 'SIGTERM ignored']]);
	stop_apache();
}
($timeout, $cgid) = (0, 0);
ok(stop_servers_in([$L->{run}], $www_uid, \&ours),
   'Timeout: every www-data server quit once its socket was removed');

#---------------------------------------------------------------- suexec

# suexec's compiled-in settings (it prints them to root).
sub suexec_settings {
	my $suexec = '/usr/lib/apache2/suexec';
	return unless -u $suexec && (stat $suexec)[4] == 0;
	my %v = `$suexec -V 2>&1` =~ /-D (\w+)="?([^"\n]*)"?/g;
	return %v;
}

SKIP: {
	my %suexec = suexec_settings();
	my $why = !%suexec ? 'needs suexec (Debian package apache2-suexec-pristine, in the test set-up)'
		: !-e "$modules/mod_suexec.so" ? "needs Apache's mod_suexec"
		: ($suexec{AP_HTTPD_USER} // '') ne 'www-data' ? "suexec serves '$suexec{AP_HTTPD_USER}', not www-data"
		: !$suexec{AP_DOC_ROOT} || !-d $suexec{AP_DOC_ROOT} ? "suexec's document root '"
			. ($suexec{AP_DOC_ROOT} // '') . "' does not exist"
		: (grep { !-x "/usr/sbin/$_" && !-x "/usr/bin/$_" } qw(useradd setpriv))
			? 'needs useradd and setpriv' : '';
	skip $why, 1 if $why;

	# A user with a home directory, and one with none (as a service
	# account).  Names start with this issue's prefix.
	my $home = '/home/pfi14sh';
	my ($h_uid, $h_gid) = ensure_user('pfi14sh', home => $home);
	my ($n_uid, $n_gid) = ensure_user('pfi14sn');
	for my $u ($h_uid, $n_uid) {
		die "suexec refuses uid $u (below AP_UID_MIN $suexec{AP_UID_MIN})\n"
			if $u < ($suexec{AP_UID_MIN} // 100);
	}
	unless (-d $home) {
		make_path('/home', { mode => 0755 });
		mkdir $home, 0755 or die "mkdir $home: $!";
		chown $h_uid, $h_gid, $home or die "chown $home: $!";
	}
	my $sysdir = SYSTEM_RUN_DIR;
	my $made_sysdir = ensure_system_run_dir();
	my $n_entry = "$sysdir/$n_uid";
	# Our own test user's entry, possibly squatted by an earlier run.
	remove_tree($n_entry) if -e $n_entry && (lstat $n_entry)[4] != $n_uid;

	# suexec runs only scripts below its document root, in directories
	# and files owned by the user they run as, writable by nobody else.
	my $doc = tempdir('pfi14s-XXXXXX', DIR => $suexec{AP_DOC_ROOT}, CLEANUP => 0);
	chmod 0755, $doc;
	push @cleanups, sub { remove_tree($doc) };
	my %site;
	for ([home => 'pfi14sh', $h_uid, $h_gid], [nohome => 'pfi14sn', $n_uid, $n_gid]) {
		my ($name, $user, $uid, $gid) = @$_;
		mkdir "$doc/$name", 0755 or die "mkdir: $!";
		chown $uid, $gid, "$doc/$name" or die "chown: $!";
		write_cgi($L, "$doc/$name/laundered.cgi", '-L', REPORT_BODY, $uid, $gid);
		$site{$name} = { root => "$doc/$name", suexec => $user, uid => $uid };
	}
	my $mine = sub { my $uid = shift; sub { $_[1] == $uid } };
	my $kill_all = sub {
		my ($user) = @_;
		return run_call(as_user($user, $L->{client}, '--kill-all'), dir => '/tmp',
				unset => [qw(PREFORK_INTERP_RUN_DIR PREFORK_INTERP_FALLBACK)]);
	};
	push @cleanups, sub {
		for my $s (values %site) {
			$kill_all->($s->{suexec});
			wait_for(sub { !processes_where($mine->($s->{uid})) }, 10);
		}
		release_system_run_dir($made_sysdir, $n_uid);
	};

	my ($home_port, $nohome_port) = start_apache($site{home}, $site{nohome});
	ok($home_port, 'Apache started with two suexec sites') or do {
		diag `cat $stderr_file $errorlog 2>/dev/null`;
		skip 'Apache did not start', 1;
	};
	my $errors_before = length slurp_file($errorlog);

	for my $case ([home => $home_port, "$home/.prefork-interp"],
		      [nohome => $nohome_port, $n_entry]) {
		my ($name, $p, $where) = @$case;
		my $uid = $site{$name}{uid};
		my $seen = request_series(name => "suexec $name",
			url => "http://127.0.0.1:$p/laundered.cgi", n => 12,
			uid => $uid, laundered => 1, served => 1,
			titles => $mine->($uid));
		is(scalar(grep { ($_->{run_dir_var} // '') eq '(unset)' } @$seen), scalar @$seen,
		   "suexec $name: suexec stripped SetEnv PREFORK_INTERP_RUN_DIR from every call");
		ok(sockets_below($uid, $where), "suexec $name: the server's socket is below $where")
			or diag `ls -laR $where 2>&1`;
	}
	unlike(substr(slurp_file($errorlog), $errors_before), qr/prefork-interp:/,
	       'suexec: served requests wrote no client line to the ErrorLog')
		or diag `tail -5 /var/log/apache2/suexec.log 2>&1`;

	my $list = run_call(as_user('pfi14sn', $L->{client}, '--list'), dir => '/tmp',
			    unset => ['PREFORK_INTERP_RUN_DIR']);
	is($list->{status}, 0, '--list as the suexec user succeeds') or diag $list->{err};
	like($list->{out}, qr/laundered\.cgi/, '--list as the suexec user shows its CGI server')
		or diag $list->{out};
	my $killed = $kill_all->('pfi14sn');
	is($killed->{status}, 0, '--kill-all as the suexec user succeeds') or diag $killed->{err};
	ok(wait_for(sub { !processes_where($mine->($n_uid)) }, 10),
	   '--kill-all: the suexec user\'s server and watcher quit');

	# Another user took /run/prefork-interp/UID first: never trusted;
	# no candidate is left, so each request runs the script directly.
	remove_tree($n_entry);
	mkdir $n_entry, 0700 or die "mkdir $n_entry: $!";
	chown $h_uid, $h_gid, $n_entry or die "chown $n_entry: $!";
	my $n = 4;
	$errors_before = length slurp_file($errorlog);
	request_series(name => 'suexec squatted', url => "http://127.0.0.1:$nohome_port/laundered.cgi",
		       n => $n, uid => $n_uid, laundered => 1, served => 0);
	wait_for(sub { (() = slurp_file($errorlog) =~ /without a server/g) >= $n }, 5);
	my @lines = grep { /prefork-interp:/ } split /\n/, substr slurp_file($errorlog), $errors_before;
	is(scalar @lines, $n, 'suexec squatted: one client line per request in the ErrorLog')
		or diag join "\n", @lines;
	is(scalar(grep { /prefork-interp: running 'laundered\.cgi' without a server \(not accelerated\): .*\Q$n_entry\E.*--run-dir.*--fallback=quiet/ } @lines),
	   scalar @lines, 'suexec squatted: each says why (the squatted entry) and names the fix')
		or diag join "\n", @lines;
	ok(!sockets_below($n_uid, $sysdir, "$home/.prefork-interp"),
	   'suexec squatted: no socket made anywhere');
	stop_apache();
}
done_testing;
