package Proc::Prefork::Interp::FileIdentity;

# What the autoreload compares: a file's identity and change time, and
# the symlinks its path goes through.
#
# Deploys replace files in ways an mtime alone does not show: `cp -p`
# (and rsync -t, tar, install -p) write new contents but keep an older
# mtime, and a symlink swap (`current -> releases/r2`, renamed over the
# old link) leaves every old file untouched while the path now names
# another one. So a file counts as replaced when the file its path names
# now differs in device, inode, size, mtime or ctime (ctime cannot be
# set back), stat'ed through the path each time, so symlinks are
# resolved afresh; and the directories holding the symlinks on the way
# are watched too.

use strict;
use warnings;

use Cwd ();
use Errno qw(ENOENT ENOTDIR);
use Exporter qw(import);
use Time::HiRes ();

our @EXPORT_OK = qw(identity times_of replaced links_on_path);

# "dev ino size mtime ctime" of the file the path names now, or undef
# with $! set if it cannot be stat'ed (missing: ENOENT or ENOTDIR). The
# times keep every digit of the double stat gives (perl's default
# stringification would round them to about 10 us), so they compare
# exactly and read back as the same numbers.
sub identity {
    my ($path) = @_;
    my @st = Time::HiRes::stat($path) or return undef;
    return sprintf '%d %d %d %.9f %.9f', @st[0, 1, 7, 9, 10];
}

# The mtime and ctime of an identity, as numbers.
sub times_of {
    my ($identity) = @_;
    return (split / /, $identity)[3, 4];
}

# Why the file at a path is not the one an earlier identity() saw, or
# undef if it still is. A file that has gone is not a replacement (a
# deploy may be half-way), nor is one that did not exist before: a file
# that may appear later is judged by its times until then (the caller
# records its identity once it has appeared).
sub replaced {
    my ($before, $now) = @_;
    return undef unless defined $now && defined $before;
    return undef if $before eq $now;
    my @b = split / /, $before;
    my @n = split / /, $now;
    return 'replaced by another file' if $b[0] ne $n[0] || $b[1] ne $n[1];
    return 'rewritten';
}

# The symlinks met while resolving a path, as [directory holding the
# link, link name]: a rename or replacement there changes what the path
# names. Relative paths are taken from the working directory. At most
# 40 links are followed (the kernel's limit), so a loop ends.
sub links_on_path {
    my ($path) = @_;
    my @links;
    my $cur = '';
    unless ($path =~ m{\A/}) {
        $cur = Cwd::getcwd() // return ();
        $cur = '' if $cur eq '/';
    }
    my @todo = grep { length } split m{/}, $path;
    my $hops = 0;
    while (@todo) {
        my $c = shift @todo;
        next if $c eq '.';
        if ($c eq '..') {
            $cur =~ s{/[^/]*\z}{};
            next;
        }
        my $next = "$cur/$c";
        if (-l $next) {
            last if ++$hops > 40;
            push @links, [length $cur ? $cur : '/', $c];
            my $target = readlink $next;
            last unless defined $target;
            $cur = '' if $target =~ m{\A/};
            unshift @todo, grep { length } split m{/}, $target;
            next;
        }
        $cur = $next;
    }
    return @links;
}

1;
