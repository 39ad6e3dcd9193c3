package Proc::Prefork::Interp::Linux;

# The thin Linux layer: syscall numbers, pidfd, madvise, inotify,
# signalfd, fd probing and the one poll wrapper. Nothing here knows
# about the server; every other package calls the kernel through here
# (or through plain perl built-ins).

use strict;
use warnings;

use Exporter qw(import);
our @EXPORT_OK = qw(pidfd_open pidfd_alive have_madvise madvise inotify_open
                    inotify_add_watch signalfd_open signalfd_drain
                    fd_flags poll poll_in
                    get_rlimit set_rlimit getsockopt_large
                    POLLRDHUP MADV_HUGEPAGE MADV_POPULATE_WRITE MADV_COLLAPSE);

use Errno qw(ENOSYS);
use Fcntl qw(F_GETFL);
use IO::Poll qw(POLLIN);
use POSIX ();

use constant {
    POLLRDHUP           => 0x2000,    # Linux value; IO::Poll does not export it
    MADV_HUGEPAGE       => 14,
    MADV_POPULATE_WRITE => 23,        # Linux 5.14
    MADV_COLLAPSE       => 25,        # Linux 6.1
    IN_NONBLOCK         => 0x00000800,    # == O_NONBLOCK
    IN_CLOEXEC          => 0x00080000,    # == O_CLOEXEC
    SFD_NONBLOCK        => 0x800,         # == O_NONBLOCK
    SFD_CLOEXEC         => 0x80000,       # == O_CLOEXEC
    SIGINFO_SIZE        => 128,           # struct signalfd_siginfo
};

# Syscall numbers come from syscall.ph, whose subs land in the package
# that first required it; a table covers the case where that package is
# unknown. Without a number, pidfd or inotify counts as unavailable and
# the fallbacks are used.
my %SYSCALL_TABLE = (
    x86_64  => [434, 294, 254, 28],
    aarch64 => [434, 26, 27, 233],
    i686    => [434, 332, 292, 219],
);
# Package variables so that the tests can force the fallbacks.
our ($SYS_pidfd_open, $SYS_inotify_init1, $SYS_inotify_add_watch, $SYS_madvise);
{
    local ($@, $!);
    eval { require 'syscall.ph'; 1 };
    no strict 'refs';
    for my $pkg (__PACKAGE__, 'main', 'Proc::Prefork::Interp') {
        next unless defined &{"${pkg}::SYS_inotify_add_watch"};
        $SYS_pidfd_open        = eval { &{"${pkg}::SYS_pidfd_open"}() };
        $SYS_inotify_init1     = eval { &{"${pkg}::SYS_inotify_init1"}() };
        $SYS_inotify_add_watch = eval { &{"${pkg}::SYS_inotify_add_watch"}() };
        $SYS_madvise           = eval { &{"${pkg}::SYS_madvise"}() };
        last;
    }
    unless (defined $SYS_inotify_add_watch) {
        require Config;
        no warnings 'once';
        my ($arch) = ($Config::Config{archname} // '') =~ /\A([^-]+)/;
        my $nums = $SYSCALL_TABLE{$arch // ''} // [];
        ($SYS_pidfd_open, $SYS_inotify_init1, $SYS_inotify_add_watch,
         $SYS_madvise) = @$nums;
    }
}

# A pidfd for $pid, or undef with $! set (ENOSYS when the kernel or
# this perl has none; it is then not tried again).
sub pidfd_open {
    my ($pid) = @_;
    unless ($SYS_pidfd_open) {
        $! = ENOSYS;
        return undef;
    }
    my $fd = syscall($SYS_pidfd_open, $pid + 0, 0);
    return $fd if $fd >= 0;
    undef $SYS_pidfd_open if $! == ENOSYS;
    return undef;
}

sub have_madvise { return !!$SYS_madvise }

# madvise(2) on an address range; 0 on success, -1 with $! on failure.
sub madvise {
    my ($addr, $len, $advice) = @_;
    return syscall($SYS_madvise, $addr, $len, $advice);
}

# A non-blocking, close-on-exec inotify instance as a read handle, or
# undef when there is none.
sub inotify_open {
    return undef unless $SYS_inotify_init1;
    my $fd = syscall($SYS_inotify_init1, IN_NONBLOCK | IN_CLOEXEC);
    return undef if $fd < 0;
    my $ifh;
    return $ifh if open($ifh, '<&=', $fd);
    POSIX::close($fd);
    return undef;
}

# The watch descriptor, or undef with $! set.
sub inotify_add_watch {
    my ($ifh, $path, $mask) = @_;
    my $wd = syscall($SYS_inotify_add_watch, fileno($ifh), "$path", $mask + 0);
    return $wd >= 0 ? $wd : undef;
}

# signalfd4, by number as the others; undef (tests force it) makes
# signalfd_open fail, and its callers use their fallbacks.
our $SYS_signalfd4;
{
    no strict 'refs';
    for my $pkg (__PACKAGE__, 'main', 'Proc::Prefork::Interp') {
        next unless defined &{"${pkg}::SYS_signalfd4"};
        $SYS_signalfd4 = eval { &{"${pkg}::SYS_signalfd4"}() };
        last;
    }
    unless ($SYS_signalfd4) {
        require Config;
        no warnings 'once';
        my %table = (x86_64 => 289, aarch64 => 74, i686 => 327);
        my ($arch) = ($Config::Config{archname} // '') =~ /\A([^-]+)/;
        $SYS_signalfd4 = $table{$arch // ''};
    }
}

# A non-blocking, close-on-exec read handle on which the signals @sigs
# arrive, which are blocked from now on (a handler could not wake a
# poll that has not started yet: perl runs handlers between ops).
# Returns the handle; () with the mask as it was when there is no
# signalfd.
sub signalfd_open {
    my (@sigs) = @_;
    return () unless $SYS_signalfd4;
    my ($set, $old) = (POSIX::SigSet->new(@sigs), POSIX::SigSet->new);
    POSIX::sigprocmask(POSIX::SIG_BLOCK(), $set, $old) or return ();
    my $mask = 0;
    $mask |= 1 << ($_ - 1) for @sigs;
    my $fd = syscall($SYS_signalfd4, -1, pack('Q', $mask), 8,
                     SFD_NONBLOCK | SFD_CLOEXEC);
    my $fh;
    if ($fd < 0 || !open($fh, '<&=', $fd)) {
        POSIX::close($fd) if $fd >= 0;
        POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old);
        return ();
    }
    return $fh;
}

# Reads what is pending on a signalfd handle: the signal numbers, in
# the order they came (empty if none).
sub signalfd_drain {
    my ($fh) = @_;
    my @sigs;
    while ((sysread($fh, my $buf, 16 * SIGINFO_SIZE) // 0) > 0) {
        push @sigs, unpack 'L', substr($buf, $_ * SIGINFO_SIZE, 4)
            for 0 .. int(length($buf) / SIGINFO_SIZE) - 1;
    }
    return @sigs;
}

# prlimit64 and getsockopt (for more than perl's 256-byte buffer), by
# number: from syscall.ph where it is known, else from this table.
my %SYSCALL_TABLE2 = (
    x86_64  => { prlimit64 => 302, getsockopt => 55 },
    aarch64 => { prlimit64 => 261, getsockopt => 209 },
    i686    => { prlimit64 => 340, getsockopt => 365 },
);
our ($SYS_prlimit64, $SYS_getsockopt, $SYS_pidfd_send_signal);
{
    no strict 'refs';
    for my $pkg (__PACKAGE__, 'main', 'Proc::Prefork::Interp') {
        next unless defined &{"${pkg}::SYS_prlimit64"};
        $SYS_prlimit64  = eval { &{"${pkg}::SYS_prlimit64"}() };
        $SYS_getsockopt = eval { &{"${pkg}::SYS_getsockopt"}() };
        $SYS_pidfd_send_signal = eval { &{"${pkg}::SYS_pidfd_send_signal"}() };
        last;
    }
    require Config;
    my ($arch) = ($Config::Config{archname} // '') =~ /\A([^-]+)/;
    my $nums = $SYSCALL_TABLE2{$arch // ''} // {};
    $SYS_prlimit64  //= $nums->{prlimit64};
    $SYS_getsockopt //= $nums->{getsockopt};
    # Linux 5.1 numbered its new calls alike on every architecture.
    $SYS_pidfd_send_signal //= 424 if %$nums;
}

# Whether the process of pidfd $fd has not exited (signal 0 checks only);
# undef with $! set where the kernel or this perl cannot tell (ENOSYS).
sub pidfd_alive {
    my ($fd) = @_;
    unless (defined $SYS_pidfd_send_signal) {
        $! = ENOSYS;
        return undef;
    }
    return 1 if syscall($SYS_pidfd_send_signal, $fd + 0, 0, 0, 0) == 0;
    return $!{ESRCH} ? 0 : undef;
}

# [soft, hard] of resource limit $res (RLIMIT_* number), or undef.
sub get_rlimit {
    my ($res) = @_;
    return undef unless defined $SYS_prlimit64;
    my $old = "\0" x 16;
    return undef if syscall($SYS_prlimit64, 0, $res + 0, 0, $old) < 0;
    return [ unpack 'QQ', $old ];
}

# Sets resource limit $res; false with $! on failure.
sub set_rlimit {
    my ($res, $soft, $hard) = @_;
    unless (defined $SYS_prlimit64) {
        $! = ENOSYS;
        return 0;
    }
    my $new = pack 'QQ', $soft, $hard;
    return syscall($SYS_prlimit64, 0, $res + 0, $new, 0) == 0;
}

# getsockopt with room for $size bytes: the value, or undef with $!.
sub getsockopt_large {
    my ($sock, $level, $name, $size) = @_;
    unless (defined $SYS_getsockopt) {
        $! = ENOSYS;
        return undef;
    }
    my $buf = "\0" x $size;
    my $len = pack 'L', $size;
    return undef if syscall($SYS_getsockopt, fileno($sock), $level + 0, $name + 0,
                            $buf, $len) < 0;
    return substr $buf, 0, unpack('L', $len);
}

# Access mode and status flags of a raw fd, or undef if it is not open.
sub fd_flags {
    my ($fd) = @_;
    my $dup = POSIX::dup($fd);
    return undef unless defined $dup;
    my $flags;
    if (open(my $fh, '<&=', $dup)) {
        $flags = fcntl($fh, F_GETFL, 0);
        close $fh;
    } else {
        POSIX::close($dup);
    }
    return defined $flags ? $flags + 0 : undef;
}

# poll(2) on a flat list [fd, events, fd, events, ...]; each events
# entry is replaced by the revents, as poll(2) does. This uses
# IO::Poll's undocumented _poll: IO::Poll's public interface wants
# IO::Handle objects, and the server polls raw fds (pidfds) beside
# handles, rebuilds its set on every pass and needs the raw errno on
# failure. _poll has kept its signature since IO::Poll first shipped
# (perl 5.6); should it ever change, this is the one place to adapt.
sub poll {
    my ($timeout_ms, $pollv) = @_;
    return IO::Poll::_poll($timeout_ms, @$pollv);
}

# poll(2) for input on one handle: 1 if readable (data, EOF or error),
# 0 on timeout, -1 with $! on failure.
sub poll_in {
    my ($fh, $timeout_ms) = @_;
    return poll($timeout_ms, [fileno($fh), POLLIN]);
}

1;
