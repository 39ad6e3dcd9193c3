# End to end: a fresh clone of this repository under /tmp (sticky,
# world-writable: where the README's commands used to fail, issue 14)
# builds the client and passes an integration suite there, its harness
# finding or making the safe directory it needs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use Test::More;

my $src = "$FindBin::Bin/../..";
plan skip_all => 'the source is not a git checkout: nothing to clone'
	unless system("git -C '$src' rev-parse --git-dir >/dev/null 2>&1") == 0;
plan skip_all => 'meson is not installed' if system('meson --version >/dev/null 2>&1');

my $tmp = tempdir('pfi14r-clone-XXXXXX', DIR => '/tmp', CLEANUP => 0);
chmod 0755, $tmp;
my $clone = "$tmp/prefork-interp";
sub quiet { my $cmd = shift; return system("($cmd) >'$tmp/log' 2>&1") == 0 }

ok(quiet("git clone --quiet --no-hardlinks '$src' '$clone'"), 'cloned under /tmp')
	or diag `cat '$tmp/log'`;
ok(quiet("cd '$clone' && meson setup build && meson compile -C build prefork-interp-hardened"),
   'the client builds there') or diag `tail -20 '$tmp/log'`;
my $ok = quiet("cd '$clone' && env -u PFI_TEST_BASE -u MESON_BUILD_ROOT -u PFI_CLIENT -u PFI_PERL_LIB "
	       . "meson test -C build --no-rebuild --print-errorlogs integration-args_env_stdio integration-fallback");
ok($ok, 'integration suites pass in the clone') or diag `tail -40 '$tmp/log'`;
ok(-d "$clone/build/pfi-test", 'with the build tree under /tmp as their base');
remove_tree($tmp);
done_testing;
