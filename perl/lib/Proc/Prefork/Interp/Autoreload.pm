package Proc::Prefork::Interp::Autoreload;

# The server quits when a file it was started from changes. Which files
# changed is found by a backend: inotify where it works (a watch on each
# file and on its directory, read without waiting), else modification
# times examined before every accepted call. Either way a file counts
# as changed when the file its path names now is not the one recorded
# at startup (FileIdentity: cp -p, rename, symlink swap), or when its
# times are later than the startup time.

use strict;
use warnings;

use Errno qw(ENOENT ENOTDIR);
use IO::Poll qw(POLLIN);
use POSIX ();
use Time::HiRes ();
use Proc::Prefork::Interp::Log qw(log_msg);
use Proc::Prefork::Interp::FileIdentity qw(identity times_of replaced);

# files: the set to check; start_secs/start_nsecs: the startup time;
# on_change: called when one has changed.
sub new {
    my ($class, %args) = @_;
    my %seen;
    my @files = grep { defined && !ref && length && !$seen{$_}++ } @{$args{files}};
    my $self = bless { %args, files => \@files }, $class;
    # What each path names now: a later replacement shows against this.
    $self->{identity} = { map { $_ => identity($_) } @files };
    $self->{backend} = Proc::Prefork::Interp::Autoreload::Inotify->new(\@files)
        // Proc::Prefork::Interp::Autoreload::Stat->new(\@files);
    return $self;
}

sub check_all {
    my ($self) = @_;
    $self->check($self->{files});
    return;
}

# A loop source: the backend's fd, if any.
sub source {
    my ($self) = @_;
    my $fh = !$self->{stopped} && $self->{backend}->fh or return ([]);
    return ([[fileno($fh), POLLIN, sub { $self->poll; return }]]);
}

# Once quitting, nothing is checked any more.
sub stop {
    my ($self) = @_;
    $self->{stopped} = 1;
    $self->{backend}->stop;
    return;
}

# Quick look: stat only what the backend says may have changed, and
# what it cannot watch.
sub poll {
    my ($self) = @_;
    return if $self->{stopped};
    if ($self->{backend}->touched) {
        $self->check_all;
    } elsif (@{$self->{backend}->unwatched}) {
        $self->check($self->{backend}->unwatched);
    }
    return;
}

sub check {
    my ($self, $files) = @_;
    for my $f (@$files) {
        my $now = identity($f);
        unless (defined $now) {
            log_msg('warning', "autoreload: cannot stat $f: $!")
                unless $! == ENOENT || $! == ENOTDIR;
            next;
        }
        my $before = $self->{identity}{$f};
        my $why = replaced($before, $now);
        # A file that did not exist at startup counts by its mtime alone
        # (it may appear with an old one, as documented); once there, it
        # is judged like the others.
        my @times = times_of($now);
        @times = ($times[0]) unless defined $before;
        $why //= 'newer than the server'
            if grep { newer_than(@$self{qw(start_secs start_nsecs)}, $_) } @times;
        $self->{identity}{$f} //= $now;
        next unless $why;
        log_msg('info', "$f changed since startup ($why), quitting to reload");
        $self->{on_change}->();
        return;
    }
    return;
}

# Whether an mtime (a double) is later than SECS.NSECS.
sub newer_than {
    my ($start_secs, $start_nsecs, $mtime) = @_;
    my $secs = POSIX::floor($mtime);
    return 1 if $secs > $start_secs;
    return 0 if $secs < $start_secs;
    # A double holds only about 0.2 us at today's epoch: allow for that.
    return ($mtime - $secs) * 1e9 > $start_nsecs + 1000 ? 1 : 0;
}

#---------------------------------------------------------------- backends

# Without inotify: every file is examined before every accepted call.
package Proc::Prefork::Interp::Autoreload::Stat;

sub new       { my ($class, $files) = @_; return bless { files => $files }, $class }
sub fh        { return undef }
sub stop      { return }
sub touched   { return 0 }
sub unwatched { return $_[0]{files} }

package Proc::Prefork::Interp::Autoreload::Inotify;

# Linux::Inotify2 would save the syscall and unpack lines below but is
# one more dependency for the server; the fallback above has to exist
# anyway.

use Errno qw(EAGAIN EWOULDBLOCK EINTR ENOENT ENOTDIR);
use Proc::Prefork::Interp::Linux qw(inotify_open inotify_add_watch);
use Proc::Prefork::Interp::FileIdentity qw(links_on_path);
use Proc::Prefork::Interp::Log qw(log_msg);

use constant {
    IN_MODIFY      => 0x00000002,
    IN_ATTRIB      => 0x00000004,
    IN_CLOSE_WRITE => 0x00000008,
    IN_MOVED_FROM  => 0x00000040,
    IN_MOVED_TO    => 0x00000080,
    IN_CREATE      => 0x00000100,
    IN_DELETE      => 0x00000200,
    IN_DELETE_SELF => 0x00000400,
    IN_MOVE_SELF   => 0x00000800,
    IN_Q_OVERFLOW  => 0x00004000,
    IN_IGNORED     => 0x00008000,
};
use constant FILE_EVENTS => IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE
                          | IN_MOVE_SELF | IN_DELETE_SELF;
use constant DIR_EVENTS  => IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;

# Watches each file, and its directory (editors often replace a file by
# renaming a new one over it; a file that did not exist may appear).
# Undef where inotify is not available.
sub new {
    my ($class, $files) = @_;
    my $ifh = inotify_open() or return undef;
    my $self = bless { fh => $ifh, files => $files,
                       wd_file => {}, wd_dir => {} }, $class;
    my @unwatched;
    for my $f (@$files) {
        my $file_ok = $self->_watch_file($f);
        my $file_missing = !$file_ok && ($! == ENOENT || $! == ENOTDIR);
        my $dir_ok = $self->_watch_dir($f);
        push @unwatched, $f unless $file_ok || ($file_missing && $dir_ok);
        # A symlink swap on the way changes what the path names.
        $self->_watch_link($f, @$_) for links_on_path($f);
    }
    $self->{unwatched} = \@unwatched;
    return $self;
}

sub fh        { return $_[0]{fh} }
sub unwatched { return $_[0]{unwatched} }

sub stop {
    my ($self) = @_;
    close(delete $self->{fh}) if $self->{fh};
    return;
}

sub _watch_file {
    my ($self, $f) = @_;
    my $wd = inotify_add_watch($self->{fh}, $f, FILE_EVENTS);
    return 0 unless defined $wd;
    $self->{wd_file}{$wd}{$f} = 1;
    return 1;
}

sub _watch_dir {
    my ($self, $f) = @_;
    my ($dir, $base) = $f =~ m{\A(.*/)?([^/]+)\z} or return 0;
    $dir = defined $dir ? ($dir eq '/' ? '/' : substr($dir, 0, -1)) : '.';
    $dir = '/' if $dir eq '';
    my $wd = inotify_add_watch($self->{fh}, $dir, DIR_EVENTS);
    return 0 unless defined $wd;
    $self->{wd_dir}{$wd}{$base}{$f} = 1;
    return 1;
}

sub _watch_link {
    my ($self, $f, $dir, $name) = @_;
    my $wd = inotify_add_watch($self->{fh}, $dir, DIR_EVENTS);
    $self->{wd_dir}{$wd}{$name}{$f} = 1 if defined $wd;
    return;
}

# One non-blocking read of the queue: true if anything concerns a
# checked file (which then are all stat'ed again).
sub touched {
    my ($self) = @_;
    my $ifh = $self->{fh} or return 0;
    my ($relevant, %touched) = (0);
    for (;;) {
        my $got = sysread($ifh, my $buf, 65536);
        if (!defined $got) {
            last if $! == EAGAIN || $! == EWOULDBLOCK;
            next if $! == EINTR;
            log_msg('warning', "reading inotify: $!");
            $relevant = 1;
            last;
        }
        last unless $got;
        $relevant = 1 if $self->_note_events($buf, \%touched);
    }
    # Rewatch: a file replaced by rename has a new inode.
    $self->_watch_file($_) for keys %touched;
    return $relevant;
}

# Marks the files concerned by a buffer of events; true if any.
sub _note_events {
    my ($self, $buf, $touched) = @_;
    my $relevant = 0;
    for my $ev (parse_events($buf)) {
        my ($wd, $mask, $name) = @$ev;
        if ($mask & IN_Q_OVERFLOW) {
            $relevant = 1;
            $touched->{$_} = 1 for @{$self->{files}};
        } elsif (my $files = $self->{wd_file}{$wd}) {
            $relevant = 1;
            $touched->{$_} = 1 for keys %$files;
            delete $self->{wd_file}{$wd} if $mask & IN_IGNORED;
        } elsif (my $names = $self->{wd_dir}{$wd}) {
            my $files = $names->{$name} or next;
            $relevant = 1;
            $touched->{$_} = 1 for keys %$files;
        }
    }
    return $relevant;
}

# struct inotify_event records to [wd, mask, name]; pure.
sub parse_events {
    my ($buf) = @_;
    my @events;
    my $off = 0;
    while ($off + 16 <= length $buf) {
        my ($wd, $mask, undef, $len) = unpack 'iIII', substr($buf, $off, 16);
        my $name = substr($buf, $off + 16, $len);
        $off += 16 + $len;
        $name =~ s/\0+\z//;
        push @events, [$wd, $mask, $name];
    }
    return @events;
}

1;
