"""[extra-fds] The caller's open fds above 2, each at its number in the
call, as a standalone run inherits them (docs/protocol.md, "extra-fds").

The executor receives them at whatever numbers are free (close-on-exec,
as every fd it receives).  move_off() first takes them off every
number wanted, so that none sits where another is to go; held_by_script()
tells which wanted numbers the script's initialisation holds itself
(those stay the script's); place() then puts the others at their
numbers, inheritable, once nothing of the server is open any more.
"""

import fcntl
import os
import resource


def move_off(extras):
    """extras: [(number, fd received)].  Returns [(number, copy)] with
    every copy at a number none of them takes (the lowest such free
    ones), the received fds closed.  Raises OSError (every fd closed)
    if the copies cannot be made."""
    wanted = {number for number, _fd in extras}
    moved = []
    try:
        for number, fd in extras:
            moved.append((number, _copy_off(fd, wanted)))
    except OSError:
        close_all(moved)
        raise
    finally:
        close_all(extras)
    return moved


def _copy_off(fd, wanted):
    """A close-on-exec copy of fd at the lowest free number from 3 that
    is not in wanted."""
    lowest = 3
    while True:
        copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)
        if copy not in wanted:
            return copy
        # (at most once for each number wanted)
        os.close(copy)
        lowest = copy + 1


def held_by_script(moved, server_fds):
    """The wanted numbers open in this process, but for server_fds (the
    server's log, closed before place()): the script's initialisation
    opened them, and they stay its own."""
    return [number for number, _copy in moved
            if number not in server_fds and _is_open(number)]


def place(moved, held):
    """Puts each copy at its number (dup2: inheritable, as inherited) but
    those of held, and closes every copy.  A number at or above the soft
    limit of open files (the caller's: it lowered the limit while holding
    the fd) is placed with the soft limit raised to the hard one for the
    while.  Raises OSError if one cannot be placed."""
    wanted = [(n, copy) for n, copy in moved if n not in held]
    try:
        if wanted:
            with _room_for(max(n for n, _copy in wanted)):
                for number, copy in wanted:
                    os.dup2(copy, number, inheritable=True)
    finally:
        close_all(moved)


def lacks_room(moved, held):
    """Why place() cannot put these numbers under the hard limit of
    open files (the caller lowered it below an fd it holds), or None:
    worded as the Perl module words it."""
    numbers = [n for n, _copy in moved if n not in held]
    if not numbers:
        return None
    top = max(numbers)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or top < hard:
        return None
    return (f"the caller's fd {top} does not fit under this server's hard "
            f"limit of {hard} open files; start a server of its own from "
            f"this caller (-f)")


def close_all(pairs):
    for _number, fd in pairs:
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


class _room_for:
    """The soft limit of open files above fd while in the block."""

    def __init__(self, fd):
        self.fd = fd
        self.limits = None

    def __enter__(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and self.fd >= soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            self.limits = (soft, hard)
        return self

    def __exit__(self, *_exc):
        if self.limits is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, self.limits)
