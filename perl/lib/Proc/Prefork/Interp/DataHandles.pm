package Proc::Prefork::Interp::DataHandles;

# The DATA handles (__DATA__ or __END__ of the script and of modules):
# perl's own read handles on the source files. Forked executors share
# each one's open file, so its offset too: a call reading DATA would
# move it for the server and every later or parallel call, which then
# read from wherever it stopped (at the end: nothing). A standalone run
# finds DATA where the initialisation left it, so each executor reads
# it through an open file of its own, at that position.

use strict;
use warnings;

use Fcntl qw(F_GETFD F_SETFD);
use POSIX ();
use Proc::Prefork::Interp::ExtraFds ();

# [glob, fd, position] of each DATA handle on a regular file, noted in
# the setup when the initialisation ends.
my @noted;

# Every package's DATA glob with an open handle: main's and modules'.
sub _open_data_globs {
    my @found;
    my @stashes = ('main::');
    my %seen;
    while (defined(my $name = shift @stashes)) {
        my $stash = do { no strict 'refs'; \%{$name} };
        next if $seen{$stash}++;      # main:: holds itself as main::main::
        for my $key (keys %$stash) {
            if ($key =~ /::\z/) {
                push @stashes, $name eq 'main::' ? $key : "$name$key";
                next;
            }
            next unless $key eq 'DATA';
            my $glob = \$stash->{$key};
            next unless ref $glob eq 'GLOB' && *{$glob}{IO};
            push @found, $glob if defined fileno *{$glob}{IO};
        }
    }
    return @found;
}

# In the setup, at prefork_initialisation_complete: where each DATA
# handle is. Only regular files: a pipe has no position to go back to.
sub note {
    @noted = ();
    for my $glob (_open_data_globs()) {
        next unless -f $glob;
        my $pos = tell $glob;
        push @noted, [ $glob, fileno $glob, $pos ] if $pos >= 0;
    }
    return;
}

# In an executor, before the per-call code: each noted handle on an open
# file of its own (the same file, through /proc), at the noted position.
# @wanted: the numbers the caller's own fds are to take (extra-fds). A
# DATA handle on one of them moves to the lowest number none of them
# takes, as a standalone perl opens the script on a number its caller
# left free (the number of DATA is not something a script can rely on).
# Returns undef, or what failed (that handle then stays shared, or on
# its number).
sub reopen {
    my (@wanted) = @_;
    my %wanted = map { $_ => 1 } @wanted;
    my @failed;
    for my $n (@noted) {
        my ($glob, $fd, $pos) = @$n;
        my $why = $wanted{$fd} ? _move_one($glob, $fd, $pos, \%wanted)
                               : _reopen_one($glob, $fd, $pos);
        push @failed, "DATA on fd $fd: $why" if defined $why;
    }
    return @failed ? join('; ', @failed) : undef;
}

# The handle re-made on a copy off the numbers %$wanted, with its layers
# (:utf8 under `use utf8`), flags and position; its old number is closed.
sub _move_one {
    my ($glob, $fd, $pos, $wanted) = @_;
    open(my $fresh, '<', "/proc/self/fd/$fd") or return "reopen: $!";
    my $high = Proc::Prefork::Interp::ExtraFds::copy_off($fresh, $wanted);
    my $err = $!;
    close $fresh;
    return "moving it off the caller's fds: $err" unless defined $high;
    my $fd_flags = fcntl($glob, F_GETFD, 0);
    my @layers = grep { $_ ne 'unix' && $_ ne 'perlio' }
                 PerlIO::get_layers($glob);
    unless (open($glob, '<&=', $high)) {
        $err = $!;
        POSIX::close($high);
        return "moving it off the caller's fds: $err";
    }
    binmode($glob, join '', map { ":$_" } @layers) if @layers;
    fcntl($glob, F_SETFD, $fd_flags) if defined $fd_flags;
    seek($glob, $pos, 0) or return "seek: $!";
    return undef;
}

sub _reopen_one {
    my ($glob, $fd, $pos) = @_;
    open(my $fresh, '<', "/proc/self/fd/$fd") or return "reopen: $!";
    # dup2 clears close-on-exec: perl had set it (fd above $^F).
    my $fd_flags = fcntl($glob, F_GETFD, 0);
    my $ok = defined POSIX::dup2(fileno $fresh, $fd);
    my $err = $!;
    close $fresh;
    return "dup2: $err" unless $ok;
    fcntl($glob, F_SETFD, $fd_flags) if defined $fd_flags;
    # Drops whatever is buffered, sets the new file's offset and
    # clears the end-of-file flag.
    seek($glob, $pos, 0) or return "seek: $!";
    return undef;
}

1;
