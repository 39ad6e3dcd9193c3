package Proc::Prefork::Interp::FdMessage;

# Receiving one of the client's three stdio messages (protocol step 3):
# one byte carrying exactly one fd by SCM_RIGHTS. Anything else (no fd,
# two or more, control data that is not SCM_RIGHTS, or a control message
# the kernel had to truncate) is refused, and every fd that did arrive
# is closed at once, so none can reach the script (README: "only fds 0,
# 1 and 2 reach the script").
#
# IO::FDPass cannot say how many fds a message carried; Socket::MsgHdr
# (Debian: libsocket-msghdr-perl) gives recvmsg with the whole control
# buffer and its flags.

use strict;
use warnings;

use Errno qw(EINTR ECONNRESET EMFILE);
use POSIX ();
use Socket qw(SOL_SOCKET SCM_RIGHTS MSG_CTRUNC);
use Socket::MsgHdr ();

use constant {
    # Room for 60 fds: a message with more is truncated by the kernel
    # and refused as such.
    CONTROL_LEN      => 256,
    # Received fds are close-on-exec until the executor installs the
    # one it keeps as stdio (the kernel's MSG_CMSG_CLOEXEC).
    MSG_CMSG_CLOEXEC => 0x40000000,
};

# Reads one stdio message from $sock. Returns ($fd) for a good one;
# (undef, $why) for a bad one (its fds already closed); (undef, undef)
# when the client hung up (EOF or reset) before or instead of it.
# $which (0, 1, 2) only names the message in $why.
sub receive {
    my ($sock, $which) = @_;
    my $hdr = Socket::MsgHdr->new(buflen => 1, controllen => CONTROL_LEN);
    my $got;
    do {
        $got = Socket::MsgHdr::recvmsg($sock, $hdr, MSG_CMSG_CLOEXEC);
    } while (!defined $got && $! == EINTR);
    return (undef, $! == ECONNRESET ? undef : "receiving fd $which: $!")
        unless defined $got;
    $got += 0;      # Socket::MsgHdr says "0 but true" at EOF

    my ($fds, $other) = _fds_in($hdr);
    my $why = _no_room($got, scalar @$fds, $which)
           // _fault($got, _truncated($hdr, scalar @$fds), scalar @$fds,
                     $other, $which);
    if (defined $why || !$got) {
        POSIX::close($_) for @$fds;
        return (undef, $why);
    }
    return ($fds->[0]);
}

# The fds of every SCM_RIGHTS control message, and whether there was
# control data of another kind.
sub _fds_in {
    my ($hdr) = @_;
    my (@fds, $other);
    my @cmsg = $hdr->cmsghdr;
    while (my ($level, $type, $data) = splice @cmsg, 0, 3) {
        if ($level == SOL_SOCKET && $type == SCM_RIGHTS) {
            push @fds, unpack 'i*', $data;
        } else {
            $other = 1;
        }
    }
    return (\@fds, $other);
}

# A message that came without its fd while this process has no number
# free (the kernel then drops the fd): not the client's fault, and said
# so. The probe's own fd, if one was free after all, is closed again.
sub _no_room {
    my ($bytes, $nfds, $which) = @_;
    return undef if $nfds || !$bytes;
    my $probe = POSIX::dup(0);
    if (defined $probe) {
        POSIX::close($probe);
        return undef;
    }
    return undef unless $! == EMFILE;
    return "no free fd number to receive the caller's fd $which in "
         . "(Too many open files)";
}

# Whether the kernel had to cut the control data short. It says so with
# MSG_CTRUNC, but Socket::MsgHdr 0.05 does not hand msg_flags back; the
# kernel fills the buffer with as many fds as fit, so a buffer with no
# room left for one more fd means a truncated message too.
sub _truncated {
    my ($hdr, $nfds) = @_;
    return 1 if $hdr->flags & MSG_CTRUNC;
    # struct cmsghdr is 16 bytes on 64-bit Linux, 12 on 32-bit.
    my $header = length(pack 'L!', 0) == 8 ? 16 : 12;
    return $header + 4 * ($nfds + 1) > CONTROL_LEN;
}

# Pure: what is wrong with a message of $bytes bytes, whose control data
# was $truncated, carrying $nfds fds (and other control data if $other),
# or undef. A message of no bytes is the client's EOF: nothing is wrong,
# it is gone.
sub _fault {
    my ($bytes, $truncated, $nfds, $other, $which) = @_;
    return undef if !$bytes && !$nfds && !$other;
    return "message for fd $which had its control data truncated (too many fds)"
        if $truncated;
    return "message for fd $which carried control data other than fds" if $other;
    return "message for fd $which carried no file descriptor" if $nfds == 0;
    return "message for fd $which carried $nfds file descriptors, not one"
        if $nfds != 1;
    return "message for fd $which carried an fd but no byte" unless $bytes;
    return undef;
}

1;
