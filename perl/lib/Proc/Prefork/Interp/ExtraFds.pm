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
# is the script's: its initialisation opened it (DATA, a log file). A
# received fd never stands on one of those: it arrived after them.
sub held_by_script {
    my ($numbers, $machinery) = @_;
    return grep { !$machinery->{$_} && _is_open($_) } @$numbers;
}

# Whether $fd is open: dup2 onto itself checks it and changes nothing,
# without /proc and without a free number (the caller's fds may take
# every one under its limit).
sub _is_open {
    my ($fd) = @_;
    return defined POSIX::dup2($fd, $fd);
}

# [[number, fd], ...]: each received fd (close-on-exec, at whatever
# number it arrived) put at its number, inheritable, and closed where
# it was; each number must be free or stand one of these fds. Done in
# place (a parallel move), so that it needs at most one free number
# besides theirs, as a standalone run holding the caller's fds would
# have: fds packed up to near the caller's hard limit (`ulimit -n 40`,
# fds 3 to 30) leave no room to copy them all aside first. Returns
# undef, or what failed (every fd not placed then closed).
sub place {
    my ($pairs) = @_;
    return undef unless @$pairs;
    # The executor may run with a soft limit on open files below the
    # numbers (the caller's, a server's low one); the hard one is the
    # most the caller could have had.
    my $raised = _raise_nofile();
    my $why = _parallel_move($pairs);
    set_rlimit(NOFILE, @$raised) if $raised;
    return $why;
}

# place() under whatever limit applies.
sub _parallel_move {
    my ($pairs) = @_;
    # number to go to => the number the fd for it stands on now
    my %from = map { $_->[0] => $_->[1] } @$pairs;
    my $why;
    while (!defined $why && %from) {
        my %pending_source = map { $_ => 1 } values %from;
        # Moves onto a number no other pending fd stands on (an fd at
        # its own number needs only its flag cleared).
        my @ready = grep { $from{$_} == $_ || !$pending_source{$_} }
                    sort { $a <=> $b } keys %from;
        for my $to (@ready) {
            $why = _move_to(delete $from{$to}, $to);
            last if defined $why;
        }
        next if @ready;
        # Only cycles are left (3 wants the fd on 4, 4 the one on 3):
        # one of them copied to the lowest free number, which is none
        # of theirs (they are all taken), frees its number.
        my $to = (sort { $a <=> $b } keys %from)[0];
        my $spare = POSIX::dup($from{$to});
        unless (defined $spare) {
            $why = "placing the caller's fd $to: $!";
            last;
        }
        POSIX::close($from{$to});
        $from{$to} = $spare;
    }
    POSIX::close($_) for values %from;
    return $why;
}

# $fd put at $to, inheritable (dup2 clears close-on-exec), and closed
# where it stood; one already at $to through a copy, since dup2 onto
# itself keeps the flag. Returns undef, or what failed ($fd is closed
# either way).
sub _move_to {
    my ($fd, $to) = @_;
    if ($fd == $to) {
        my $copy = POSIX::dup($fd);
        unless (defined $copy) {
            my $err = $!;
            POSIX::close($fd);
            return "placing the caller's fd $to: $err";
        }
        $fd = $copy;
    }
    my $ok = defined POSIX::dup2($fd, $to);
    my $err = $!;
    POSIX::close($fd);
    return $ok ? undef : "placing the caller's fd $to: $err";
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

# Raises the soft limit on open files to the hard one, so that fds up
# to it can be placed; returns the limits to put back, or undef.
sub _raise_nofile {
    my $cur = get_rlimit(NOFILE) or return undef;
    return undef if $cur->[0] == $cur->[1];
    return set_rlimit(NOFILE, $cur->[1], $cur->[1]) ? $cur : undef;
}

1;
