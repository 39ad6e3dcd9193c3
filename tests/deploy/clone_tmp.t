# The test harness works from any clone location, /tmp included: it
# makes the safe directory it needs itself (issue 14: a clone under
# /tmp used to fail 20 of 31 suites with "no safe directory for test run
# directories").  Each case runs a real call through the harness in a
# fresh perl, as a suite would.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use Test::More;

my $lib = "$FindBin::Bin/../lib";
my $probe = <<'EOS';
use PFIHarness;
my $env = new_env();
my $s = write_script($env, 'p.pl', "use Proc::Prefork::Interp;\nprefork_initialisation_complete();\nprint qq(ok\\n);\n");
my $r = run_call([$s], dir => $env->{dir});
print "base=$env->{dir}\nstatus=$r->{status}\nout=$r->{out}err=$r->{err}\n";
EOS

sub probe {
	my (%env) = @_;
	my $r = run_call(['perl', "-I$lib", '-e', $probe], env => \%env,
			 unset => ['MESON_BUILD_ROOT', grep { !defined $env{$_} } 'PFI_TEST_BASE']);
	return $r;
}

# A build directory below /tmp (sticky, root-owned): safe as it is.
my $clone = tempdir('pfi14r-clone-XXXXXX', DIR => '/tmp', CLEANUP => 0);
chmod 0755, $clone;
mkdir "$clone/build", 0755 or die;
my $r = probe(PFI_TEST_BASE => "$clone/build");
like($r->{out}, qr/^status=0$/m, 'a build tree under /tmp: the call runs') or diag $r->{out}, $r->{err};
like($r->{out}, qr/^base=\Q$clone\E\/build\/pfi-test\//m, 'a build tree under /tmp: used as it is');
like($r->{out}, qr/^out=ok\nerr=$/m, 'a build tree under /tmp: accelerated, nothing on stderr');

# A build directory others may write to: the harness makes its own.
chmod 0777, $clone;
$r = probe(PFI_TEST_BASE => "$clone/build");
like($r->{out}, qr/^status=0$/m, 'an unsafe build tree: the call still runs') or diag $r->{out}, $r->{err};
my $tmp = File::Spec->tmpdir;
like($r->{out}, qr/^base=\Q$tmp\E\/pfi-test-$>\/pfi-test\//m, 'an unsafe build tree: a private directory in the temp directory instead');
like($r->{out}, qr/^out=ok\nerr=$/m, 'an unsafe build tree: accelerated, nothing on stderr');

# No base given at all and no /run/user/UID, as on a fresh machine.
$r = probe(PFI_TEST_BASE => undef);
like($r->{out}, qr/^status=0$/m, 'no base given: the call runs') or diag $r->{out}, $r->{err};
remove_tree($clone);
done_testing;
