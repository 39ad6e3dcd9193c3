# Lock file attacks (SECURITY.md, "Lock file"): the lock's name made a
# symlink or a hard link to a file the user owns elsewhere, a FIFO, a
# file of another uid, a writable-by-others file.  The client opens it
# O_NOFOLLOW and verifies it: it must refuse with one clear line, leave
# the user's other file untouched, and not hang.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX qw(mkfifo);
use Test::More;
use Time::HiRes qw(time);

need_root();

my $env = new_env();
my $client = client_path();
my $run = $env->{run};
my $script = write_script($env, 'victim.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "ran\n";
EOS
my $lock = "$run/lsec";
my $precious = "$env->{dir}/precious";

sub fingerprint {
	my ($f) = @_;
	my @st = lstat $f or return 'missing';
	return join ',', @st[1, 2, 3, 4, 7, 9], slurp_file($f);
}

sub refused {
	my ($label, $mode, $want) = @_;
	my @opt = $mode eq 'normal' ? () : ($mode);
	my $before = fingerprint($precious);
	my $t0 = time;
	my $r = run_call([$client, '-U', @opt, '-g', 'sec', 'perl', $script], dir => $env->{dir});
	is($r->{status} >> 8, 127, "$label ($mode): refused (exit 127)");
	one_prefork_line($r, $want, "$label ($mode)");
	is($r->{out}, '', "$label ($mode): nothing ran");
	ok(time - $t0 < 10, "$label ($mode): did not hang");
	is(fingerprint($precious), $before, "$label ($mode): the user's other file is untouched");
	ok(!-e "$run/ssec", "$label ($mode): no server socket was made");
}

sub fresh_precious {
	open my $f, '>', $precious or die; print $f "the user's data\n"; close $f;
	chmod 0600, $precious;
}

for my $mode ('normal', '-f', '--kill') {
	fresh_precious();
	symlink $precious, $lock or die;
	refused('lock is a symlink to a file of the user', $mode,
		qr/lock file '\Q$run\E\/lsec' is a symlink; refusing/);
	unlink $lock;

	link $precious, $lock or die;
	refused('lock is a hard link to a file of the user', $mode,
		qr/lock file '\Q$run\E\/lsec' has 2 links; refusing/);
	unlink $lock;
}

mkfifo($lock, 0600) or die;
refused('lock is a FIFO', 'normal', qr/lock file '\Q$run\E\/lsec' is not a regular file; refusing/);
unlink $lock;

open my $f, '>', $lock or die; close $f;
chown OTHER_UID, OTHER_UID, $lock;
refused('lock owned by another uid', 'normal', qr/lock file '\Q$run\E\/lsec' is owned by uid ${\OTHER_UID}; refusing/);
chown 0, 0, $lock;
chmod 0622, $lock;
refused('lock writable by others', 'normal', qr/lock file '\Q$run\E\/lsec' is writable by others \(mode 0622\); refusing/);
unlink $lock;

my $r = run_call([$client, '-U', '-g', 'sec', 'perl', $script], dir => $env->{dir});
is($r->{status}, 0, 'with a genuine lock the call works') or diag $r->{err};
is($r->{out}, "ran\n", 'and prints');
ok(-f $lock && !-l $lock && (stat $lock)[3] == 1, 'the lock it made is a plain single-link file');
ok(kill_servers($env), 'no process left behind');
done_testing;
