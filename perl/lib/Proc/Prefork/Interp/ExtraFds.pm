package Proc::Prefork::Interp::ExtraFds;

# The `extra-fds` extension, server side (docs/protocol.md): a client
# that uses it (bit 0x04 of its step-2 byte) sends, after the request
# and any caller-state block, the numbers of its caller's open fds above
# 2 and one message with each fd; the executor puts each at its number,
# as a standalone script inherits them. This package holds the pure
# decoders, the receiving, and the placement. Executor calls it at
# hooks marked [extra-fds].

use strict;
use warnings;

use Fcntl qw(F_DUPFD);
use POSIX ();
use Proc::Prefork::Interp::FdMessage ();
use Proc::Prefork::Interp::Linux qw(get_rlimit set_rlimit);

use constant {
    TOKEN   => 'extra-fds',     # offered in the greeting's xdata
    USE_BIT => 0x04,            # the client's step-2 byte uses it
    MAX_FDS => 64,              # PFI_EXTRA_FDS_MAX
    MIN_FD  => 3,
    MAX_FD  => 0x7fffffff,
    NOFILE  => 7,               # RLIMIT_NOFILE
};

#------------------------------------------------------------- codec

# The block's length field: (how many fds, undef) or (undef, the fault).
# Checked before the numbers are read, so a bad length costs nothing.
sub count_of_length {
    my ($len) = @_;
    return (undef, "extra-fds length $len is not a multiple of 4") if $len % 4;
    my $n = $len / 4;
    return (undef, "extra-fds length $len: no fd") if $n == 0;
    return (undef, "extra-fds length $len: $n fds, more than " . MAX_FDS)
        if $n > MAX_FDS;
    return ($n, undef);
}

# The numbers (the block after its length): (\@numbers, undef) or
# (undef, the fault). Pure.
sub decode {
    my ($bytes) = @_;
    my ($n, $why) = count_of_length(length $bytes);
    return (undef, $why) unless $n;
    my @fds = unpack 'N*', $bytes;
    my $prev;
    for my $fd (@fds) {
        return (undef, "extra fd $fd is below " . MIN_FD) if $fd < MIN_FD;
        return (undef, "extra fd $fd is above " . MAX_FD) if $fd > MAX_FD;
        return (undef, "extra fd $fd follows $prev: not ascending")
            if defined $prev && $fd <= $prev;
        $prev = $fd;
    }
    return (\@fds, undef);
}

#------------------------------------------------------------- receiving

# One message per number, each with exactly one fd (as the stdio
# messages): (\@fds, undef) in the order of @$numbers (close-on-exec, at
# whatever numbers they arrived); (undef, $why) for a bad message;
# (undef, undef) if the client hung up. On failure every fd received is
# closed.
sub receive {
    my ($sock, $numbers) = @_;
    my @fds;
    for my $number (@$numbers) {
        my ($fd, $why) = Proc::Prefork::Interp::FdMessage::receive($sock, $number);
        unless (defined $fd) {
            POSIX::close($_) for @fds;
            return (undef, $why);
        }
        push @fds, $fd;
    }
    return (\@fds, undef);
}

#------------------------------------------------------------- placing

# Which of the @$numbers are open now, other than the fds in
# %$machinery (the module's own: the received fds themselves, its log).
# Once the executor has closed everything of the server's, an open one
# is the script's: its initialisation opened it (DATA, a log file).
sub held_by_script {
    my ($numbers, $machinery) = @_;
    return grep { !$machinery->{$_} && _is_open($_) } @$numbers;
}

# Whether $fd is open: a dup of it (the copy, on the lowest free number,
# is closed at once) works without /proc.
sub _is_open {
    my ($fd) = @_;
    my $copy = POSIX::dup($fd);
    return 0 unless defined $copy;
    POSIX::close($copy);
    return 1;
}

# [[number, fd], ...] to [[number, copy], ...]: each fd copied to the
# lowest free number that none of the numbers takes, so that placing
# one never overwrites another. Done while the server's limit on open
# files applies (the caller's may leave too few numbers free above
# fds it packed up to near it: a standalone run needs none of those
# copies). Returns (\@moved, undef), or (undef, what failed) with every
# copy made closed; every fd given is closed either way.
sub move_off {
    my ($pairs) = @_;
    my %wanted = map { $_->[0] => 1 } @$pairs;
    my (@moved, $why);
    for my $p (@$pairs) {
        my $to = _move_off($p->[1], \%wanted);
        if (defined $to) {
            push @moved, [$p->[0], $to];
        } else {
            $why //= "moving the caller's fd $p->[0]: $!";
        }
    }
    return (\@moved, undef) unless defined $why;
    POSIX::close($_->[1]) for @moved;
    return (undef, $why);
}

# [[number, copy], ...] from move_off: each copy put at its number with
# dup2 (not close-on-exec, as inherited), every copy closed; the
# numbers must be free. Returns undef, or what failed (the numbers
# already placed stay).
sub place {
    my ($moved) = @_;
    return undef unless @$moved;
    my $top = (sort { $b <=> $a } map { $_->[0] } @$moved)[0];
    # The executor may run with a soft limit on open files below the
    # numbers (the caller's, a server's low one); the hard one is the
    # most the caller could have had.
    my $raised = _raise_nofile($top + 1);
    my $why;
    for my $m (@$moved) {
        unless (defined $why) {
            $why = "placing the caller's fd $m->[0]: $!"
                unless defined POSIX::dup2($m->[1], $m->[0]);
        }
        POSIX::close($m->[1]);
    }
    set_rlimit(NOFILE, @$raised) if $raised;
    return $why;
}

# Why place() cannot put these fds under the hard limit on open files
# (the caller lowered it below an fd it holds: our client then runs the
# script directly), or undef.
sub lacks_room {
    my ($pairs) = @_;
    return undef unless @$pairs;
    my $top = (sort { $b <=> $a } map { $_->[0] } @$pairs)[0];
    my $cur = get_rlimit(NOFILE) or return undef;
    return undef if $top < $cur->[1];
    return "the caller's fd $top does not fit under this server's hard limit "
         . "of $cur->[1] open files; start a server of its own from this caller (-f)";
}

# A copy of the handle $fh (F_DUPFD) at the lowest free number from 3
# that is not in %$wanted (the numbers the caller's fds take): its
# number, or undef with $!. The number a standalone process's next open
# gets, with its caller's fds in place.
sub copy_off {
    my ($fh, $wanted) = @_;
    my $from = MIN_FD;
    for (;;) {
        my $new = fcntl($fh, F_DUPFD, $from);
        return undef unless defined $new;
        $new += 0;
        return $new unless $wanted->{$new};
        # (at most once for each number wanted)
        POSIX::close($new);
        $from = $new + 1;
    }
}

# $fd copied off the numbers wanted (copy_off): the copy's number, or
# undef with $!; $fd itself is closed either way.
sub _move_off {
    my ($fd, $wanted) = @_;
    unless (open(my $fh, '<&=', $fd)) {
        my $err = $!;
        POSIX::close($fd);
        $! = $err;
        return undef;
    } else {
        my $new = copy_off($fh, $wanted);
        my $err = $!;
        close $fh;
        $! = $err;
        return $new;
    }
}

# Raises the soft limit on open files to the hard one if fds up to
# $need - 1 must fit; returns the limits to put back, or undef.
sub _raise_nofile {
    my ($need) = @_;
    my $cur = get_rlimit(NOFILE) or return undef;
    return undef if $cur->[0] >= $need || $cur->[0] == $cur->[1];
    return set_rlimit(NOFILE, $cur->[1], $cur->[1]) ? $cur : undef;
}

1;
