"""The few Linux facilities that Python's standard library does not wrap:
inotify, the process name (comm), peer credentials, the C library's
environ and stdio buffers.

Everything else (pidfd_open, recv_fds, poll with POLLRDHUP) is in os,
socket and select already.  Each wrapper returns None or raises OSError
with the errno, so callers decide what a failure means.
"""

import errno
import fcntl
import os
import socket
import struct

POLLRDHUP = 0x2000    # Linux value; select exports it only on some builds

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_libc = None


def _c():
    """libc through ctypes, imported only where needed (the server and
    spares): a standalone run of the script does not pay for it."""
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)   # the loaded libc
    return _libc


def _check(result):
    if result < 0:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def flush_c_stdio():
    """Flushes every stream of the C library's stdio (fflush(NULL)):
    what an extension printf'd into a buffer must not be inherited by
    every fork."""
    _c().fflush(None)


def inotify_init():
    """A non-blocking, close-on-exec inotify fd."""
    return _check(_c().inotify_init1(IN_NONBLOCK | IN_CLOEXEC))


def inotify_add_watch(fd, path, mask):
    """Adds a watch; returns its watch descriptor."""
    import ctypes
    return _check(_c().inotify_add_watch(fd, os.fsencode(path),
                                         ctypes.c_uint32(mask)))


def get_comm():
    """This process's name as ps shows it (at most 15 bytes)."""
    try:
        with open("/proc/self/comm", "rb") as f:
            return f.read().rstrip(b"\n")
    except OSError:
        return None


def set_comm(name):
    """Sets the name ps shows; a failure only costs that display."""
    if name is None:
        return
    try:
        with open("/proc/self/comm", "wb") as f:
            f.write(name[:15])
    except OSError:
        pass


def peer_credentials(sock):
    """(pid, uid, gid) of the peer of a connected Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                          struct.calcsize("iII"))
    return struct.unpack("iII", raw)


def pidfd_open(pid):
    """A pidfd for pid, or None where the kernel has none (before 5.3)."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError as e:
        if e.errno in (errno.ENOSYS, errno.EPERM):
            return None
        raise


def access_mode(fd):
    """O_ACCMODE bits of an open fd; raises OSError if fd is not open."""
    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE


def _arg_area():
    """(start, end) addresses of this process's argument strings, the
    memory /proc/self/cmdline shows (fields 48 and 49 of its stat)."""
    with open("/proc/self/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2:].split()
    return int(fields[45]), int(fields[46])     # field n is fields[n - 3]


def set_cmdline(strings):
    """Rewrites this process's command line as ps and /proc/PID/cmdline
    show it (as perl's $0 does): strings, NUL-separated, cut to the
    original area and padded with NULs.  Changes nothing, and returns
    False, unless the area read through ctypes is exactly what
    /proc/self/cmdline says: only our own argument strings are written.
    Python keeps its own copies of them (sys.argv, sys.orig_argv)."""
    import ctypes
    try:
        start, end = _arg_area()
        with open("/proc/self/cmdline", "rb") as f:
            shown = f.read()
    except (OSError, ValueError, IndexError):
        return False
    size = end - start
    if size <= 0 or ctypes.string_at(start, size) != shown[:size] \
            or len(shown) != size:
        return False
    new = b"".join(s + b"\0" for s in strings)[:size - 1]
    ctypes.memmove(start, new.ljust(size, b"\0"), size)
    return True


# The array set_environ() installed, and its strings: libc keeps
# pointers into them (setenv copies the array, never frees it).
_environ_kept = None


def set_environ(entries):
    """Makes the C library's environ exactly entries (NAME=value byte
    strings, in order, duplicates and all), what getenv() and a child
    started with the inherited environment see.  setenv() cannot: it
    replaces the first entry of a name and refuses an empty name."""
    global _environ_kept
    import ctypes
    strings = [ctypes.create_string_buffer(e) for e in entries]
    array = (ctypes.c_char_p * (len(strings) + 1))(
        *[ctypes.cast(s, ctypes.c_char_p) for s in strings], None)
    _environ_kept = (strings, array)
    ctypes.c_void_p.in_dll(_c(), "environ").value = ctypes.addressof(array)
