package Proc::Prefork::Interp::FastExit;

# The opt-in fast ending of a call (fast_exit => 1). A call's ordinary
# end is perl's: END blocks, then global destruction, which frees the
# main program and, through the C library's allocator, writes to pages
# all over the heap that the executor still shares copy-on-write with
# the server. The fast ending keeps everything a script can observe
# before that point and leaves out the destruction itself:
#
#   - every END block runs, in perl's order (ours is queued last, after
#     those compiled or required later);
#   - STDOUT is flushed first, a failure reported as perl reports it
#     ("Unable to flush stdout: ...", status 1 instead of 0);
#   - every perl file handle is flushed, lexical ones included, as perl
#     flushes them before an exec;
#   - the process then ends with _exit and perl's exit status ($? as
#     the END blocks left it).
#
# Left out: DESTROY methods of objects still alive at the end, the
# closing of handles beyond the flush (PerlIO layers that write a
# trailer on close do not write it), C-level destructors and atexit
# handlers of XS modules, and the DESTRUCT phase.
#
# If an END block dies, perl abandons the queue, ours included, and
# ends the ordinary way. So does a script under taint checks (-T): there
# perl refuses the exec that flushes the handles.

use strict;
use warnings;

use B ();
use IO::Handle ();
use POSIX ();

# Perl creates its END queue with the first END block; this one makes
# sure it exists for arm().
END { }

# In an executor, as its call starts.
sub arm {
    return 0 if ${^TAINT};
    my $queue = B::end_av();
    return 0 unless $queue->isa('B::AV');
    # The queue is perl's own array; perl shifts each block off it as
    # it runs it, so one pushed now runs after all the others.
    push @{$queue->object_2svref}, \&_end;
    return 1;
}

sub _end {
    my $status = $?;
    $status = 1 unless _flush_stdout() || $status;
    {
        # A failed exec flushes every perl output handle first; '/' is
        # a directory, which can never be executed.
        no warnings 'exec';
        exec { '/' } '/';
    }
    POSIX::_exit($status);
}

# What perl does first at its own ending: STDOUT flushed on its own, a
# failure (a full disk, a closed pipe's EPIPE with SIGPIPE ignored)
# reported on STDERR and turning a success into exit status 1. The
# flush of every handle that follows reports nothing. False on failure.
sub _flush_stdout {
    return 1 unless defined fileno STDOUT;
    return 1 if STDOUT->flush;
    print STDERR "Unable to flush stdout: $!\n" if $!;
    return 0;
}

1;
