# Deploys that an mtime alone does not show: the next call after
# - `cp -p` of a new version over a loaded module (contents new, mtime
#   put back to an older time),
# - a symlink swap (`current -> releases/r2` renamed over the old link),
#   for a module loaded through the link and for the script itself,
# runs the new code in a fresh server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;
use Time::HiRes qw(sleep);

my $env = new_env();
my $dir = $env->{dir};
sub put {
	my ($path, $text, $mode) = @_;
	open my $fh, '>', $path or die "$path: $!";
	print $fh $text;
	close $fh or die;
	chmod $mode, $path if $mode;
}
# PFI_LANG=perl or python (tests/meson.build runs both): the module is
# DeployMod.pm or deploymod.py.
my $python = script_lang() eq 'python';
my $mod = $python ? 'deploymod.py' : 'DeployMod.pm';
# The module's text has the same length in every version, so only its
# contents (and ctime) tell them apart.
sub module_text {
	return $python ? "VERSION = '$_[0]'\n"
		: "package DeployMod; our \$VERSION = '$_[0]'; 1;\n";
}
# A script loading the module through the link, printing $what.
sub script_text {
	my ($what) = @_;
	return <<"EOS" if $python;
import os, sys
import prefork_interp
sys.path.insert(0, '$dir/current/lib')
import deploymod
boot = os.getpid()
prefork_interp.initialisation_complete()
print(f"${what}mod={deploymod.VERSION} boot={boot}")
EOS
	return <<"EOS";
use strict;
use lib '$dir/current/lib';
use DeployMod;
use Proc::Prefork::Interp;
our \$boot = \$\$;
prefork_initialisation_complete();
print "${what}mod=\$DeployMod::VERSION boot=\$boot\\n";
EOS
}
my $old = time - 3600;
for my $r (qw(r1 r2)) {
	mkdir "$dir/$_" for 'releases', "releases/$r", "releases/$r/lib", "releases/$r/bin";
	put("$dir/releases/$r/lib/$mod", module_text($r eq 'r1' ? 1 : 2));
	put("$dir/releases/$r/bin/app.pl", "#!" . client_path() . " -U," . interpreter()
	    . "\n" . script_text("script=$r "), 0755);
	utime $old, $old, "$dir/releases/$r/lib/$mod", "$dir/releases/$r/bin/app.pl";
}
symlink 'releases/r1', "$dir/current" or die;

# A fixed script outside the releases, loading the module through the link.
my $fixed = write_script($env, 'fixed.pl', { perl => script_text(''), python => script_text('') });

sub call {
	my $r = run_call([@_], dir => $dir);
	is($r->{status}, 0, "call $_[0] ok") or diag $r->{err};
	return $r->{out};
}
sub boot_of { ($_[0] =~ /boot=(\d+)/)[0] // 'none' }
sub swap_to {
	my ($release) = @_;
	symlink "releases/$release", "$dir/current.new" or die;
	rename "$dir/current.new", "$dir/current" or die;
}
# ctime comes from a coarse clock: let it move past the server's start.
sub later { sleep 0.05 }

my $a1 = call($fixed);
like($a1, qr/mod=1/, 'first version');
is(boot_of(call($fixed)), boot_of($a1), 'the server is reused');

# cp -p: new contents, old mtime, same size, same inode.
later();
put("$dir/staged.pm", module_text(3));
utime $old, $old, "$dir/staged.pm";
system('cp', '-p', "$dir/staged.pm", "$dir/current/lib/$mod") == 0 or die;
is((stat "$dir/current/lib/$mod")[9], $old, 'cp -p kept the old mtime');
my $a2 = call($fixed);
like($a2, qr/mod=3/, 'cp -p over a loaded module: the next call sees the new module');
isnt(boot_of($a2), boot_of($a1), 'cp -p: from a fresh server');
is(boot_of(call($fixed)), boot_of($a2), 'which is then reused');

# Symlink swap under a loaded module.
later();
swap_to('r2');
my $a3 = call($fixed);
like($a3, qr/mod=2/, 'symlink swap: the next call sees the module of the new release');
isnt(boot_of($a3), boot_of($a2), 'symlink swap: from a fresh server');
is(boot_of(call($fixed)), boot_of($a3), 'which is then reused');

# Symlink swap of the script itself, called through the link.
later();
swap_to('r1');
my $script = "$dir/current/bin/app.pl";
my $b1 = call($script);
like($b1, qr/script=r1 mod=3/, 'script through the link: release r1');
later();
swap_to('r2');
my $b2 = call($script);
like($b2, qr/script=r2 mod=2/, 'symlink swap: the next call runs the new release\'s script');
isnt(boot_of($b2), boot_of($b1), 'from a fresh server');
is(boot_of(call($script)), boot_of($b2), 'which is then reused');

done_testing;
