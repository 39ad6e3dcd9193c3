# Real users on one host (issue 14): two users sharing one script in a
# system directory, one of them with a symlinked home; users without a
# usable home and without /run/user/UID (a daemon, CGI), first with no
# safe run directory at all (the script still runs, directly) and then
# with the system-wide directory of data/tmpfiles.d; squatting by a
# second user in /run/prefork-interp and in /tmp; and sudo -u from a
# directory the target user cannot search.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin", "$FindBin::Bin/../lib";
use DeployTest;
use PFIHarness;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use POSIX qw(uname);
use Test::More;

need_root_and_tools();

my $host = (uname())[1];
my ($a_uid) = ensure_user('pfi14ra', home => '/home/pfi14ra');
make_path('/home/pfi14ra'); system('chown', 'pfi14ra:pfi14ra', '/home/pfi14ra'); chmod 0755, '/home/pfi14ra';
# A symlinked home: /home/pfi14rb -> /srv/pfi14r-homes/pfi14rb.
my ($b_uid) = ensure_user('pfi14rb', home => '/home/pfi14rb');
make_path('/srv/pfi14r-homes/pfi14rb');
chmod 0755, '/srv/pfi14r-homes';
system('chown', 'pfi14rb:pfi14rb', '/srv/pfi14r-homes/pfi14rb');
symlink('/srv/pfi14r-homes/pfi14rb', '/home/pfi14rb') unless -l '/home/pfi14rb';
# No home at all, and a root-owned one (like www-data's /var/www).
my ($n_uid) = ensure_user('pfi14rn', home => '/nonexistent');
make_path('/srv/pfi14r-www'); chmod 0755, '/srv/pfi14r-www';
my ($w_uid) = ensure_user('pfi14rw', home => '/srv/pfi14r-www');
my ($m_uid) = ensure_user('pfi14rm', home => '/nonexistent');    # the squatter

my $root = layout(<<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "uid=$<\nserver=", getppid(), "\nargs=@ARGV\n";
EOS
my $script = "$root/bin/shared.pl";

sub run_dir_of {
	my ($uid, $home) = @_;
	return -d "/run/user/$uid" ? "/run/user/$uid/prefork-interp"
				   : "$home/.prefork-interp/$host";
}

# Two users sharing one script; one home is a symlink.
my %server;
for my $u (['pfi14ra', $a_uid, '/home/pfi14ra'], ['pfi14rb', $b_uid, '/srv/pfi14r-homes/pfi14rb']) {
	my ($name, $uid, $home) = @$u;
	my $r1 = run_as($name, '/', [$script, 'one']);
	my $r2 = run_as($name, '/', [$script, 'two']);
	is($r1->{status} + $r2->{status}, 0, "$name: both calls succeed") or diag $r1->{err}, $r2->{err};
	is($r1->{err} . $r2->{err}, '', "$name: nothing on stderr (accelerated, no fallback)");
	is(field($r1->{out}, 'uid'), $uid, "$name: runs as $name");
	is(field($r2->{out}, 'args'), 'two', "$name: arguments reach the call");
	is(field($r2->{out}, 'server'), field($r1->{out}, 'server'), "$name: the second call reuses the server");
	my $rd = run_dir_of($uid, $home);
	my @st = lstat $rd;
	ok(@st && -d _ && $st[4] == $uid && ($st[2] & 0777) == 0700, "$name: run directory $rd is ${name}'s, mode 0700");
	$server{$name} = field($r1->{out}, 'server');
}
isnt($a_uid, $b_uid, 'two different users');
my @owner = map { (stat "/proc/$server{$_}")[4] // -1 } qw(pfi14ra pfi14rb);
is("@owner", "$a_uid $b_uid", 'each user\'s server runs as that user');

# No usable home and no /run/user/UID.
SKIP: {
	skip "/run/user/$n_uid or /run/user/$w_uid exists", 12
		if -e "/run/user/$n_uid" || -e "/run/user/$w_uid";
	SKIP: {
		skip '/run/prefork-interp is installed already: cannot test its absence', 7
			if -e '/run/prefork-interp';
		my $r = run_as('pfi14rn', '/', [$script, 'x']);
		is($r->{status}, 0, 'no safe run directory: the script still runs') or diag $r->{err};
		is(field($r->{out}, 'args'), 'x', 'no safe run directory: with its arguments');
		my @l = client_lines($r);
		is(scalar(@l), 1, 'no safe run directory: one line on stderr') or diag $r->{err};
		like($l[0] // '', qr/without a server \(not accelerated\): no safe run directory \(.*\/nonexistent.*\/run\/prefork-interp' does not exist\); .*--run-dir DIR or PREFORK_INTERP_RUN_DIR/,
		     'no safe run directory: the line names the candidates and the fix');
		$r = run_as('pfi14rw', '/', [$script], PREFORK_INTERP_FALLBACK => 'quiet');
		is($r->{err}, '', 'root-owned home, quiet: nothing on stderr');
		is(field($r->{out}, 'uid'), $w_uid, 'root-owned home, quiet: ran');
		$r = run_as('pfi14rw', '/', [$script], PREFORK_INTERP_FALLBACK => 'refuse');
		is($r->{status} >> 8, 127, 'root-owned home, refuse: exit 127');
	}
	my $made = !-e '/run/prefork-interp';
	my $snippet = "$FindBin::Bin/../../data/tmpfiles.d/prefork-interp.conf";
	my $how = 'the tmpfiles.d snippet (systemd-tmpfiles --create)';
	if (system('systemd-tmpfiles', '--create', $snippet) != 0) {
		# No systemd-tmpfiles: make what the snippet's line says.
		my ($type, $path, $mode, $user, $group) = split ' ',
			(grep { /^d / } do { open my $fh, '<', $snippet or die; <$fh> })[0];
		mkdir $path; chmod oct($mode), $path; chown scalar(getpwnam $user), scalar(getgrnam $group), $path;
		$how = 'the tmpfiles.d snippet\'s line (by hand: no systemd-tmpfiles)';
	}
	my @st = lstat '/run/prefork-interp';
	ok(@st && -d _ && $st[4] == 0 && ($st[2] & 07777) == 01777,
	   "$how makes /run/prefork-interp root-owned, mode 1777");
	my $r1 = run_as('pfi14rn', '/', [$script]);
	my $r2 = run_as('pfi14rn', '/', [$script]);
	is($r1->{err} . $r2->{err}, '', 'no home: accelerated through /run/prefork-interp');
	is(field($r2->{out}, 'server'), field($r1->{out}, 'server'), 'no home: the server is reused');
	@st = lstat "/run/prefork-interp/$n_uid";
	ok(@st && -d _ && $st[4] == $n_uid && ($st[2] & 0777) == 0700, "no home: /run/prefork-interp/$n_uid is the user's, 0700");

	# Squatting there: another user made the entry first.
	my $squat = "/run/prefork-interp/$w_uid";
	remove_tree($squat);
	system(@{ as_user('pfi14rm', 'mkdir', '-m', '0777', $squat) }) == 0 or die;
	my $r = run_as('pfi14rw', '/', [$script, 'y']);
	is($r->{status}, 0, 'squatted /run/prefork-interp entry: the script still runs');
	like(join('', client_lines($r)), qr/'\Q$squat\E' is owned by uid $m_uid/, 'squatted entry: skipped, named');
	is(join(' ', do { opendir my $d, $squat or die; grep { !/^\.\.?$/ } readdir $d }), '',
	   'squatted entry: nothing created in it');
	remove_tree($squat);
	system(@{ as_user('pfi14rm', 'ln', '-s', '/tmp', $squat) }) == 0 or die;
	$r = run_as('pfi14rw', '/', [$script]);
	like(join('', client_lines($r)), qr/is a symlink owned by uid $m_uid/, 'a squatter\'s symlink there is not followed');
	unlink $squat;
	$r = run_as('pfi14rw', '/', [$script]);
	is($r->{err}, '', 'root-owned home: accelerated once the squat is gone');
	system(@{ as_user($_, "$root/bin/prefork-interp", '--kill-all') }) for qw(pfi14rn pfi14rw);
	remove_tree("/run/prefork-interp/$n_uid", "/run/prefork-interp/$w_uid");
	rmdir '/run/prefork-interp' if $made;     # others' entries keep it
}

# Squatting in /tmp: the override /tmp means /tmp/prefork-interp-UID; a
# second user who made that first (with a server under the right name)
# gets nothing, and the user's script still runs.
{
	my $own = tempdir('pfi14r-own-XXXXXX', DIR => '/tmp', CLEANUP => 0);
	chmod 0755, $own; system('chown', 'pfi14ra', $own);
	my $r = run_as('pfi14ra', '/', [$script], PREFORK_INTERP_RUN_DIR => $own);
	is($r->{err}, '', '/tmp: a private directory of the user in /tmp is accepted');
	my ($sock) = grep { /^s/ } do { opendir my $d, "$own/prefork-interp-$a_uid" or die; readdir $d };
	ok($sock, '/tmp: the server socket is in our subdirectory');
	system(@{ as_user('pfi14ra', "$root/bin/prefork-interp", '--kill-all') });

	my $target = "/tmp/prefork-interp-$a_uid";
	remove_tree($target);
	system(@{ as_user('pfi14rm', 'mkdir', '-m', '0777', $target) }) == 0 or die;
	my $fake = fake_server("$target/$sock", sub { my ($c, $rep) = @_; print $rep "connected\n" },
			       uid => $m_uid, chown => $m_uid);
	$r = run_as('pfi14ra', '/', [$script, 'z'], PREFORK_INTERP_RUN_DIR => '/tmp');
	is($r->{status}, 0, '/tmp squatted: the script still runs');
	is(field($r->{out}, 'args'), 'z', '/tmp squatted: directly, with its arguments');
	like(join('', client_lines($r)), qr/'\Q$target\E' is owned by uid $m_uid/, '/tmp squatted: the line names the squat');
	is(fake_wait($fake, 0.3), '', '/tmp squatted: the planted server received nothing');
	remove_tree($target);
	$r = run_as('pfi14ra', '/', [$script], PREFORK_INTERP_RUN_DIR => '/tmp');
	is($r->{err}, '', '/tmp itself (root-owned, sticky) is passed through once the squat is gone');
	ok(-S "$target/$sock", '/tmp: the server is in /tmp/prefork-interp-UID');
	system(@{ as_user('pfi14ra', "$root/bin/prefork-interp", '--run-dir', '/tmp', '--kill-all') });
	remove_tree($target, $own);
}

# sudo -u from a directory the target user cannot search.
SKIP: {
	skip 'sudo is not installed', 7 unless -x '/usr/bin/sudo';
	my $private = tempdir('pfi14r-private-XXXXXX', DIR => '/root', CLEANUP => 0);
	chmod 0700, $private;
	my @sudo = ('sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', $private,
		    'sudo', '-u', 'pfi14ra', '--');
	my $r1 = run_call([@sudo, $script, 's1'], unset => ['PREFORK_INTERP_RUN_DIR']);
	my $r2 = run_call([@sudo, $script, 's2'], unset => ['PREFORK_INTERP_RUN_DIR']);
	is($r1->{status} + $r2->{status}, 0, 'sudo -u from an unsearchable directory: runs') or diag $r1->{err};
	is($r1->{err} . $r2->{err}, '', 'sudo -u: accelerated (the directory is identified through /proc)');
	is(field($r2->{out}, 'args'), 's2', 'sudo -u: arguments');
	is(field($r2->{out}, 'server'), field($r1->{out}, 'server'), 'sudo -u: the server is reused from there');

	# Where the working directory cannot be identified at all (no
	# /proc either), the script still runs, directly.
	SKIP: {
		my $probe = system('unshare', '--mount', '--propagation', 'private', 'true');
		skip 'unshare --mount is not permitted here', 3 if $probe;
		my $r = run_call(['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
				  'umount -l /proc && cd "$1" && shift && exec "$@"', 'sh', $private,
				  @{ as_user('pfi14ra', $script, 'np') }], unset => ['PREFORK_INTERP_RUN_DIR']);
		like(join('', client_lines($r)) . "|" . field($r->{out}, 'args'),
		     qr/cannot identify the working directory.*\|np$/s,
		     'no /proc and an unsearchable directory: runs directly, saying why');
		# Sockets are bound and reached through /proc/self/fd: without
		# /proc no server can be made, and the script runs directly
		# (it once ended with exit 127, "cannot listen on").
		$r = run_call(['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
			       'umount -l /proc && cd / && exec "$@"', 'sh',
			       @{ as_user('pfi14ra', $script, 'np2') }], unset => ['PREFORK_INTERP_RUN_DIR']);
		is($r->{status}, 0, 'no /proc, a searchable directory: the script runs')
			or diag $r->{err};
		like(join('', client_lines($r)) . "|" . field($r->{out}, 'args'),
		     qr/cannot be reached through \/proc\/self\/fd\/\d+ \(is \/proc mounted\?\).*\|np2$/s,
		     'no /proc, a searchable directory: directly, saying why');
	}
	remove_tree($private);
}

system(@{ as_user($_, "$root/bin/prefork-interp", '--kill-all') }) for qw(pfi14ra pfi14rb);
ok(wait_processes_gone("$root/bin/shared.pl", 10), 'every server stopped');
remove_tree($root);
done_testing;
