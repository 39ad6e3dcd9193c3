# Run set-uid or set-gid (AT_SECURE), the client refuses at once, with
# a message saying why: a caller must not be able to steer another
# user's server.  A set-uid-root and a set-gid copy of the installed
# client are run by uid 65534; the same copy without the bit is the
# control.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Copy qw(copy);
use Test::More;

plan skip_all => 'not root: cannot make a set-uid copy owned by another user' if $> != 0;
plan skip_all => 'setpriv (util-linux) is not installed' unless have_program('setpriv');

# nosuid would make the kernel ignore the bit: skip, saying so, rather
# than pass.
my ($dir, $why) = nobody_dir(suid => 1);
plan skip_all => "no directory for a set-uid copy: $why" unless $dir;

my @as_nobody = ('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups');
my $copy = "$dir/prefork-interp-hardened";
copy(client_path(), $copy) or die "copy: $!";
chown 0, 0, $copy;
chmod 0755, $copy;

my $r = run_call([@as_nobody, $copy, '--version']);
is(describe_status($r->{status}), 'exit 0', 'control: no set-id bit, runs');
like($r->{out}, qr/^prefork-interp-hardened /, 'control: prints its version');

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
