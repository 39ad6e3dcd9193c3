package Proc::Prefork::Interp::Stdio;

# STDIN, STDOUT and STDERR across the server's life: on /dev/null in
# the server, on the caller's fds in each executor, always under the
# perl handles that perl itself opened at start-up.
#
# Why not open(): perl checks at exit that its own STDOUT (the handle
# it opened at start-up, PerlIO_stdout()) flushes, and otherwise says
# "Unable to flush stdout: ..." and exits 1. Reopening STDOUT with
# open() leaves that start-up handle behind, closed, and the check is
# skipped: a call writing to a full disk would end with status 0.
# dup2() onto fds 0-2 keeps the handles, and with them any layers the
# script's initialisation pushed (binmode, "use open ':std'").
#
# Kept handles keep what their buffer layers decided when they were
# pushed: line buffering (a terminal then) and the file position. So an
# executor pushes those layers again once the caller's fds are in place,
# and the call gets what a fresh perl on these fds would have.

use strict;
use warnings;

use IO::Handle ();
use POSIX ();

# PerlIO's layer flags (perliol.h) that get_layers reports.
use constant {
    PERLIO_F_UTF8  => 0x00008000,
    PERLIO_F_UNBUF => 0x00010000,
};

# Layers that keep nothing but what pushing them again gives back (an
# encoding layer: its encoding, which is its argument). Any other layer
# (:via, ...) may hold state of the script's: left alone.
my %REPUSHABLE = map { $_ => 1 } qw(perlio crlf encoding);

my @STD = (\*STDIN, \*STDOUT, \*STDERR);

# In the server: /dev/null on fds 0-2, so that it holds none of its
# first caller's files. Buffered input of the initialisation is dropped
# and output written out first, as a reopen would. Returns false with $!.
sub to_devnull {
    open(my $null, '+<', '/dev/null') or return 0;
    my $ok = install([ (fileno $null) x 3 ]);
    close $null;
    return $ok;
}

# $fds: three fds (not 0-2) for fds 0, 1 and 2, which take their places
# under STDIN, STDOUT and STDERR; the fds themselves stay open. Returns
# false with $! if one cannot be installed.
sub install {
    my ($fds) = @_;
    for my $fd (0 .. 2) {
        # A flush drops what STDIN read ahead and writes out what the
        # others hold, before the fd underneath changes.
        $STD[$fd]->flush;
        defined POSIX::dup2($fds->[$fd], $fd) or return 0;
        $STD[$fd]->clearerr;
    }
    return 1;
}

# In an executor, once install() has put the caller's fds in place:
# push each handle's buffer layers again, as perl pushed them at
# start-up on these fds (line-buffered on a terminal, block-buffered
# otherwise, at the fd's position). Returns false if a handle could
# not be rebuilt (it then keeps its layers).
sub refresh_buffers {
    my $ok = 1;
    $ok = _repush($_) && $ok for @STD;
    return $ok;
}

# The layers of $fh above the ones to keep, pushed again. Kept: the
# bottom (unix) layer, which holds no decision, and STDERR's unbuffered
# buffer layer, which only perl's start-up can make (it is unbuffered
# whatever its fd is, so what it decided does not matter).
sub _repush {
    my ($fh) = @_;
    my @layers = _layers($fh);
    my $keep = 1;
    $keep++ if @layers > 1 && $layers[1]{flags} & PERLIO_F_UNBUF;
    my @redo = @layers[$keep .. $#layers];
    return 1 unless @redo;
    return 0 if grep { !$REPUSHABLE{$_->{name}} } @redo;
    for (@redo) {
        binmode($fh, ':pop') or return 0;
    }
    return binmode($fh, join '', map { _spec($_) } @redo);
}

# [{ name, arg, flags }] of $fh, bottom first.
sub _layers {
    my ($fh) = @_;
    my @flat = PerlIO::get_layers($fh, details => 1);
    my @layers;
    while (my ($name, $arg, $flags) = splice @flat, 0, 3) {
        push @layers, { name => $name, arg => $arg, flags => $flags // 0 };
    }
    return @layers;
}

# A layer as binmode takes it, with the utf8 flag it had.
sub _spec {
    my ($l) = @_;
    my $spec = ":$l->{name}";
    $spec .= "($l->{arg})" if defined $l->{arg};
    $spec .= ':utf8' if $l->{flags} & PERLIO_F_UTF8;
    return $spec;
}

1;
