"""Where the server's messages go when syslog cannot take them.

Many hosts (containers, minimal installs, CI) have no syslog daemon:
nothing listens on /dev/log and syslog() loses every message silently.
Then the server appends them to a file of the user's own, `messages` in
the run directory (the directory of its socket, which the client has
checked: the user's, mode 0700), one line each:

    2026-12-01T22:40:29Z prefork-interp[PID] PRIORITY: SCRIPT: MESSAGE

Every server of the user in that run directory, Perl's or Python's,
appends to the same file (O_APPEND writes of one line do not
interleave).  Past 1 MiB it is renamed to `messages.old` (replacing the
previous one) and begun anew, so it stays bounded.  The same file,
format and rules as the Perl module's Proc::Prefork::Interp::LogFile.
"""

import os
import socket
import stat
import time

NAME = "messages"
MAX_BYTES = 1 << 20
SYSLOG_PATH = "/dev/log"


def syslog_reachable(path=SYSLOG_PATH):
    """Whether a syslog daemon listens on the socket (the datagram socket
    that syslog(3) uses, or a stream one)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        try:
            with socket.socket(socket.AF_UNIX, kind) as s:
                s.connect(path)
                return True
        except OSError:
            pass
    return False


def dir_of_socket(sock):
    """The directory of a bound Unix socket (the server's listening one),
    as (path, fd to keep open while the path is used), or None.

    Our client binds through its own fd of the run directory,
    `/proc/self/fd/N/NAME` (race-free: the directory it checked cannot be
    swapped underneath), a name that means nothing in the server.  But
    the setup, where this is called, runs while that client waits for
    it: its parent's fd N is the run directory.  That directory itself
    (not its path, which may have been swapped since) is opened, and
    trusted only if our socket (ours by owner) is in it; it is then used
    as `/proc/self/fd/M` through the held fd, as the client does."""
    try:
        name = sock.getsockname()
    except OSError:
        return None
    if isinstance(name, bytes):      # an abstract or undecodable name
        return None
    head, sep, base = name.rpartition("/")
    if not sep or not base:
        return None
    parent = head or "/"
    fd_dir = parent.removeprefix("/proc/self/fd/")
    if fd_dir == parent or not fd_dir.isdigit():
        return parent, None
    try:
        held = os.open(f"/proc/{os.getppid()}/fd/{fd_dir}",
                       os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    parent = f"/proc/self/fd/{held}"
    try:
        st = os.lstat(f"{parent}/{base}")
        if stat.S_ISSOCK(st.st_mode) and st.st_uid == os.geteuid():
            return parent, held
    except OSError:
        pass
    os.close(held)
    return None


class LogFile:
    """The file `messages` in a directory, open for appending."""

    def __init__(self, directory, held, max_bytes):
        self.path = os.path.join(directory, NAME)
        self._held = held
        self._max_bytes = max_bytes
        self._fd = None

    @classmethod
    def open(cls, directory, held=None, max_bytes=MAX_BYTES):
        """The log in directory (created, mode 0600), or None if it
        cannot be opened; a symlink at the name is refused.  held: an fd
        that must stay open while directory is used (dir_of_socket);
        this LogFile owns it (closed here on failure)."""
        log = cls(directory, held, max_bytes)
        if not log._open():
            log.close()
            return None
        return log

    def _open(self):
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND
                               | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                               0o600)
        except OSError:
            self._fd = None
        return self._fd is not None

    def write(self, priority, message):
        """Appends one line; never raises."""
        if self._fd is None:
            return
        try:
            if os.fstat(self._fd).st_size >= self._max_bytes:
                self._rotate()
                if self._fd is None:
                    return
            if message.endswith("\n"):
                message = message[:-1]
            message = message.replace("\n", "\\n")
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            line = f"{stamp} prefork-interp[{os.getpid()}] {priority}: {message}\n"
            try:    # the bytes of a path as they are
                data = line.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                data = line.encode("utf-8", "backslashreplace")
            os.write(self._fd, data)
        except Exception:
            pass

    def _rotate(self):
        # Another server may have rotated it already: then ours is the
        # .old one, and the reopen below finds the fresh file.
        try:
            if os.lstat(self.path).st_size >= self._max_bytes:
                os.rename(self.path, self.path + ".old")
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None
        self._open()

    def fds(self):
        """The fds it holds: the file's and the directory's."""
        return tuple(fd for fd in (self._fd, self._held) if fd is not None)

    def close(self):
        """In an executor: the server's log is not the call's."""
        for fd in (self._fd, self._held):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._held = None
