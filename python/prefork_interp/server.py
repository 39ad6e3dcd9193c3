"""The server: one poll loop over the listening socket, the watcher,
inotify, and each child's pidfd, call socket and control socket.

It runs in the setup's child, a session leader whose standard streams
are /dev/null.  SIGTERM, SIGINT and SIGHUP make it quit as the
removal of its socket does (wakeup.py).  It never returns: it exits
with os._exit once it has quit and every running call has ended, or its
children leave it by raising pool.BecomeExecutor.
"""

import errno
import os
import select
import signal
import socket
import time
import traceback

from . import caller_state, linux, peercreds, protocol
from .autoreload import Autoreload
from .pool import Pool
from .wakeup import QUIT_SIGNALS, Wakeup, quit_signal

NOPIDFD_TICK = 0.1     # poll bound when a child has no pidfd
FD_BACKOFF = 0.25      # seconds without accepting when out of descriptors,
                       # unless a call ends first
OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class Server:
    def __init__(self, startup, fds, options, log, autoreload_files):
        self.options = options
        self.log = log
        self.startup = startup
        self.listen = socket.socket(fileno=fds["listen"])
        self.listen.setblocking(False)
        os.set_blocking(fds["watche"], False)
        self.watche = fds["watche"]
        self.watchi = fds["watchi"]
        features = protocol.features_for(startup.client_reads_xdata)
        self.greeting = protocol.encode_greeting(features)
        self.declined = protocol.declined_for(startup.client_reads_xdata)
        self.offered_bits = protocol.offered_bits(features)
        self.first_call = socket.socket(fileno=fds["call"])
        self.first_call.setblocking(True)
        self.autoreload_files = autoreload_files
        self.autoreload = None
        self.pool = Pool(options, log)
        self.pool.on_fork = self._drop_state
        self.errors = 0
        self.fd_pause = None    # (until, pool.reaped) when out of fds
        self.fd_logged = False
        # An fd held while waiting for a call, let go of just before the
        # caller's /proc status is read (dispatch): a server at its
        # limit on open files still has that one number once accept has
        # taken the last other one.
        self.peer_reserve = None
        self.failed_steps = 0   # consecutive passes in which a handler failed
        self.step_failed = False

    # ------------------------------------------------------------ in a child

    def _drop_state(self, call, ctl):
        """In a freshly forked child: close everything the server holds,
        so that the per-call code has only its caller's fds and the
        script's own."""
        for fd in (self.watche, self.watchi, self.peer_reserve):
            if fd is not None:
                os.close(fd)
        self.peer_reserve = None
        if self.listen is not None:
            self.listen.close()
        if self.autoreload is not None:
            self.autoreload.close()
        self.pool.close_all(keep=call)
        self.log.forked()

    # ------------------------------------------------------------ the loop

    def run(self, c_handlers=()):
        """c_handlers: signals whose handlers were installed from C,
        left alone (callstate.c_handlers)."""
        self.open_wakeup(c_handlers)
        # Room for every call's descriptors (calls get their caller's).
        caller_state.raise_server_nofile()
        self.dispatch(self.first_call)
        self.first_call = None
        # Made after the first call's hand-off: that call need not wait
        # for hundreds of inotify watches to be set up.
        self.autoreload = Autoreload(self.autoreload_files,
                                     self.startup.start_ns, self.log)
        if self.autoreload.newer(self.autoreload.files):
            self.begin_quit()
        while True:
            self.step_failed = False
            try:
                self.step()
            except Exception as e:
                self.handler_failed("pass", e)
            if not self.step_failed:
                self.failed_steps = 0
                continue
            # One failure must not end the server and every call it
            # serves; failing over and over, it is broken and quits.
            self.failed_steps += 1
            if self.failed_steps > self.options.max_errors:
                self.log("err", f"{self.failed_steps} passes in a row "
                         "failed; quitting")
                raise RuntimeError("too many failures in the server loop")

    def open_wakeup(self, c_handlers):
        """Before the first fork: the wakeup pipe, and the server's own
        handlers for the quit signals (held since _become_server)."""
        try:
            self.pool.wakeup = Wakeup(keep=c_handlers)
        except OSError as e:
            # Not worth refusing to serve: the signals end it at once.
            self.log("err", f"no wakeup pipe ({e.strerror}): SIGTERM, "
                     "SIGINT and SIGHUP end the server and its callers "
                     "lose their exit statuses")
            signal.pthread_sigmask(signal.SIG_UNBLOCK, QUIT_SIGNALS)

    def handler_failed(self, what, e):
        """Logs (one line, with where it was raised) an exception of one
        event's handler: a fault of one call's event, or a bug, which is
        not hidden but must not end every other call."""
        self.step_failed = True
        where = ""
        frames = traceback.extract_tb(e.__traceback__)
        if frames:
            f = frames[-1]
            where = f" at {os.path.basename(f.filename)}:{f.lineno} in {f.name}"
        self.log("err", f"handling {what} failed: {e!r}{where}")

    def step(self):
        pool, opts = self.pool, self.options
        for kid in [k for k in pool.kids.values() if k.pidfd is None]:
            pool.reap(kid)
        # [signals] a child whose 'S' the last pass read: a stop it made
        # before SIGCHLD could wake the poll is found here.
        pool.check_relaying()
        pool.replenish_spares()
        pool.allow_prefault()
        if self.quitting() and not pool.kids:
            self.final_exit()
        pool.start_ready()

        now = time.monotonic()
        deadlines = []
        poller = select.poll()
        roles = {}

        def watch(fd, events, role, kid=None):
            poller.register(fd, events)
            roles[fd] = (role, kid)

        pending = pool.pending()
        if self.fd_pause is not None and (now >= self.fd_pause[0]
                                          or pool.reaped != self.fd_pause[1]):
            self.fd_pause = None
        if self.listen is not None and self.fd_pause is not None:
            # Out of descriptors: the connection waits in the backlog.
            deadlines.append(self.fd_pause[0])
        elif self.listen is not None:
            if len(pending) < opts.max_pending or pool.evictable():
                watch(self.listen.fileno(), select.POLLIN, "listen")
            else:
                # Full: wake when the oldest pending call may be dropped.
                oldest = min((k.since for k in pending if k.in_exchange()),
                             default=None)
                if oldest is not None:
                    deadlines.append(oldest + opts.pending_grace)
        if self.watche is not None:
            watch(self.watche, select.POLLIN, "watche")
        if self.autoreload is not None and self.autoreload.fileno() is not None:
            watch(self.autoreload.fileno(), select.POLLIN, "inotify")
        for kid in pool.kids.values():
            if kid.pidfd is not None:
                watch(kid.pidfd, select.POLLIN, "child", kid)
            else:
                deadlines.append(now + NOPIDFD_TICK)
            if kid.call is not None and kid.gone is None and kid.signals:
                # [signals] the client's bytes are signals to send on
                watch(kid.call.fileno(), select.POLLIN | linux.POLLRDHUP,
                      "relay", kid)
            elif kid.call is not None and kid.gone is None:
                watch(kid.call.fileno(), linux.POLLRDHUP, "call", kid)
            if kid.ctl is not None and kid.in_exchange():
                watch(kid.ctl.fileno(), select.POLLIN, "control", kid)
            if kid.gone is not None and not kid.killed:
                deadlines.append(kid.gone + 0.5)
        if any(k.state == "ready" for k in pool.kids.values()):
            oldest = min((k.since for k in pool.kids.values()
                          if k.state == "granted"), default=None)
            if oldest is not None:
                deadlines.append(oldest + opts.pending_grace)
        if self.listen is not None and not pool.busy_count() \
                and opts.idle_timeout >= 0:
            deadlines.append(pool.last_active + opts.idle_timeout)
        if pool.spare_retry is not None:
            deadlines.append(pool.spare_retry)
        # Signals wake the poll through the wakeup pipe, even one that
        # came before it blocks.  [signals] Stops and continues of
        # relaying calls: SIGCHLD wakes it, or (without the pipe) it
        # looks every NOPIDFD_TICK.
        if pool.wakeup is not None:
            watch(pool.wakeup.fileno(), select.POLLIN, "wakeup")
        if pool.relaying() and not pool.chld_wakes():
            deadlines.append(now + NOPIDFD_TICK)

        timeout = None
        if deadlines:
            timeout = max(0, min(deadlines) - now) * 1000 + 1
            timeout = min(timeout, 0x7FFFFFFF)
        try:
            events = poller.poll(timeout)
        except OSError as e:
            self.log("err", f"poll failed: {e.strerror}; quitting")
            self.begin_quit()
            return

        ready = set()
        for fd, _revents in events:
            role, kid = roles[fd]
            if kid is not None and pool.kids.get(kid.pid) is not kid:
                continue    # reaped by an earlier event: its pid is free
            try:
                self.handle(role, kid, ready)
            except Exception as e:
                self.handler_failed(role if kid is None else
                                    f"{role} of [{kid.pid}]", e)
        pool.escalate_kills()
        if "watche" in ready:
            self.watcher_readable()
        if "inotify" in ready and self.autoreload.changed():
            self.begin_quit()
        if "listen" in ready and self.listen is not None:
            # Stale code must not serve this call: check before accepting.
            if self.autoreload.changed():
                self.begin_quit()
            elif len(pool.pending()) >= opts.max_pending:
                old = pool.evictable()
                if old is not None:
                    pool.evict(old)
            if self.listen is not None \
                    and len(pool.pending()) < opts.max_pending:
                self.accept_one()
        if self.listen is not None and not pool.busy_count() \
                and opts.idle_timeout >= 0 \
                and time.monotonic() >= pool.last_active + opts.idle_timeout:
            self.log("info", f"idle for {opts.idle_timeout} s, quitting")
            self.begin_quit()

    def handle(self, role, kid, ready):
        """One event of a child or call; the server's own go to ready."""
        pool = self.pool
        if role == "child":
            pool.reap(kid)
        elif role == "call":
            pool.client_gone(kid)
        elif role == "relay":
            pool.relay_readable(kid)
        elif role == "wakeup":
            self.signals_came(pool.wakeup.read())
        elif role == "control":
            if kid.ctl is not None:
                pool.control_readable(kid)
        else:
            ready.add(role)

    # ------------------------------------------------------------ calls

    def accept_one(self):
        try:
            # The descriptors a call needs besides its socket (a fresh
            # child's control socket), before accepting it: a call
            # accepted without them would be lost.
            self.pool.reserve_fds()
            # And one for reading the caller's privileges (dispatch).
            # Short of it, a call that ends frees some; with none
            # running, nothing will: the call is accepted without it,
            # and declined if that reading finds no fd (our client then
            # runs the script directly).
            busy = self.pool.busy_count()
            try:
                self._reserve_peer_fd()
            except OSError:
                if busy:
                    raise
            try:
                call, _addr = self.listen.accept()
            except OSError as e:
                if busy or e.errno not in (errno.EMFILE, errno.ENFILE) \
                        or self.peer_reserve is None:
                    raise
                os.close(self.peer_reserve)
                self.peer_reserve = None
                call, _addr = self.listen.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError as e:
            if e.errno in OUT_OF_FDS:
                self._out_of_fds(e)
                return
            self.log("warning", f"accept failed: {e.strerror}")
            self.errors += 1
            if self.errors > self.options.max_errors:
                self.log("err", "too many accept failures, quitting")
                self.begin_quit()
            return
        self.errors = 0
        self.fd_logged = False
        call.setblocking(True)
        self.dispatch(call)

    def _reserve_peer_fd(self):
        """Holds an fd (/dev/null) while the server waits for a call, let
        go of just before the caller's /proc status is read (dispatch);
        raises OSError if there is no room for it."""
        if self.peer_reserve is None:
            self.peer_reserve = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def _out_of_fds(self, e):
        """No descriptor (or memory) for another call: the listener is
        not polled until a call ends or FD_BACKOFF passes, instead of
        spinning on a listener that stays readable.  Logged once until a
        call is accepted again; not an accept error."""
        if not self.fd_logged:
            self.fd_logged = True
            self.log("warning", f"accept failed: {e.strerror}; accepting "
                     f"again when a call ends (or in {FD_BACKOFF} s)")
        self.fd_pause = (time.monotonic() + FD_BACKOFF, self.pool.reaped)

    def send_declined(self, call):
        """Tells our client that nothing of its call ran here."""
        if self.declined is None:
            return
        try:
            call.send(self.declined, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        except OSError:
            pass

    def dispatch(self, call):
        """Checks the caller's credentials, greets it and hands it to a
        child."""
        # (read once: the checks below are given it)
        try:
            creds = linux.peer_credentials(call)
        except OSError:
            creds = None
        peer_pid, peer_uid, _gid = creds or (None, None, None)
        if peer_uid != os.geteuid():
            self.log("warning", f"refused a call from pid {peer_pid} uid "
                     f"{peer_uid} (this server runs as uid {os.geteuid()})")
            call.close()
            return
        # Nor another gid or other groups (SO_PEERCRED, SO_PEERGROUPS).
        why = peercreds.differ(call, creds)
        if why is not None:
            self.log("warning", f"refused a call from {why}")
            call.close()
            return
        # Nor less privilege (capabilities, no-new-privs, seccomp):
        # declined, so that our client (under one -g name) runs the
        # script itself rather than take this server for a stale one and
        # replace it.  (The reading needs one fd: the one held for it,
        # let go of here.)
        if self.peer_reserve is not None:
            os.close(self.peer_reserve)
            self.peer_reserve = None
        why = peercreds.lacks(call, creds)
        if why is not None:
            self.log("warning", f"refused a call from {why}")
            self.send_declined(call)
            call.close()
            return
        # An executor first (a spare, or one forked now; in that child
        # this raises BecomeExecutor).  None can be made (the user's
        # process limit, no memory): the call is declined, so that our
        # client runs the script itself, as nothing of it ran.
        if not self.pool.hand_over(call):
            self.log("warning", "declined a call: no process could be made "
                     "for it")
            self.send_declined(call)
            call.close()
            return
        # The greeting goes out from here, at once, so that the client
        # reads it while the executor is still waking up.  A fresh
        # connection's buffer always has room; failing means the client
        # is gone, which the executor finds too.
        try:
            call.send(self.greeting, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        except OSError:
            pass

    # ------------------------------------------------------------ quitting

    def watcher_readable(self):
        try:
            data = os.read(self.watche, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.log("err", f"reading from watcher: {e.strerror}; quitting")
            data = None
        if data:
            text = data.decode("utf-8", "replace").rstrip()
            self.log("err", f"watcher: {text}")
        elif data is not None:
            self.log("info", "socket removed or replaced, quitting")
        self.begin_quit()

    def signals_came(self, signums):
        """Acts on the signals read from the wakeup pipe."""
        if signal.SIGCHLD in signums:
            self.pool.child_events_ready()
        signum = quit_signal(signums)
        if signum is not None and not self.quitting():
            # Logged once the listener is closed: a caller that reads
            # the line finds no server accepting.
            self.begin_quit()
            self.log("info", f"{signal.Signals(signum).name} received, "
                     "quitting")

    def quitting(self):
        return self.pool.quitting

    def begin_quit(self):
        """Stops taking calls; the loop exits once every running call
        has ended and reported its status."""
        if self.pool.quitting:
            return
        self.pool.quitting = True
        if self.listen is not None:
            self.listen.close()
            self.listen = None
        if self.watche is not None:
            os.close(self.watche)
            self.watche = None
        if self.autoreload is not None:
            self.autoreload.close()
        self.pool.retire_spares()

    def final_exit(self):
        if self.watchi is not None:
            os.close(self.watchi)
        os._exit(0)
