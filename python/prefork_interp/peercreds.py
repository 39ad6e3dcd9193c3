"""At accept: what the kernel reports of a caller without races
(SO_PEERCRED, SO_PEERGROUPS: its credentials when it connected) must be
this server's own, or the call would run with another uid, gid or other
groups than its caller's (docs/protocol.md, "Credentials: what selects
the server").  Our client has compared already and is never refused
here; this guards against other clients, and against a script that
changed its own credentials in its initialisation.  The same rules as
the Perl module's Proc::Prefork::Interp::PeerCreds.
"""

import errno
import os
import re
import signal
import socket
import struct

from .linux import peer_credentials, pidfd_open

SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)    # Linux
SO_PEERPIDFD = getattr(socket, "SO_PEERPIDFD", 77)      # Linux 6.5
# socket.getsockopt's largest buffer; more groups than fit are read
# through libc (NGROUPS_MAX is 65536).
_PY_BUFLEN = 1024
_MAX_GROUPS = 65536


def _unpack_groups(raw):
    return sorted(struct.unpack(f"{len(raw) // 4}I", raw[:len(raw) // 4 * 4]))


def peer_groups(sock):
    """The peer's supplementary groups, sorted; raises OSError."""
    try:
        return _unpack_groups(sock.getsockopt(socket.SOL_SOCKET,
                                              SO_PEERGROUPS, _PY_BUFLEN))
    except OSError as e:
        if e.errno != errno.ERANGE:
            raise
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(4 * _MAX_GROUPS)
    size = ctypes.c_uint32(len(buf))
    if libc.getsockopt(sock.fileno(), socket.SOL_SOCKET, SO_PEERGROUPS,
                       buf, ctypes.byref(size)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return _unpack_groups(buf.raw[:size.value])


def group_list(gid, groups):
    """The groups that add access to gid, as text: sorted, unique, and
    without gid itself (listing it grants nothing more; as src/wire.c)."""
    return ",".join(str(g) for g in sorted(set(groups) - {gid}))


_own = None     # (egid, group list): the server's do not change


def differ(sock, creds=None):
    """None if the caller at the other end of sock has this process's
    effective uid, gid and groups; else one line saying how it differs
    (it starts with the caller's pid, uid and gid where known).  creds:
    its (pid, uid, gid), if the server read them already."""
    global _own
    try:
        pid, uid, gid = creds or peer_credentials(sock)
    except OSError as e:
        return f"cannot read the credentials of the caller: {e.strerror}"
    who = f"pid {pid} uid {uid} gid {gid}"
    if uid != os.geteuid():
        return f"{who}: another uid (this server runs as uid {os.geteuid()})"
    if _own is None:
        egid = os.getegid()
        _own = (egid, group_list(egid, os.getgroups()))
    egid, mine = _own
    if gid != egid:
        return f"{who}: another gid (this server runs as gid {egid})"
    try:
        theirs = group_list(gid, peer_groups(sock))
    except OSError as e:
        return f"{who}: cannot read its groups: {e.strerror}"
    if theirs != mine:
        return (f"{who}: groups {theirs or 'none'} (this server has "
                f"{mine or 'none'})")
    return None


def lacks(sock, creds=None):
    """None if the caller at the other end of sock holds every privilege
    of this server's (see less_privileged); else one line saying what it
    lacks, starting with its pid, uid and gid (creds: as for differ)."""
    try:
        pid, uid, gid = creds or peer_credentials(sock)
    except OSError as e:
        return f"cannot read the credentials of the caller: {e.strerror}"
    less = less_privileged(sock, pid)
    return None if less is None else f"pid {pid} uid {uid} gid {gid}: {less}"


# The privileges a call would take over from this server, as
# /proc/PID/status shows them: the capability sets (not the effective
# one: a process raises it up to its permitted set at will), no-new-privs
# and the seccomp mode.
_CAP_SETS = (("CapBnd", "bounding"), ("CapPrm", "permitted"),
             ("CapAmb", "ambient"), ("CapInh", "inheritable"))
_FIELD = re.compile(r"^(Cap(?:Bnd|Prm|Amb|Inh)|NoNewPrivs|Seccomp):[ \t]*(\S+)$",
                    re.M)


def _privileges(status):
    fields = dict(_FIELD.findall(status))
    keys = [k for k, _ in _CAP_SETS] + ["NoNewPrivs", "Seccomp"]
    if any(k not in fields for k in keys) or any(
            not re.fullmatch(r"[0-9a-f]{16}", fields[k]) for k, _ in _CAP_SETS):
        return None
    return fields


def _read_status(pid):
    """/proc/PID/status as text; os.open and os.read, not open(), which
    would stat the file on every call (test_lifecycle's no-stat check)."""
    fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", "replace")


def _alive(pidfd):
    """Whether pidfd's process has not exited; None if unknown."""
    sender = getattr(signal, "pidfd_send_signal", None)
    if sender is None:
        return None
    try:
        sender(pidfd, 0)
    except ProcessLookupError:
        return False
    except OSError as e:
        if e.errno == errno.ENOSYS:
            return None
        raise
    return True


def _peer_status(sock, pid):
    """The peer's /proc/PID/status text; raises OSError, or returns None
    if the process that connected exited before it was read (then the
    pid may not have been its own).  SO_PEERPIDFD's pidfd names that
    very process however late it is taken, so it is taken after the
    read: one fd at a time, all a server short of fds may have.  Before
    Linux 6.5 a pidfd is opened for the pid and the status read again;
    without pidfds at all (before Linux 5.3), the pid alone is read."""
    status = _read_status(pid)
    try:
        pidfd = sock.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD)
    except OSError as e:
        if e.errno != errno.ENOPROTOOPT:
            raise
        pidfd = pidfd_open(pid)
        status = _read_status(pid)
    if pidfd is None:
        return status
    try:
        alive = _alive(pidfd)
    finally:
        os.close(pidfd)
    return None if alive is False else status


_own_privileges = None


def less_privileged(sock, pid):
    """None if the peer (pid) holds every privilege of this server's,
    else one line saying what it lacks.  Its uid, gid and groups being
    ours, it would otherwise reach, through the call, capabilities it
    has not (a root service with a reduced bounding set, a unit's
    ambient capabilities), or escape its no-new-privs or seccomp filter:
    the server's name is no secret (the run directory lists it, -g
    takes it).  Its status counts only if the caller is still alive once
    it is read (_peer_status)."""
    global _own_privileges
    if _own_privileges is None:
        try:
            _own_privileges = _privileges(_read_status("self"))
        except OSError:
            pass
        if _own_privileges is None:
            return "cannot read this server's own privileges"
    own = _own_privileges
    try:
        status = _peer_status(sock, pid)
    except OSError as e:
        return f"cannot read its privileges: {e.strerror}"
    if status is None:
        return "exited before its privileges could be read"
    theirs = _privileges(status)
    if theirs is None:
        return "cannot read its privileges: unexpected /proc status"
    if theirs["Seccomp"] != "0":
        return (f"runs under a seccomp filter (mode {theirs['Seccomp']}), "
                "which cannot be compared with this server's")
    if theirs["NoNewPrivs"] != "0" and own["NoNewPrivs"] == "0":
        return "runs with no-new-privs (this server does not)"
    for key, name in _CAP_SETS:
        if int(own[key], 16) & ~int(theirs[key], 16):
            return (f"lacks capabilities this server has ({name} "
                    f"{theirs[key]}, this server has {own[key]})")
    return None
