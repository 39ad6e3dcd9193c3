"""[extra-fds] The caller's open fds above 2, each at its number in the
call, as a standalone run inherits them (docs/protocol.md, "extra-fds").

The executor receives them at whatever numbers are free (close-on-exec,
as every fd it receives).  held_by_script() tells which wanted numbers
the script's initialisation holds itself (those stay the script's);
place() then puts the others at their numbers, inheritable, once
nothing of the server is open any more: in place, a parallel move that
needs at most one free number besides theirs, as a standalone run
holding the caller's fds has (to open the script, at least).  Copying
them all aside first would need as many again: fds packed up to near
the caller's hard limit (`ulimit -n 40`, fds 3 to 30) leave no room.
"""

import fcntl
import os
import resource


def held_by_script(extras, server_fds):
    """The wanted numbers open in this process, but for the received
    fds themselves and server_fds (the server's log, closed before
    place()): the script's initialisation opened them, and they stay
    its own.  (A received fd never stands on one of those: it arrived
    after them.)"""
    machinery = set(server_fds) | {fd for _number, fd in extras}
    return [number for number, _fd in extras
            if number not in machinery and _is_open(number)]


def place(extras, held):
    """extras: [(number, fd received)].  Puts each received fd at its
    number (inheritable, as inherited) but those of held, and closes it
    where it stood; every number must be free or stand one of these
    fds.  The soft limit of open files is the hard one for the while
    (the caller's soft one may lie below its fds).  Raises OSError if
    one cannot be placed; every fd not placed is closed either way."""
    moves = {}
    for number, fd in extras:
        if number in held:
            os.close(fd)
        else:
            moves[number] = fd
    try:
        if moves:
            with _room_up_to_hard():
                _parallel_move(moves)
    finally:
        for fd in moves.values():
            _close_quietly(fd)


def _parallel_move(moves):
    """moves: {number to go to: number the fd stands on}, emptied as
    each is placed."""
    while moves:
        sources = set(moves.values())
        # Onto a number no other pending fd stands on (one at its own
        # number needs only its flag cleared).
        ready = sorted(to for to, fd in moves.items()
                       if fd == to or to not in sources)
        for to in ready:
            fd = moves.pop(to)
            if fd == to:
                os.set_inheritable(fd, True)
            else:
                try:
                    os.dup2(fd, to, inheritable=True)
                finally:
                    os.close(fd)
        if ready:
            continue
        # Only cycles are left (3 wants the fd on 4, 4 the one on 3):
        # one of them copied to the lowest free number, which is none
        # of theirs (they are all taken), frees its number.
        to = min(moves)
        spare = fcntl.fcntl(moves[to], fcntl.F_DUPFD_CLOEXEC, 3)
        os.close(moves[to])
        moves[to] = spare


def lacks_room(extras, held):
    """Why place() cannot put these numbers under the hard limit of
    open files (the caller lowered it below an fd it holds), or None:
    worded as the Perl module words it."""
    numbers = [n for n, _fd in extras if n not in held]
    if not numbers:
        return None
    top = max(numbers)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or top < hard:
        return None
    return (f"the caller's fd {top} does not fit under this server's hard "
            f"limit of {hard} open files; start a server of its own from "
            f"this caller (-f)")


def _close_quietly(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def _is_open(fd):
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError:
        return False
    return True


class _room_up_to_hard:
    """The soft limit of open files at the hard one while in the block."""

    def __init__(self):
        self.limits = None

    def __enter__(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            self.limits = (soft, hard)
        return self

    def __exit__(self, *_exc):
        if self.limits is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, self.limits)
