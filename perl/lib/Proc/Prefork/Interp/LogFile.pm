package Proc::Prefork::Interp::LogFile;

# Where the server's messages go when syslog cannot take them: many
# hosts (containers, minimal installs) have no syslog daemon, so nothing
# listens on /dev/log and syslog() loses every message silently. Then
# the server appends them to a file of the user's own, `messages` in the
# run directory (the directory of its socket, which the client has
# checked: the user's, mode 0700), one line each:
#
#   2026-12-01T22:40:29Z prefork-interp[PID] PRIORITY: SCRIPT: MESSAGE
#
# Every server of the user in that run directory appends to the same
# file (O_APPEND writes of one line do not interleave). Past 1 MiB it is
# renamed to `messages.old` (replacing the previous one) and begun anew,
# so it stays bounded.

use strict;
use warnings;

use Fcntl qw(O_WRONLY O_APPEND O_CREAT O_NOFOLLOW);
use POSIX ();
use Socket qw(AF_UNIX SOCK_DGRAM SOCK_STREAM pack_sockaddr_un unpack_sockaddr_un);

use constant NAME      => 'messages';
use constant MAX_BYTES => 1 << 20;

# Whether a syslog daemon listens on the socket (the datagram socket
# that syslog(3) and Sys::Syslog use, or a stream one).
sub syslog_reachable {
    my ($path) = @_;
    $path //= '/dev/log';
    local $!;
    for my $type (SOCK_DGRAM, SOCK_STREAM) {
        socket(my $s, AF_UNIX, $type, 0) or next;
        return 1 if connect($s, pack_sockaddr_un($path));
    }
    return 0;
}

# The directory of a bound Unix socket (the server's listening one), as
# (path, handle to keep while the path is used).
# Our client binds through its own fd of the run directory,
# `/proc/self/fd/N/NAME` (race-free: the directory it checked cannot be
# swapped underneath), a name that means nothing in the server. But the
# setup, where this is called, runs while that client waits for it: its
# parent's fd N is the run directory. That directory itself (not its
# path, which may have been swapped since) is opened, and trusted only
# if our socket (ours by owner) is in it; it is then used as
# `/proc/self/fd/M` through the handle, as the client does.
sub dir_of_socket {
    my ($fh) = @_;
    my $name = getsockname($fh) or return;
    my $path = eval { unpack_sockaddr_un($name) };
    return unless defined $path && $path =~ m{\A(.*)/([^/]+)\z}s;
    my ($dir, $base) = (length $1 ? $1 : '/', $2);
    return ($dir) unless $dir =~ m{\A/proc/self/fd/(\d+)\z};
    opendir(my $held, '/proc/' . getppid() . "/fd/$1") or return;
    $dir = '/proc/self/fd/' . fileno($held);
    my @st = lstat "$dir/$base";
    return unless @st && -S _ && $st[4] == $>;
    return ($dir, $held);
}

# Opens (creating, mode 0600) the log in a directory; undef with $! set
# if it cannot. A symlink at the name is refused (O_NOFOLLOW).
# held: a handle that must stay open while $dir is used (dir_of_socket).
sub new {
    my ($class, $dir, %opts) = @_;
    my $self = bless { path => "$dir/" . NAME, held => $opts{held},
                       max_bytes => $opts{max_bytes} // MAX_BYTES }, $class;
    $self->_open or return undef;
    return $self;
}

sub path { return $_[0]{path} }

# (perl makes every fd above $^F, 2, close-on-exec by itself.)
sub _open {
    my ($self) = @_;
    sysopen(my $fh, $self->{path},
            O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0600)
        or return 0;
    $self->{fh} = $fh;
    return 1;
}

sub write {
    my ($self, $priority, $message) = @_;
    my $fh = $self->{fh} or return;
    local ($!, $@);
    my $size = (stat $fh)[7] // 0;
    if ($size >= $self->{max_bytes}) {
        # Another server may have rotated it already: then ours is the
        # .old one, and the reopen below finds the fresh file.
        rename $self->{path}, "$self->{path}.old" if -s $self->{path} >= $self->{max_bytes};
        close $fh;
        $self->_open or return;
        $fh = $self->{fh};
    }
    $message =~ s/\n(?!\z)/\\n/g;
    $message =~ s/\n\z//;
    my $line = POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime)
             . " prefork-interp[$$] $priority: $message\n";
    syswrite $fh, $line;
    return;
}

# The fds it holds: the file's and the run directory's.
sub fds {
    my ($self) = @_;
    return grep { defined } map { $_ ? fileno $_ : undef } @$self{qw(fh held)};
}

# In an executor: the server's log is not the call's.
sub close {
    my ($self) = @_;
    CORE::close(delete $self->{fh}) if $self->{fh};
    closedir(delete $self->{held}) if $self->{held};
    return;
}

1;
