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
import socket
import struct

from .linux import peer_credentials

SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)    # Linux
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


def differ(sock):
    """None if the caller at the other end of sock has this process's
    effective uid, gid and groups; else one line saying how it differs
    (it starts with the caller's pid, uid and gid where known)."""
    global _own
    try:
        pid, uid, gid = peer_credentials(sock)
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
