# Proc::Prefork::Interp::FileIdentity: what counts as a replaced file
# (cp -p, rename over, symlink swap) and the symlinks a path goes through.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(getcwd);
use Time::HiRes ();
use Proc::Prefork::Interp::FileIdentity qw(identity times_of replaced links_on_path);

my $dir = tempdir(CLEANUP => 1);
sub put { my ($path, $text) = @_; open my $fh, '>', $path or die "$path: $!"; print $fh $text; close $fh or die }

put("$dir/a", "one\n");
my $id = identity("$dir/a");
ok(defined $id, 'identity of an existing file');
is(replaced($id, identity("$dir/a")), undef, 'unchanged file: not replaced');
my @st = Time::HiRes::stat("$dir/a");
my @times = times_of($id);
ok($times[0] == $st[9] && $times[1] == $st[10], 'the times read back as exactly the numbers stat gave')
	or diag "@times vs @st[9, 10]";

# cp -p: same inode, same size, the old mtime put back; ctime moves on.
my $mtime = (stat "$dir/a")[9];
sleep 1 if time - $mtime < 1;  # ctime has a coarse clock; let it move on
put("$dir/a", "two\n");
utime $mtime, $mtime, "$dir/a" or die;
is((stat "$dir/a")[9], $mtime, 'the mtime is the old one again');
is(replaced($id, identity("$dir/a")), 'rewritten', 'rewritten with the old mtime (cp -p): replaced');

# A new file renamed over the old one, even with every time kept.
$id = identity("$dir/a");
put("$dir/b", "two\n");
utime $mtime, $mtime, "$dir/b" or die;
rename "$dir/b", "$dir/a" or die;
is(replaced($id, identity("$dir/a")), 'replaced by another file', 'renamed over: replaced');

# Missing and appearing files.
ok(!defined identity("$dir/none"), 'a missing file has no identity');
is(replaced(identity("$dir/a"), undef), undef, 'a file that has gone is not a replacement');
is(replaced(undef, identity("$dir/a")), undef, 'nor is one that did not exist before');

# A symlink swap: current -> releases/r1, then a new link renamed over it.
mkdir "$dir/releases";
mkdir "$dir/releases/$_" for qw(r1 r2);
put("$dir/releases/$_/Mod.pm", "1;\n") for qw(r1 r2);
utime $mtime, $mtime, "$dir/releases/$_/Mod.pm" for qw(r1 r2);
symlink 'releases/r1', "$dir/current" or die;
$id = identity("$dir/current/Mod.pm");
symlink 'releases/r2', "$dir/current.new" or die;
rename "$dir/current.new", "$dir/current" or die;
is(replaced($id, identity("$dir/current/Mod.pm")), 'replaced by another file',
   'symlink swap: the path names another file');

# The links on a path, each with the directory that holds it.
is_deeply([links_on_path("$dir/current/Mod.pm")], [[$dir, 'current']],
	  'one link on the way');
symlink "$dir/current", "$dir/app" or die;
is_deeply([links_on_path("$dir/app/Mod.pm")], [[$dir, 'app'], [$dir, 'current']],
	  'a link to a link: both, in order');
mkdir "$dir/sub";
symlink '../current', "$dir/sub/up" or die;
# up -> ../current -> releases/r2, so the .. leads to releases, where
# 'current' is no link (as the kernel resolves it).
is_deeply([links_on_path("$dir/sub/up/../current/Mod.pm")],
	  [["$dir/sub", 'up'], [$dir, 'current']],
	  '.. is taken after resolving the link before it');
is_deeply([links_on_path("$dir/releases/r1/Mod.pm")], [], 'no links: none');
my $here = getcwd();
chdir $dir or die;
is_deeply([links_on_path('current/Mod.pm')], [[$dir, 'current']],
	  'a relative path is taken from the working directory');
chdir $here or die;
symlink 'loop2', "$dir/loop1" or die;
symlink 'loop1', "$dir/loop2" or die;
cmp_ok(scalar(links_on_path("$dir/loop1/x")), '<=', 41, 'a symlink loop ends');

done_testing;
