"""In a child forked from the server: wait for a call (as a spare), read
its request, wait for a running slot, then become the caller's
standalone run (stdio, environment, argv, signals, random seed).

Protocol errors are logged and end the child with no status sent; a
client that went away ends it quietly.
"""

import array
import locale
import os
import socket
import sys
import time

from . import callstate, linux, prefault, protocol, stdio


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

    def fd(self, which):
        """One byte carrying exactly one fd (SCM_RIGHTS)."""
        self._arm()
        fds = array.array("i")
        try:
            msg, ancdata, flags, _addr = self.call.recvmsg(
                1, socket.CMSG_SPACE(fds.itemsize), socket.MSG_CMSG_CLOEXEC)
        except ConnectionResetError:
            raise ClientGone() from None
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        if not msg and not fds:
            raise ClientGone()
        if len(fds) != 1 or flags & socket.MSG_CTRUNC:
            for extra in fds:
                os.close(extra)
            if not fds:
                raise protocol.ProtocolError(
                    f"message for fd {which} carried no file descriptor")
            raise protocol.ProtocolError(
                f"message for fd {which} carried more than one")
        return fds[0]


class Request:
    def __init__(self, uses, fds, env, args):
        self.uses = uses    # step-2 bits: extensions the client uses
        self.fds = fds      # the caller's fds 0, 1, 2 (ours, CLOEXEC)
        self.env = env
        self.args = args


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
        env, args = protocol.decode_request(reader.exact(length, "request"))
    except socket.timeout:
        raise protocol.ProtocolError(
            f"request not complete after {timeout} s") from None
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    call.settimeout(None)
    return Request(uses, fds, env, args)


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
        os._exit(0)
    except protocol.ProtocolError as e:
        log("err", f"protocol error: {e}")
        # Shutting the socket down means the client gets no status.
        _shutdown(call)
        os._exit(127)
    # Whole request in hand: wait for one of the max_servers running
    # slots.  Anything but 'G' means the server dropped this call.
    try:
        ctl.send(b"R")
        go = ctl.recv(1)
    except OSError:
        go = b""
    if go != b"G":
        os._exit(0)
    ctl.close()
    become_caller(call, request, context)


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
    context.log.close()

    os.environ.clear()
    for name, value in request.env:
        try:
            os.environ[os.fsdecode(name)] = os.fsdecode(value)
        except ValueError:
            pass    # an empty name: putenv cannot set it
    script_and_args = [os.fsdecode(a) for a in request.args[1:]]
    sys.argv = script_and_args
    sys.orig_argv = ([os.fsdecode(request.args[0])]
                     + context.interp_options + script_and_args)

    flags = sys.flags
    ctype, utf8 = stdio.apply_locale(os.environ, flags.ignore_environment,
                                     sys._xoptions)
    settings = stdio.settings(os.environ, flags.ignore_environment,
                              sys._xoptions, context.u_flag, ctype, utf8,
                              locale.getencoding())
    stdio.make_streams(settings)

    callstate.reset_signals(context.script_signals)
    callstate.reseed()
    callstate.forget_multiprocessing_helpers()
    linux.set_comm(context.comm)
