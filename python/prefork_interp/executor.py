"""In a child forked from the server: wait for a call (as a spare), read
its request, wait for a running slot, then become the caller's
standalone run (stdio, environment, argv, signals, random seed).

Protocol errors are logged and end the child with no status sent; a
client that went away ends it quietly.
"""

import array
import errno
import locale
import os
import socket
import sys
import time

from . import (call_locale, caller_state, callstate, environment,
               extrafds, linux, openfiles, prefault, protocol, stdio,
               streams)


class ClientGone(Exception):
    """The client closed its end: nothing to report to anyone."""


class _Reader:
    """Reads a call's request with one overall deadline."""

    def __init__(self, call, timeout):
        self.call = call
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout > 0 else None

    def _arm(self):
        if self.deadline is None:
            self.call.settimeout(None)
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.call.settimeout(left)

    def exact(self, size, what):
        buf = bytearray()
        while len(buf) < size:
            self._arm()
            try:
                chunk = self.call.recv(min(size - len(buf), 65536))
            except ConnectionResetError:
                raise ClientGone() from None
            if not chunk:
                raise ClientGone()
            buf += chunk
        return bytes(buf)

    def some(self, most):
        """What one read gives: 1 to most bytes."""
        self._arm()
        try:
            chunk = self.call.recv(min(most, 65536))
        except ConnectionResetError:
            raise ClientGone() from None
        if not chunk:
            raise ClientGone()
        return chunk

    def fd(self, which):
        """One byte carrying exactly one fd (SCM_RIGHTS).  The control
        buffer has room for many, so that two fds are told from a
        truncated message (the same checks and messages as the Perl
        module's FdMessage)."""
        self._arm()
        try:
            msg, ancdata, flags, _addr = self.call.recvmsg(
                1, CONTROL_LEN, socket.MSG_CMSG_CLOEXEC)
        except ConnectionResetError:
            raise ClientGone() from None
        fds = array.array("i")
        other = False
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
            else:
                other = True
        truncated = bool(flags & socket.MSG_CTRUNC) or \
            socket.CMSG_SPACE(fds.itemsize * (len(fds) + 1)) > CONTROL_LEN
        why = _no_room(len(msg), len(fds), which) or \
            _fd_fault(len(msg), truncated, len(fds), other, which)
        if why is not None or not msg:
            for fd in fds:
                os.close(fd)
            if why is None:
                raise ClientGone()
            raise protocol.ProtocolError(why)
        return fds[0]


CONTROL_LEN = 256


def _no_room(nbytes, nfds, which):
    """A message that came without its fd while this process has no
    number free (the kernel then drops the fd): not the client's fault,
    and said so.  The probe's own fd, if one was free, is closed again."""
    if nfds or not nbytes:
        return None
    try:
        os.close(os.dup(0))
    except OSError as e:
        if e.errno == errno.EMFILE:
            return (f"no free fd number to receive the caller's fd {which} "
                    "in (Too many open files)")
    return None


def _fd_fault(nbytes, truncated, nfds, other, which):
    """What is wrong with a stdio message, or None (pure)."""
    if not nbytes and not nfds and not other:
        return None         # EOF: the client went away
    if truncated:
        return (f"message for fd {which} had its control data truncated "
                "(too many fds)")
    if other:
        return f"message for fd {which} carried control data other than fds"
    if nfds == 0:
        return f"message for fd {which} carried no file descriptor"
    if nfds != 1:
        return f"message for fd {which} carried {nfds} file descriptors, not one"
    if not nbytes:
        return f"message for fd {which} carried an fd but no byte"
    return None


class Request:
    def __init__(self, uses, fds, env, args, state, extras):
        self.uses = uses    # step-2 bits: extensions the client uses
        self.fds = fds      # the caller's fds 0, 1, 2 (ours, CLOEXEC)
        self.env = env
        self.args = args
        self.state = state  # caller_state.CallerState, or None
        self.extras = extras    # [extra-fds] [(number, fd (ours))]


def read_request(call, offered, timeout):
    reader = _Reader(call, timeout)
    fds = []
    try:
        uses = protocol.decode_use_byte(reader.exact(1, "initial byte"),
                                        offered)
        for which in range(3):
            fds.append(reader.fd(which))
        length = protocol.decode_length(reader.exact(4, "request length"),
                                        protocol.MAX_REQUEST, "request")
        # Checked as it arrives, so that a fault is refused (and logged)
        # when its bytes come, not when the rest would have.
        scanner = protocol.RequestScanner()
        while len(scanner.body) < length:
            scanner.feed(reader.some(length - len(scanner.body)))
        env, args = protocol.decode_request(scanner.take())
        state = None
        if uses & protocol.USE_CALLER_STATE:
            # [caller-state] the block after the request
            length = protocol.decode_length(
                reader.exact(4, "caller-state length"),
                caller_state.MAX_BLOCK, "caller-state")
            state = caller_state.decode(reader.exact(length,
                                                     "caller-state block"))
        extras = []
        if uses & protocol.USE_EXTRA_FDS:
            # [extra-fds] the block after those, before any signal byte
            count = protocol.decode_extra_fds_length(
                reader.exact(4, "extra-fds length"))
            numbers = protocol.decode_extra_fds(
                reader.exact(4 * count, "extra-fds block"))
            for number in numbers:
                fds.append(reader.fd(number))
            extras = list(zip(numbers, fds[3:]))
    except socket.timeout:
        raise protocol.ProtocolError(
            f"request not complete after {timeout} s") from None
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    call.settimeout(None)
    return Request(uses, fds[:3], env, args, state, extras)


def wait_for_call(ctl, budget):
    """In a spare: the call's socket from the server, or exit if the
    server retired this spare (EOF).  Prefaults when the server allows
    it ('P'), until done or a call arrives."""
    while budget:
        try:
            byte = ctl.recv(1, socket.MSG_PEEK)
        except OSError:
            os._exit(0)
        if byte != b"P":
            break
        ctl.recv(1)
        prefault.prefault(ctl, budget)
        budget = 0
    try:
        msg, fds, _flags, _addr = socket.recv_fds(ctl, 1, 1)
    except OSError:
        os._exit(0)
    if not fds:
        os._exit(0)
    for extra in fds[1:]:
        os.close(extra)
    return socket.socket(fileno=fds[0])


def serve(call, ctl, context):
    """Runs in the child until the per-call code may start; returns then.
    context: the server-side facts the call needs (see __init__)."""
    linux.set_comm(b"pfi-spare" if call is None else b"pfi-call")
    if call is None:
        call = wait_for_call(ctl, int(context.options.prefault * (1 << 20)))
        linux.set_comm(b"pfi-call")
    call.setblocking(True)
    log = context.log
    try:
        request = read_request(call, context.offered_bits,
                               context.options.request_timeout)
    except ClientGone:
        # Its client went away mid-request: no status either (as
        # Perl's executor), even if the server reaps this process before
        # it notices the client went.
        _shutdown(call)
        os._exit(0)
    except protocol.ProtocolError as e:
        log("err", f"protocol error: {e}")
        # Shutting the socket down means the client gets no status.
        _shutdown(call)
        os._exit(127)
    # Whole request in hand: wait for one of the max_servers running
    # slots.  Anything but 'G' means the server dropped this call.
    # [signals] 'S' instead of 'R': the server relays the caller's
    # signals from then on; they are held until the call's own
    # dispositions are in place (callstate.reset_signals).
    relaying = request.uses & protocol.USE_SIGNALS
    if relaying:
        callstate.hold_signals()
    try:
        ctl.send(b"S" if relaying else b"R")
        go = ctl.recv(1)
    except OSError:
        go = b""
    if go != b"G":
        os._exit(0)
    ctl.close()
    try:
        become_caller(call, request, context)
    except Exception as e:
        _fatal_setup_error(e, context)


def _fatal_setup_error(e, context):
    """The call's state could not be built (PYTHONIOENCODING naming no
    codec, fd 0 a directory, ...): a standalone interpreter stops before
    running anything, with a "Fatal Python error" and status 1.  So does
    the call: nothing of the script runs, not even the initialisation's
    atexit handlers, and the script cannot catch it."""
    why = f"{type(e).__name__}: {e}"
    line = (f"Fatal Python error: prefork_interp: cannot set up the call "
            f"as a fresh interpreter would: {why}\n")
    try:
        os.write(2, line.encode("utf-8", "backslashreplace"))
    except OSError:
        pass
    try:
        context.log("err", f"call not started: {why}")
    except Exception:
        pass
    os._exit(1)


def _shutdown(call):
    try:
        call.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def become_caller(call, request, context):
    """Gives this process the caller's stdio, environment and argv, and
    the state a fresh interpreter starts with."""
    for target, fd in enumerate(request.fds):
        os.dup2(fd, target, inheritable=True)
    for fd in request.fds:
        if fd > 2:
            os.close(fd)
    call.close()
    # [extra-fds] Where they arrived until placed, below.
    extras = request.extras

    # What the interpreter's start-up reads (the locale, the streams'
    # settings) comes from the caller's environment; what the
    # initialisation set goes on top of it.
    environment.install(request.env)
    script_and_args = [os.fsdecode(a) for a in request.args[1:]]
    sys.argv = _in_place(sys.argv, script_and_args)
    sys.orig_argv = _in_place(sys.orig_argv,
                              [os.fsdecode(request.args[0])]
                              + context.interp_options + script_and_args)

    flags = sys.flags
    wants_faulthandler = callstate.faulthandler_wanted(
        os.environ, flags.ignore_environment)
    ctype, utf8 = stdio.apply_locale(os.environ, flags.ignore_environment,
                                     sys._xoptions)
    settings = stdio.settings(os.environ, flags.ignore_environment,
                              sys._xoptions, context.u_flag, ctype, utf8,
                              locale.getencoding())
    streams.renew(context.streams, settings)
    call_locale.apply(context.locale)
    environment.apply(context.environment)
    # The C library read TZ once, for the first caller (the setup):
    # local times, time.timezone and time.tzname follow this call's.
    time.tzset()

    caller_state.restore_server_limits()
    if request.state is not None:
        _apply_caller_state(request.state, context)
    # [extra-fds] A number the initialisation holds is the script's;
    # told while the log is open (the messages file has no reopening).
    held = extrafds.held_by_script(extras, context.log.fds())
    for number in held:
        context.log("notice", f"the caller's fd {number} is not passed: "
                    f"the script's initialisation holds fd {number}")
    no_room = extrafds.lacks_room(extras, held)
    if no_room:
        _refuse(no_room, context)
    # Kept until now so that a refused call is logged (the messages
    # file has no reopening); closed before the caller's signals reach
    # the script's handlers, its first code of the call.
    context.log.close()
    # With nothing of the server open any more, every fd of the call
    # at its number: the script's opens get the lowest free ones, as
    # in a standalone run.
    try:
        extrafds.place(extras, held)
    except OSError as e:
        _refuse(f"cannot place the caller's other fds: {e.strerror}", context)
    callstate.reset_signals(context.script_signals, request.state,
                            context.c_handlers)
    callstate.enable_faulthandler(wants_faulthandler)
    callstate.rearm_timers(context.timers)
    callstate.reseed()
    callstate.forget_multiprocessing_helpers()
    openfiles.arm(context.open_files)
    linux.set_comm(context.comm)


def _in_place(kept, values):
    """The interpreter's list filled with values: a reference the
    initialisation kept (`def main(argv=sys.argv)`) is the call's
    argv, as it is the run's own standalone."""
    if type(kept) is not list:
        return values
    kept[:] = values
    return kept


def _apply_caller_state(state, context):
    """[caller-state] The caller's umask, niceness and limits; one that
    cannot be applied ends the call with one line on the caller's
    stderr (and in the log) and status 127: it never runs with a wrong
    value."""
    why = caller_state.apply_limits(state, context.baseline)
    if why is not None:
        _refuse(why, context)


def _refuse(why, context):
    """Ends a call that cannot run as its caller's standalone run
    would: one line on the caller's stderr and in the log, status 127,
    nothing of the script run."""
    line = f"prefork-interp: {context.script}: call refused: {why}\n"
    try:
        os.write(2, line.encode("utf-8", "backslashreplace"))
    except OSError:
        pass
    context.log("err", f"call refused: {why}")
    os._exit(127)
