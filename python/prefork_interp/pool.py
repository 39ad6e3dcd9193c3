"""The server's children and the state of each call.

Each child is an executor: forked from the initialised server, it runs
the per-call code of one call.  Spares are forked in advance while no
call needs the server, and wait on their control socket (a socketpair
with the server) for a call's socket, so no fork of a large server
happens while a client waits.

States of a child (Kid.state):
  spare    idle, waiting for a call's socket
  pending  has a call, in its protocol exchange, holds no running slot
  granted  has a call, in its exchange, holds a running slot: its
           go-ahead ('G') travelled with the hand-off, so it starts the
           moment it has the request
  ready    has the whole request ('R'), waits for a running slot
  running  runs the per-call code
  dead     killed, waiting to be reaped

Control bytes: server -> child: 'P' (a spare may prefault now), 'C' with
the call's fd (hand-off), 'G' (go ahead).  child -> server: 'R' (request
complete), or 'S' (request complete, and the client relays signals: the
`signals` extension, see below).  EOF either way: the other side is gone.

[signals] From a child's 'S' on, the server reads its client's bytes
(each a signal for the call's process group), and reports the child's
stops and continues to the client as wait-status words before the final
status.  A pidfd reports only exits, so SIGCHLD wakes the poll (through
signal.set_wakeup_fd) and each relaying child is asked with
waitpid(WUNTRACED | WCONTINUED).  (The pipe is the server's wakeup
pipe, wakeup.py, which also carries SIGTERM, SIGINT and SIGHUP.)  The
group's id is the child's pid: the server signals it only until it has
reaped the child, so it cannot have been reused.
"""

import os
import signal
import socket
import time

from . import linux, protocol

FORK_RETRY = 1.0     # seconds to wait after a failed fork
KILL_GRACE = 0.5     # seconds between SIGINT and SIGKILL for a gone client


class BecomeExecutor(BaseException):
    """Raised in a freshly forked child: unwinds the server's stack so
    that initialisation_complete() can turn the child into an executor.
    A BaseException, so that no server code can swallow it."""

    def __init__(self, call, ctl):
        super().__init__()
        self.call = call    # the call's socket, or None for a spare
        self.ctl = ctl      # the child's end of the control socket


class Kid:
    def __init__(self, pid, pidfd, state, ctl):
        self.pid = pid
        self.pidfd = pidfd
        self.state = state
        self.since = time.monotonic()
        self.ctl = ctl
        self.call = None
        self.prefault_sent = False   # told it may prefault ('P')
        self.gone = None      # when the client went away
        self.killed = False   # SIGKILL sent after KILL_GRACE
        self.signals = False  # its client relays signals ('S')

    def in_exchange(self):
        return self.state in ("pending", "granted")

    def close_ctl(self):
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None


_kill_log = None        # the Pool's log (one Pool per server)
_kill_refused = set()   # children whose signals were refused, logged once


def _kill(pid, sig, group=False):
    """Signals a child, or its call's process group.  Any failure is
    the call's business, never the server's (as perl's kill, which
    returns false): a group whose processes all exec'd a set-uid
    program that changed their real uid (sudo) refuses with EPERM;
    that is logged once per child."""
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
    except OSError as e:
        if pid in _kill_refused:
            return
        _kill_refused.add(pid)
        if _kill_log is not None:
            _kill_log("warning", f"cannot signal call [{pid}]"
                      f"{' (its group)' if group else ''} with signal "
                      f"{int(sig)}: {e.strerror} (a set-uid program?); "
                      "the call goes on")


class Pool:
    def __init__(self, options, log):
        global _kill_log
        _kill_log = log
        self.options = options
        self.log = log
        self.kids = {}          # pid -> Kid
        self.spares = []        # idle Kids, oldest first
        self.spare_retry = None
        self.quitting = False
        self.last_active = time.monotonic()
        self.on_fork = None     # called in a new child before it unwinds
        self.wakeup = None      # the server's wakeup.Wakeup, if it has one
        self.relay_check = False    # [signals] look at relaying children
        self.reserved = None    # a control socketpair made before accept
        self.reaped = 0         # children reaped so far

    # ------------------------------------------------------------ counts

    def running_count(self):
        return sum(k.state in ("running", "granted") for k in self.kids.values())

    def pending(self):
        """Calls accepted but not yet running: in the exchange, or done
        with it and waiting for a running slot.  They have their own
        bound, max_pending, so that connections that never complete the
        exchange cannot hold the running slots for long."""
        return [k for k in self.kids.values()
                if k.in_exchange() or k.state == "ready"]

    def busy_count(self):
        return sum(k.state not in ("spare", "dead") for k in self.kids.values())

    def _at_max(self):
        limit = self.options.max_servers
        return limit >= 0 and self.running_count() >= limit

    def _oldest(self, states, grace=True):
        limit = time.monotonic() - self.options.pending_grace
        kids = [k for k in self.kids.values() if k.state in states
                and (not grace or k.since <= limit)]
        return min(kids, key=lambda k: k.since, default=None)

    def evictable(self):
        """The oldest call still in its exchange after pending_grace."""
        return self._oldest(("pending", "granted"))

    # ------------------------------------------------------------ forking

    def fork_executor(self, call):
        """Forks a child for call, or a spare if call is None.  Returns
        its Kid in the server (None if forking failed); in the child it
        raises BecomeExecutor."""
        if self.reserved is not None:
            (ctl, ctl_child), self.reserved = self.reserved, None
        else:
            try:
                ctl, ctl_child = socket.socketpair()
            except OSError as e:
                self.log("err", f"socketpair: {e.strerror}")
                return None
        wakeup = self.wakeup
        mask = wakeup.hold() if wakeup is not None else None
        try:
            pid = os.fork()
        except OSError as e:
            if wakeup is not None:
                wakeup.release_in_parent(mask)
            self.log("err", f"fork: {e.strerror}")
            ctl.close()
            ctl_child.close()
            return None
        if pid == 0:
            if wakeup is not None:
                self.wakeup = None
                wakeup.release_in_child(mask)
            os.setpgid(0, 0)
            ctl.close()
            if self.on_fork is not None:
                self.on_fork(call, ctl_child)
            raise BecomeExecutor(call, ctl_child)
        if wakeup is not None:
            wakeup.release_in_parent(mask)
        ctl_child.close()
        # Also done by the child; doing both avoids a race with killpg.
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        kid = Kid(pid, self._pidfd(pid), "pending" if call else "spare", ctl)
        self.kids[pid] = kid
        if call is None:
            self.spares.append(kid)
        return kid

    def reserve_fds(self):
        """Before a call is accepted: True if the server has the
        descriptors it will need for it besides its socket.  A spare has
        its control socket; otherwise one is made now, kept for
        fork_executor.  Raises OSError if none can be made."""
        if self.spares or self.reserved is not None:
            return
        self.reserved = socket.socketpair()

    def _pidfd(self, pid):
        try:
            pidfd = linux.pidfd_open(pid)
        except OSError as e:
            self.log("warning", f"pidfd_open: {e.strerror}")
            pidfd = None
        if pidfd is None and signal.getsignal(signal.SIGCHLD) in (
                signal.SIG_DFL, signal.SIG_IGN, None):
            # Without a pidfd, SIGCHLD interrupts poll, which is bounded.
            signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        return pidfd

    def replenish_spares(self):
        """Forks missing spares, but only while no call is in its
        exchange: forking a large server takes a while."""
        if self.quitting or self.pending():
            return
        if self.spare_retry is not None:
            if time.monotonic() < self.spare_retry:
                return
            self.spare_retry = None
        while len(self.spares) < self.options.prefork_spares:
            if self.fork_executor(None) is None:
                self.spare_retry = time.monotonic() + FORK_RETRY
                return

    # ------------------------------------------------------------ calls

    def hand_over(self, call):
        """Gives an accepted call to a spare, or to a new child.  Returns
        True once one has it, False if none could be made (the call is
        left to the caller, to decline)."""
        self.last_active = time.monotonic()
        while self.spares:
            kid = self.spares.pop(0)
            try:
                socket.send_fds(kid.ctl, [b"C"], [call.fileno()])
            except OSError as e:
                self.log("warning", f"spare [{kid.pid}] could not take a "
                         f"call: {e.strerror}")
                kid.close_ctl()
                _kill(kid.pid, signal.SIGKILL)
                kid.state = "dead"
                continue
            kid.state = "pending"
            kid.since = time.monotonic()
            kid.call = call
            self._grant_if_free(kid)
            return True
        kid = self.fork_executor(call)
        if kid is None:
            return False
        kid.call = call
        self._grant_if_free(kid)
        return True

    def _send_go(self, kid, flags=0):
        try:
            return kid.ctl.send(b"G", socket.MSG_NOSIGNAL | flags) == 1
        except OSError:
            return False

    def _grant_if_free(self, kid):
        if not self._at_max() and self._send_go(kid, socket.MSG_DONTWAIT):
            kid.state = "granted"

    def control_readable(self, kid):
        """A child in its exchange wrote to its control socket: 'R' when
        it has the whole request; EOF when it ended (reaped apart)."""
        byte = _recv_now(kid.ctl, 1)
        if byte is None:
            return
        if byte == b"S" and kid.in_exchange():
            self._relay_begin(kid)
            byte = b"R"
        if byte == b"R" and kid.state == "pending":
            kid.state = "ready"
            kid.since = time.monotonic()
        elif byte == b"R" and kid.state == "granted":
            kid.state = "running"
            kid.close_ctl()
        else:
            kid.close_ctl()

    def start_ready(self):
        """Lets ready calls run while running slots are free, oldest
        first; a call that has been granted a slot but is still in its
        exchange after pending_grace gives it up to a ready one."""
        ready = sorted((k for k in self.kids.values() if k.state == "ready"),
                       key=lambda k: k.since)
        for kid in ready:
            if self._at_max():
                stalled = self._oldest(("granted",))
                if stalled is None:
                    break
                self.evict(stalled)
            sent = self._send_go(kid)
            kid.close_ctl()
            kid.state = "running" if sent else "dead"

    def evict(self, kid):
        """Drops a call that has not finished its exchange, to make room."""
        self.log("warning", f"dropped call [{kid.pid}]: protocol exchange "
                 f"not complete after {self.options.pending_grace} s and "
                 f"{self.options.max_pending} calls pending")
        _kill(kid.pid, signal.SIGKILL, group=True)
        _kill(kid.pid, signal.SIGKILL)
        kid.close_ctl()
        if kid.call is not None:
            kid.call.close()
            kid.call = None
        kid.state = "dead"

    def reap(self, kid):
        """Collects an ended child; reports its wait status to its client."""
        flags = os.WNOHANG
        if kid.signals:
            flags |= os.WUNTRACED | os.WCONTINUED
        try:
            pid, status = os.waitpid(kid.pid, flags)
        except ChildProcessError:
            pid, status = kid.pid, None
        if pid == 0:
            return
        if kid.signals and status is not None:
            # [signals] a stop or continue goes to the client; the call
            # goes on.
            word = protocol.change_word(status)
            if word is not None:
                self._tell_client(kid, word)
                return
        del self.kids[kid.pid]
        self.reaped += 1
        _kill_refused.discard(kid.pid)
        if kid.pidfd is not None:
            os.close(kid.pidfd)
        if kid.state == "spare":
            self.spares.remove(kid)
            self.log("warning", f"spare [{kid.pid}] ended unexpectedly"
                     + ("" if status is None else f" with wait status {status}"))
        kid.close_ctl()
        if kid.call is not None:
            if kid.gone is None and status is not None:
                # Never blocking: one loop serves everyone, and a client
                # that stopped reading (its socket full of stop and
                # continue words) must not stall it.
                try:
                    kid.call.send(protocol.encode_status(status),
                                  socket.MSG_NOSIGNAL | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    self.log("warning", f"status of [{kid.pid}] not sent: its "
                             "client is not reading (its socket is full)")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                except OSError as e:
                    self.log("warning", f"writing status of [{kid.pid}]: "
                             f"{e.strerror}")
            kid.call.close()
            kid.call = None
            self.last_active = time.monotonic()

    # ------------------------------------------------------------ signals

    def _relay_begin(self, kid):
        """The child reported 'S': its request is in and its client
        relays signals.  A stop between that report and now sent its
        SIGCHLD before anything listened, so the next pass looks at the
        child anyway (relay_check)."""
        kid.signals = True
        self.relay_check = True
        if self.wakeup is not None:
            self.wakeup.watch_chld()

    def relaying(self):
        return [k for k in self.kids.values() if k.signals]

    def chld_wakes(self):
        """[signals] Whether SIGCHLD wakes the loop (else it looks at
        relaying children every NOPIDFD_TICK)."""
        return self.wakeup is not None and self.wakeup.chld

    def check_relaying(self):
        """Every pass: relaying children when SIGCHLD cannot wake the
        poll, or when one has just begun to relay."""
        if self.relay_check or not self.chld_wakes():
            self.relay_check = False
            for kid in self.relaying():
                self.reap(kid)

    def child_events_ready(self):
        """SIGCHLD came: a relaying call may have stopped or continued."""
        for kid in self.relaying():
            if self.kids.get(kid.pid) is kid:
                self.reap(kid)

    def relay_readable(self, kid):
        """Bytes from a relaying client: signals for the call's group;
        EOF: the client has gone."""
        data = _recv_now(kid.call, 256)
        if data is None:
            return
        if not data:
            self.client_gone(kid)
            return
        try:
            signums = protocol.decode_signals(data)
        except protocol.ProtocolError as e:
            self.log("warning", f"call [{kid.pid}]: {e}; ending the call")
            self.client_gone(kid)
            return
        for signum in signums:
            _kill(kid.pid, signum, group=True)

    def _tell_client(self, kid, word):
        if kid.call is None or kid.gone is not None:
            return
        try:
            kid.call.send(word, socket.MSG_NOSIGNAL | socket.MSG_DONTWAIT)
        except OSError:
            pass

    def client_gone(self, kid):
        """The client hung up: stop the whole call, politely first.  A
        call whose code has not started (reading its request, waiting
        for a slot) has nothing to clean up, and its executor still has
        the initialisation's handlers: it is killed outright."""
        if kid.gone is None:
            kid.gone = time.monotonic()
            # ("granted" may already run: its go-ahead came before the
            # request was complete)
            if kid.state in ("pending", "ready"):
                kid.killed = True
                _kill(kid.pid, signal.SIGKILL, group=True)
                return
            _kill(kid.pid, signal.SIGINT, group=True)

    def escalate_kills(self):
        now = time.monotonic()
        for kid in self.kids.values():
            if kid.gone is not None and not kid.killed \
                    and now >= kid.gone + KILL_GRACE:
                kid.killed = True
                _kill(kid.pid, signal.SIGKILL, group=True)

    def allow_prefault(self):
        """Prefaulting takes CPU time: spares are told to start only
        while no call is running, so that under load they do not compete
        with calls (see prefault.py)."""
        if self.options.prefault <= 0 or self.busy_count():
            return
        for kid in self.spares:
            if not kid.prefault_sent:
                kid.prefault_sent = True
                try:
                    kid.ctl.send(b"P", socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
                except OSError:
                    pass

    def retire_spares(self):
        for kid in self.spares:
            kid.close_ctl()
            _kill(kid.pid, signal.SIGKILL)
            kid.state = "dead"
        self.spares = []

    def close_all(self, keep=None):
        """In a new child: closes every fd the server holds for its
        children, except keep (the socket of the child's own call)."""
        if self.reserved is not None:
            for sock in self.reserved:
                sock.close()
            self.reserved = None
        for kid in self.kids.values():
            kid.close_ctl()
            if kid.call is not None and kid.call is not keep:
                kid.call.close()
            if kid.pidfd is not None:
                os.close(kid.pidfd)


def _recv_now(sock, size):
    """What sock has now (b"" for EOF or an error: the peer is gone), or
    None if nothing yet."""
    try:
        return sock.recv(size, socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""

