# Run set-uid or set-gid (AT_SECURE), the client refuses at once, with
# a message saying why: a caller must not be able to steer another
# user's server.  A set-uid-root and a set-gid copy of the installed
# client are run by uid 65534; the same copy without the bit is the
# control.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib", $FindBin::Bin;
use PFIHarness;
use SandboxTest;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use Test::More;

plan skip_all => 'not root: cannot make a set-uid copy owned by another user' if $> != 0;
plan skip_all => 'setpriv (util-linux) is not installed' unless have_program('setpriv');

my $base = $ENV{PFI_TEST_BASE} // die "PFI_TEST_BASE not set\n";
my $dir = tempdir('sbx-suid-XXXXXX', DIR => $base, CLEANUP => 1);
chmod 0755, $dir;

# nosuid would make the kernel ignore the bit: say so rather than pass.
sub mount_options {
	my ($path) = @_;
	my ($best, $opts) = ('', '');
	open my $mi, '<', '/proc/self/mountinfo' or return '';
	while (<$mi>) {
		my @f = split ' ';
		my $mnt = $f[4];
		$mnt =~ s/\\040/ /g;
		next unless $path eq $mnt || index($path, $mnt eq '/' ? '/' : "$mnt/") == 0;
		($best, $opts) = ($mnt, $f[5]) if length $mnt >= length $best;
	}
	return $opts;
}
plan skip_all => "$dir is on a nosuid mount" if mount_options($dir) =~ /(^|,)nosuid(,|$)/;

my @as_nobody = ('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups');
my $copy = "$dir/prefork-interp";
copy(client_path(), $copy) or die "copy: $!";
chown 0, 0, $copy;
chmod 0755, $copy;
plan skip_all => "uid 65534 cannot run $copy (a parent directory is closed to it)"
	if system(@as_nobody, 'test', '-x', $copy) != 0;

my $r = run_call([@as_nobody, $copy, '--version']);
is(describe_status($r->{status}), 'exit 0', 'control: no set-id bit, runs');
like($r->{out}, qr/sandbox on/, 'control: prints its version');

for my $case (['set-uid root', 04755], ['set-gid root', 02755]) {
	my ($what, $mode) = @$case;
	chmod $mode, $copy;
	is((stat $copy)[2] & 07777, $mode, "$what: mode set");
	$r = run_call([@as_nobody, $copy, '--version']);
	is(describe_status($r->{status}), 'exit 126', "$what: refused with exit 126");
	like($r->{err}, qr/refusing to run set-uid or set-gid \(AT_SECURE\)/,
	     "$what: message says why");
	is($r->{out}, '', "$what: nothing else done");
}

# Set-uid to another, non-root user refuses just the same.
chown 65534, 65534, $copy;
chmod 04755, $copy;
$r = run_call(['setpriv', '--reuid=65533', '--regid=65533', '--clear-groups',
	       $copy, '--version']);
is(describe_status($r->{status}), 'exit 126', 'set-uid nobody, run by another uid: refused');
like($r->{err}, qr/AT_SECURE/, 'set-uid nobody: message says why');

done_testing();
