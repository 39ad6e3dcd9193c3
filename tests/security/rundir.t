# Run directory attacks (SECURITY.md, "Run directory"): a run directory
# or parent writable by group or other (and not sticky), owned by
# another user, reached through a symlink that an untrusted directory
# holds or whose target is unsafe, or swapped for a symlink between
# check and use.  In each case an attacker's server is planted where the
# client would look if it accepted the path: with --fallback=refuse the
# client must refuse with one line naming the path, the problem and the
# fix; by default it runs the script directly, saying so in one line;
# either way the planted server receives nothing.  Safe cases (a sticky
# parent, a symlink held by a safe directory) are accepted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);

need_root();

my $env = new_env();
my $client = client_path();
my $dir = $env->{dir};
my ($script, $marker) = victim($env);
my @cmd = ($client, '-U', '-g', 'sec', 'perl', $script);
my $sub = run_subdir('', 0);      # our subdirectory of an override
$sub =~ s{^/}{};

# Lists a directory's entries (no . and ..).
sub entries {
	my ($d) = @_;
	opendir my $h, $d or return ();
	return sort grep { !/^\.\.?$/ } readdir $h;
}

# Plants an attacker's server at $plant_dir/ssec (running as the user,
# so only the directory check stands in the way), runs the client with
# $rundir and checks the refusal; then, without strictness, that the
# script runs directly (one line) and still nothing reaches the plant.
sub refused {
	my ($label, $rundir, $plant_dir, $want) = @_;
	refused_once($label, $rundir, $plant_dir, $want, 'refuse');
	refused_once("$label (fallback)", $rundir, $plant_dir, $want, 'warn');
}

sub refused_once {
	my ($label, $rundir, $plant_dir, $want, $fallback) = @_;
	unlink $marker;
	my $fake = fake_server("$plant_dir/ssec", sub {
		my ($c, $rep) = @_;
		print $rep "connected\n";
		syswrite $c, "PFI\n\0\0\0\0";
		my $got = read_n($c, 4096, 2);
		print $rep "got " . length($got) . " bytes\n";
	});
	my @before = entries($plant_dir);
	my $r = run_call(\@cmd, dir => $dir,
			 env => { PREFORK_INTERP_RUN_DIR => $rundir,
				  PREFORK_INTERP_FALLBACK => $fallback });
	if ($fallback eq 'refuse') {
		is($r->{status} >> 8, 127, "$label: refused (exit 127)");
		my $line = one_prefork_line($r, $want, $label);
		like($line // '', qr/--run-dir DIR or PREFORK_INTERP_RUN_DIR/,
		     "$label: the message names the fix");
		is($r->{out}, '', "$label: nothing on stdout");
		ok(!-e $marker, "$label: the script did not run");
	} else {
		is($r->{status}, 0, "$label: the script ran directly") or diag $r->{err};
		one_prefork_line($r, qr/without a server \(not accelerated\): .*$want/, $label);
		is($r->{out}, "ran \n", "$label: its output");
	}
	is(join(' ', entries($plant_dir)), join(' ', @before),
	   "$label: nothing created where the attacker could see it");
	my $report = fake_wait($fake, 0.3);
	is($report, '', "$label: the planted server received nothing");
}

# A safe case: the server starts in $where, saying nothing.
sub accepted {
	my ($label, $rundir, $where) = @_;
	my $r = run_call(\@cmd, dir => $dir, env => { PREFORK_INTERP_RUN_DIR => $rundir });
	is($r->{status}, 0, "$label: accepted") or diag $r->{err};
	is($r->{err}, '', "$label: no message");
	ok(-S "$where/ssec", "$label: the server is in $where");
	unlink "$where/ssec";
	ok(wait_processes_gone($script, 10), "$label: its server quit");
}

# Group- or other-writable run directory or parent.
for my $case ([0770, 'its group'], [0707, 'others'], [0702, 'others']) {
	my ($mode, $who) = @$case;
	my $rd = "$dir/w" . sprintf('%o', $mode);
	mkdir $rd or die; chmod $mode, $rd;
	mkdir "$rd/$sub", 0700 or die;
	refused(sprintf('run dir mode %04o', $mode), $rd, "$rd/$sub",
		qr/\Q$rd\E' is writable by \Q$who\E/);
	remove_tree($rd);
}
for my $case ([0775, 'its group'], [0757, 'others']) {
	my ($mode, $who) = @$case;
	my $parent = "$dir/p" . sprintf('%o', $mode);
	mkdir $parent or die; chmod $mode, $parent;
	make_path("$parent/run/$sub", { mode => 0700 });
	refused(sprintf('parent mode %04o', $mode), "$parent/run", "$parent/run/$sub",
		qr/\Q$parent\E' is writable by \Q$who\E/);
	remove_tree($parent);
}

# A sticky parent (like /tmp) is passed through to what root or the user
# owns in it; another user's entry there is squatting and is refused.
{
	my $sticky = "$dir/sticky";
	mkdir $sticky or die; chmod 01777, $sticky;
	mkdir "$sticky/mine", 0700 or die;
	accepted('sticky parent', "$sticky/mine", "$sticky/mine/$sub");

	my $squat = "$sticky/squat";
	mkdir $squat, 0755 or die; chown OTHER_UID, OTHER_UID, $squat;
	make_path("$squat/$sub"); chown OTHER_UID, OTHER_UID, "$squat/$sub";
	chmod 0700, "$squat/$sub";
	refused('entry of another uid in a sticky directory', $squat, "$squat/$sub",
		qr/\Q$squat\E' is owned by uid ${\OTHER_UID} \(must be root or uid 0\)/);
	remove_tree($sticky);
}

# Owned by another user.
{
	my $rd = "$dir/theirs";
	mkdir $rd, 0700 or die; mkdir "$rd/$sub", 0700 or die;
	chown OTHER_UID, OTHER_UID, "$rd/$sub";
	refused('run dir owned by another uid', $rd, "$rd/$sub",
		qr/\Q$rd\/$sub\E' is owned by uid ${\OTHER_UID}\b/);
	chown OTHER_UID, OTHER_UID, $rd;
	refused('override owned by another uid', $rd, "$rd/$sub",
		qr/\Q$rd\E' is owned by uid ${\OTHER_UID}\b/);
	remove_tree($rd);
	my $parent = "$dir/theirparent";
	mkdir $parent, 0755 or die;
	make_path("$parent/run/$sub", { mode => 0700 });
	chown OTHER_UID, OTHER_UID, $parent;
	refused('parent owned by another uid', "$parent/run", "$parent/run/$sub",
		qr/\Q$parent\E' is owned by uid ${\OTHER_UID} \(must be root or uid 0\)/);
	remove_tree($parent);
}

# Symlinks: followed when the directory holding them passes, then the
# target is checked in turn; refused when the target is unsafe or the
# link sits in a sticky directory and belongs to another uid.
{
	my $target = "$dir/real";
	make_path("$target/$sub", { mode => 0700 });
	symlink $target, "$dir/link" or die;
	accepted('symlink held by a safe directory', "$dir/link", "$target/$sub");

	my $open = "$dir/open";
	mkdir $open or die; chmod 0777, $open;
	mkdir "$open/$sub", 0700 or die;
	unlink "$dir/link"; symlink $open, "$dir/link" or die;
	refused('symlink to an unsafe target', "$dir/link", "$open/$sub",
		qr/\Q$open\E' is writable by others/);
	unlink "$dir/link";

	make_path("$dir/realparent/run/$sub", { mode => 0700 });
	chmod 0755, "$dir/realparent";
	mkdir "$dir/loose" or die; chmod 0777, "$dir/loose";
	symlink "$dir/realparent", "$dir/loose/linkparent" or die;
	refused('symlink held by an unsafe directory', "$dir/loose/linkparent/run",
		"$dir/realparent/run/$sub", qr/\Q$dir\E\/loose' is writable by others/);

	my $sticky = "$dir/sticky2";
	mkdir $sticky or die; chmod 01777, $sticky;
	symlink "$dir/realparent/run", "$sticky/theirlink" or die;
	POSIX::lchown(OTHER_UID, OTHER_UID, "$sticky/theirlink") or die "lchown: $!";
	refused('symlink of another uid in a sticky directory', "$sticky/theirlink",
		"$dir/realparent/run/$sub", qr/theirlink' is a symlink owned by uid ${\OTHER_UID}/);

	symlink 'loop', "$dir/loop" or die;
	refused('symlink loop', "$dir/loop", "$dir/realparent/run/$sub", qr/too many symlinks/);
	remove_tree($target, $open, "$dir/realparent", "$dir/loose", $sticky);
	unlink "$dir/loop";
}

# The same checks hold for a user who is not root: run the client as
# OTHER_UID below a root-owned 0755 directory (the build tree may not be
# reachable by that uid, so use one under /run).
SKIP: {
	my $pub = -d '/run' && PFIHarness::path_is_safe('/run')
		? tempdir('pfi-sec-XXXXXX', DIR => '/run', CLEANUP => 0) : undef;
	skip 'no safe root-owned /run to make a directory for a second uid', 13
		unless $pub;
	chmod 0755, $pub;
	make_path("$pub/lib");
	system('cp', '-R', perl_lib() . '/Proc', "$pub/lib/") == 0
		or die "copying the module: cp exited with status $?\n";
	my $s = "$pub/other.pl";
	copy($script, $s) or die; chmod 0755, $s;
	system('chmod', '-R', 'a+rX', "$pub/lib");
	my $o = "$pub/o";
	mkdir $o, 0700 or die; chown OTHER_UID, OTHER_UID, $o;
	my %e = (PERL5LIB => "$pub/lib", PREFORK_INTERP_FALLBACK => 'refuse');
	my $osub = run_subdir('', OTHER_UID);
	my @ocmd = @{ client_as_other($client, '-U', '-g', 'sec', 'perl', $s) };

	# The user's own run dir works (so the refusals below are the checks).
	my $r = run_call(\@ocmd, dir => $pub, env => { %e, PREFORK_INTERP_RUN_DIR => $o });
	is($r->{status}, 0, 'non-root user: a good run directory works') or diag $r->{err};
	is($r->{out}, "ran \n", 'non-root user: the script ran');
	ok(-S "$o$osub/ssec", 'non-root user: the server is in its own subdirectory');
	unlink "$o$osub/ssec";
	ok(wait_processes_gone($s, 10), 'non-root user: its server quit');

	# A run directory owned by root is not the user's.
	my $rootowned = "$pub/rootowned";
	mkdir $rootowned, 0755 or die;
	mkdir "$rootowned$osub", 0755 or die;   # readable, so only ownership decides
	$r = run_call(\@ocmd, dir => $pub, env => { %e, PREFORK_INTERP_RUN_DIR => $rootowned });
	is($r->{status} >> 8, 127, 'non-root user: root-owned run dir refused');
	one_prefork_line($r, qr/\Q$rootowned$osub\E' is owned by uid 0, not by you \(uid ${\OTHER_UID}\)/,
			 'non-root user, root-owned run dir');

	# A parent owned by a third user (uid 1) is refused.
	my $third = "$pub/third";
	mkdir $third, 0755 or die; mkdir "$third/run", 0700 or die;
	chown OTHER_UID, OTHER_UID, "$third/run"; chown 1, 1, $third;
	$r = run_call(\@ocmd, dir => $pub, env => { %e, PREFORK_INTERP_RUN_DIR => "$third/run" });
	is($r->{status} >> 8, 127, 'non-root user: parent owned by a third uid refused');
	one_prefork_line($r, qr/\Q$third\E' is owned by uid 1 \(must be root or uid ${\OTHER_UID}\)/,
			 'non-root user, third-party parent');
	is(join(' ', entries("$third/run")), '', 'non-root user: nothing created there');
	remove_tree($pub);
	ok(!-e $pub, 'non-root scratch directory removed');
}

# Replaced between check and use: while calls run, another process keeps
# atomically exchanging the run directory with a symlink to a decoy
# directory holding an attacker's server.  Each call must either work
# (it verified and kept the real directory) or refuse; none may ever
# reach the decoy.
SKIP: {
	my $nr = eval { require 'syscall.ph'; &SYS_renameat2 };
	skip 'renameat2 (RENAME_EXCHANGE) unavailable to perl here', 5 unless $nr;
	my $race = "$dir/race";
	mkdir $race, 0700 or die;
	my $rd = "$race/run";
	mkdir $rd, 0700 or die;
	my $decoy = "$dir/decoy";
	mkdir $decoy or die; chmod 0777, $decoy;
	mkdir "$decoy/$sub", 0700 or die;
	symlink $decoy, "$race/alt" or die;
	my $fake = fake_server("$decoy/$sub/ssec", sub {
		my ($c, $rep) = @_;
		print $rep "connected\n";
		syswrite $c, "PFI\n\0\0\0\0";
	}, max => 100000);
	my %e = (PREFORK_INTERP_RUN_DIR => $rd, PREFORK_INTERP_FALLBACK => 'refuse');
	my $r = run_call(\@cmd, dir => $dir, env => \%e);
	is($r->{status}, 0, 'race: the server starts in the real directory') or diag $r->{err};

	my $swapper = fork // die;
	if (!$swapper) {
		my $end = time + 60;
		while (time < $end) {
			syscall($nr, -100, $rd, -100, "$race/alt", 2) == 0 or POSIX::_exit(3);
			sleep 0.0003;
			syscall($nr, -100, $rd, -100, "$race/alt", 2) == 0 or POSIX::_exit(4);
			sleep 0.0003;
		}
		POSIX::_exit(0);
	}
	my (%outcome, @odd);
	for my $i (1 .. 150) {
		my @c = $i % 5 ? @cmd : ($client, '-U', '-f', '-g', 'sec', 'perl', $script);
		my $x = run_call(\@c, dir => $dir, env => \%e);
		if ($x->{status} == 0 && $x->{out} eq "ran \n") {
			$outcome{ran}++;
		} elsif ($x->{status} >> 8 == 127 && $x->{err} =~ /^prefork-interp: [^\n]*(symlink|not a directory|keeps changing|does not exist|writable by others)[^\n]*\n\z/) {
			$outcome{"refused ($1)"}++;
		} else {
			push @odd, "status $x->{status} out '$x->{out}' err '$x->{err}'";
		}
	}
	# The swapper must have swapped all along (renameat2 failing ends
	# it with 3 or 4, and the calls above would then have raced nothing),
	# and calls must have met the swapped directory, not only the real one.
	is(waitpid($swapper, POSIX::WNOHANG()), 0, 'race: the directory was being swapped throughout');
	kill 'KILL', $swapper;
	waitpid $swapper, 0;
	syscall($nr, -100, $rd, -100, "$race/alt", 2) if -l $rd;
	ok(scalar(grep { /^refused/ } keys %outcome),
	   'race: some calls met the swapped directory (and refused it)');
	diag 'race outcomes: ' . join ', ', map { "$_ $outcome{$_}" } sort keys %outcome;
	is(scalar(@odd), 0, 'race: every call either ran or refused clearly')
		or diag join "\n", @odd[0 .. ($#odd < 4 ? $#odd : 4)];
	ok($outcome{ran}, 'race: calls still ran while the directory was being swapped');
	my $report = fake_wait($fake, 0.3);
	is($report, '', 'race: no call ever reached the decoy directory');
	is(join(' ', grep { $_ ne 'ssec' } entries("$decoy/$sub")), '',
	   'race: nothing was created in the decoy directory');
	is(join(' ', entries($decoy)), $sub, 'race: nor beside it');
	unlink "$rd/$sub/ssec";
	remove_tree($decoy);
}

ok(wait_processes_gone($dir, 10), 'no process left behind')
	or diag 'left: ' . join ' ', processes_matching($dir);
done_testing;
