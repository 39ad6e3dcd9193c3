# Run directory attacks (SECURITY.md, "Run directory"): a run directory
# or parent writable by group or other, owned by another user, a
# symlink, or swapped for a symlink between check and use.  In each case
# an attacker's server is planted where the client would look if it
# accepted the path: the client must refuse with one line naming the
# path and the problem, and the planted server must receive nothing.
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

# Lists a directory's entries (no . and ..).
sub entries {
	my ($d) = @_;
	opendir my $h, $d or return ();
	return sort grep { !/^\.\.?$/ } readdir $h;
}

# Plants an attacker's server at $plant_dir/ssec (running as the user,
# so only the directory check stands in the way), runs the client with
# $rundir and checks the refusal.
sub refused {
	my ($label, $rundir, $plant_dir, $want) = @_;
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
			 env => { PREFORK_INTERP_RUN_DIR => $rundir });
	is($r->{status} >> 8, 127, "$label: refused (exit 127)");
	one_prefork_line($r, $want, $label);
	is($r->{out}, '', "$label: nothing on stdout");
	ok(!-e $marker, "$label: the script did not run");
	is(join(' ', entries($plant_dir)), join(' ', @before),
	   "$label: nothing created where the attacker could see it");
	my $report = fake_wait($fake, 0.3);
	is($report, '', "$label: the planted server received nothing");
}

# Group- or other-writable run directory or parent.
for my $case ([0770, 'its group'], [0707, 'others'], [0702, 'others']) {
	my ($mode, $who) = @$case;
	my $rd = "$dir/w" . sprintf('%o', $mode);
	mkdir $rd or die; chmod $mode, $rd;
	refused(sprintf('run dir mode %04o', $mode), $rd, $rd,
		qr/\Q$rd\E' is writable by \Q$who\E/);
	remove_tree($rd);
}
for my $case ([0775, 'its group'], [0757, 'others'], [01777, 'others']) {
	my ($mode, $who) = @$case;
	my $parent = "$dir/p" . sprintf('%o', $mode);
	mkdir $parent or die; chmod $mode, $parent;
	mkdir "$parent/run", 0700 or die;
	refused(sprintf('parent mode %04o', $mode), "$parent/run", "$parent/run",
		qr/\Q$parent\E' is writable by \Q$who\E/);
	remove_tree($parent);
}

# Owned by another user.
{
	my $rd = "$dir/theirs";
	mkdir $rd, 0700 or die; chown OTHER_UID, OTHER_UID, $rd;
	refused('run dir owned by another uid', $rd, $rd,
		qr/\Q$rd\E' is owned by uid ${\OTHER_UID}\b/);
	remove_tree($rd);
	my $parent = "$dir/theirparent";
	mkdir $parent, 0755 or die;
	mkdir "$parent/run", 0700 or die;
	chown OTHER_UID, OTHER_UID, $parent;
	refused('parent owned by another uid', "$parent/run", "$parent/run",
		qr/\Q$parent\E' is owned by uid ${\OTHER_UID} \(must be root or uid 0\)/);
	remove_tree($parent);
}

# Symlinks: the run directory itself, and a parent.
{
	my $target = "$dir/real";
	mkdir $target, 0700 or die;
	symlink $target, "$dir/link" or die;
	refused('run dir is a symlink', "$dir/link", $target,
		qr/\Q$dir\E\/link' is a symlink/);
	unlink "$dir/link";
	make_path("$dir/realparent/run", { mode => 0700 });
	chmod 0755, "$dir/realparent";
	symlink "$dir/realparent", "$dir/linkparent" or die;
	refused('parent is a symlink', "$dir/linkparent/run", "$dir/realparent/run",
		qr/\Q$dir\E\/linkparent' is a symlink/);
	unlink "$dir/linkparent";
	remove_tree($target, "$dir/realparent");
}

# The same checks hold for a user who is not root: run the client as
# OTHER_UID below a root-owned 0755 directory (the build tree may not be
# reachable by that uid, so use one under /run).
SKIP: {
	my $pub = -d '/run' && PFIHarness::path_is_safe('/run')
		? tempdir('pfi-sec-XXXXXX', DIR => '/run', CLEANUP => 0) : undef;
	skip 'no safe root-owned /run to make a directory for a second uid', 12
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
	my %e = (PERL5LIB => "$pub/lib");
	my @ocmd = @{ client_as_other($client, '-U', '-g', 'sec', 'perl', $s) };

	# The user's own run dir works (so the refusals below are the checks).
	my $r = run_call(\@ocmd, dir => $pub, env => { %e, PREFORK_INTERP_RUN_DIR => $o });
	is($r->{status}, 0, 'non-root user: a good run directory works') or diag $r->{err};
	is($r->{out}, "ran \n", 'non-root user: the script ran');
	unlink "$o/ssec";
	ok(wait_processes_gone($s, 10), 'non-root user: its server quit');

	# A run directory owned by root is not the user's.
	my $rootowned = "$pub/rootowned";
	mkdir $rootowned, 0755 or die;   # readable, so only ownership decides
	$r = run_call(\@ocmd, dir => $pub, env => { %e, PREFORK_INTERP_RUN_DIR => $rootowned });
	is($r->{status} >> 8, 127, 'non-root user: root-owned run dir refused');
	one_prefork_line($r, qr/\Q$rootowned\E' is owned by uid 0, not by you \(uid ${\OTHER_UID}\)/,
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
	symlink $decoy, "$race/alt" or die;
	my $fake = fake_server("$decoy/ssec", sub {
		my ($c, $rep) = @_;
		print $rep "connected\n";
		syswrite $c, "PFI\n\0\0\0\0";
	}, max => 100000);
	my %e = (PREFORK_INTERP_RUN_DIR => $rd);
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
		} elsif ($x->{status} >> 8 == 127 && $x->{err} =~ /^prefork-interp: [^\n]*(symlink|not a directory|keeps vanishing|No such file)[^\n]*\n\z/) {
			$outcome{"refused ($1)"}++;
		} else {
			push @odd, "status $x->{status} out '$x->{out}' err '$x->{err}'";
		}
	}
	kill 'KILL', $swapper;
	waitpid $swapper, 0;
	syscall($nr, -100, $rd, -100, "$race/alt", 2) if -l $rd;
	diag 'race outcomes: ' . join ', ', map { "$_ $outcome{$_}" } sort keys %outcome;
	is(scalar(@odd), 0, 'race: every call either ran or refused clearly')
		or diag join "\n", @odd[0 .. ($#odd < 4 ? $#odd : 4)];
	ok($outcome{ran}, 'race: calls still ran while the directory was being swapped');
	my $report = fake_wait($fake, 0.3);
	is($report, '', 'race: no call ever reached the decoy directory');
	is(join(' ', grep { $_ ne 'ssec' } entries($decoy)), '',
	   'race: nothing was created in the decoy directory');
	unlink "$rd/ssec";
	remove_tree($decoy);
}

ok(wait_processes_gone($dir, 10), 'no process left behind')
	or diag 'left: ' . join ' ', processes_matching($dir);
done_testing;
