"""The server's wakeup pipe, and the signals that it carries.

Python allows one wakeup fd per process (signal.set_wakeup_fd): the C
handler of every signal that has a Python handler writes the signal's
number to it, one byte, the moment the signal arrives.  The server
opens the pipe when it starts and polls its read end, so a signal wakes
its loop at once, even one that comes just before poll blocks; what it
read says which signals came:

  SIGTERM, SIGINT, SIGHUP   quit as when the socket is removed (kill
                            PID, systemd stopping a unit, a shutdown):
                            stop accepting, let the running calls end
                            and report, exit 0.  The script's own
                            handlers for them are its calls', never the
                            server's.
  SIGCHLD                   [signals] a relaying call may have stopped
                            or continued (pool.py); its handler is
                            installed only once a call relays.

The pipe and the server's handlers must never reach a child: across
fork these signals are held (blocked), and the child drops both before
it lets them through (release_in_child), so that a signal sent to a
spare is the spare's alone (it dies of it) and wakes no server.
"""

import os
import signal

QUIT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
HELD_ACROSS_FORK = QUIT_SIGNALS + (signal.SIGCHLD,)


def signals_in(data):
    """The signal numbers in bytes read from a wakeup pipe, in order,
    each once (pure)."""
    seen = []
    for byte in data:
        if byte and byte not in seen:
            seen.append(byte)
    return seen


def quit_signal(signums):
    """The first quit signal among signums, or None (pure)."""
    return next((s for s in signums if s in QUIT_SIGNALS), None)


def hold_quit_signals():
    """Blocks the quit signals until the server's handlers are in place
    (Wakeup): one sent while the server starts then quits it as any
    other would, rather than killing it and its first call."""
    signal.pthread_sigmask(signal.SIG_BLOCK, QUIT_SIGNALS)


def _noop(_signum, _frame):
    pass


class Wakeup:
    def __init__(self, keep=()):
        """Opens the pipe and takes over the quit signals, except those
        in keep (handlers installed from C, which Python cannot put back
        in a call: they stay as the initialisation left them); then lets
        them through.  Raises OSError if the pipe cannot be made."""
        self.read_end, self.write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.write_end, warn_on_full_buffer=False)
        self.taken = [s for s in QUIT_SIGNALS if s not in keep]
        self.caught = None      # a quit signal whose handler ran
        self.chld = False       # SIGCHLD writes to the pipe
        for signum in self.taken:
            signal.signal(signum, self._caught)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, QUIT_SIGNALS)

    def _caught(self, signum, _frame):
        # Only remembered (the loop acts on it): a Python handler runs
        # between any two bytecodes of the loop.  The byte in the pipe
        # normally says it first; this covers a full pipe.
        self.caught = signum

    def fileno(self):
        return self.read_end

    def watch_chld(self):
        """[signals] SIGCHLD wakes the loop from now on."""
        if self.chld:
            return
        if signal.getsignal(signal.SIGCHLD) in (signal.SIG_DFL,
                                                signal.SIG_IGN, None):
            signal.signal(signal.SIGCHLD, _noop)
        self.chld = True

    def read(self):
        """The signals that came since the last read: their numbers, in
        order, each once."""
        data = b""
        try:
            while True:
                chunk = os.read(self.read_end, 4096)
                if not chunk:
                    break
                data += chunk
        except (BlockingIOError, InterruptedError):
            pass
        signums = signals_in(data)
        caught, self.caught = self.caught, None
        if caught is not None and caught not in signums:
            signums.append(caught)
        return signums

    # ------------------------------------------------------------ fork

    def hold(self):
        """Before fork: blocks the signals that would write to the pipe
        or run the server's handlers in the child.  Returns the mask to
        give back (release_in_parent, release_in_child)."""
        return signal.pthread_sigmask(signal.SIG_BLOCK, HELD_ACROSS_FORK)

    def release_in_parent(self, mask):
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def release_in_child(self, mask):
        """In a new child: no wakeup fd, the quit signals at their
        default (a spare dies of them; a call gets its own dispositions
        from callstate.reset_signals), then the server's mask back."""
        signal.set_wakeup_fd(-1)
        for signum in self.taken:
            signal.signal(signum, signal.SIG_DFL)
        for fd in (self.read_end, self.write_end):
            os.close(fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
