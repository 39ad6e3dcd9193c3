"""Attacks on the server side: a caller of another uid (a real second
user, made with useradd, connecting with setpriv), malformed requests,
connections dropped at every step, a flood of connections that never
finish.  The server must refuse or log, run nothing, keep serving, and
end up with exactly the processes and fds it had."""

import os
import shutil
import socket
import struct
import subprocess

import pytest

import harness

OTHER_USER = "pfi17peer"

BODY = r'''
import os, sys
import prefork_interp
LOG = {log!r}
def logger(priority, message):
    with open(LOG, "a") as f:
        f.write("%s %s\n" % (priority, message))
prefork_interp.initialisation_complete(logger=logger, request_timeout=3,
                                       max_servers=2, max_pending=4,
                                       pending_grace=1)
with open({marker!r}, "a") as f:
    f.write("ran %s\n" % " ".join(sys.argv[1:]))
if sys.argv[1:] == ["sleep30"]:
    import time; time.sleep(30)
print("ran " + " ".join(sys.argv[1:]))
'''


def need_root():
    if os.geteuid() != 0:
        pytest.skip(f"needs root to act as a second user ({OTHER_USER}); "
                    f"running as uid {os.geteuid()}")


@pytest.fixture(scope="module")
def victim(pfi):
    v = pfi.first_call("victim.py", BODY, "sec")
    (sock,) = pfi.sockets()
    server = harness.server_of(pfi, v.script)
    assert server
    harness.wait_for(10, lambda: len(harness.children_of(server)) == 1)
    v.sock = os.path.join(pfi.sockdir(), sock)
    v.server = server
    v.kids0 = len(harness.children_of(server))
    v.fds0 = harness.fd_count(server)
    return v


def log_text(v):
    try:
        with open(v.log) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def still_serves(pfi, v):
    r = pfi.call(v.cmd + ["good"])
    assert r.status == "exit 0" and r.out == b"ran good\n", r


def other_uid():
    need_root()
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to run as a second user")
    try:
        import pwd
        return pwd.getpwnam(OTHER_USER).pw_uid
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", OTHER_USER], check=True)
    import pwd
    return pwd.getpwnam(OTHER_USER).pw_uid


PEER = r'''
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
data = b""
while True:
    chunk = s.recv(64)
    if not chunk:
        break
    data += chunk
print(len(data))
'''


@pytest.mark.parametrize("rnd", range(3))
def test_other_uid_is_refused(pfi, victim, rnd):
    uid = other_uid()
    # The run directory is 0700: the second user gets past it with
    # CAP_DAC_OVERRIDE only (as if a permission check had failed), so
    # that what is tested is the server's own SO_PEERCRED check.
    cmd = ["setpriv", f"--reuid={OTHER_USER}", f"--regid={OTHER_USER}",
           "--clear-groups", "--inh-caps=+dac_override",
           "--ambient-caps=+dac_override", harness.PYTHON, "-c", PEER,
           victim.sock]
    before = len(log_text(victim))
    p = subprocess.run(cmd, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"0\n", "a caller of another uid got no greeting"
    logged = log_text(victim)[before:]
    assert "refused a call from pid" in logged and f"uid {uid} " in logged
    assert logged.startswith("warning ")
    still_serves(pfi, victim)


def raw():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(15)
    return s


def send_fd(s):
    with open(os.devnull, "rb") as null:
        socket.send_fds(s, [b"\0"], [null.fileno()])


def req(*strings):
    body = b"".join(x + b"\0" for x in strings)
    return struct.pack(">I", len(body)) + body


# What our server offers a client that announced xdata (ours does).
XDATA = b"full-argv caller-state signals"
GREETING = b"PFI\n" + struct.pack(">I", len(XDATA)) + XDATA


def abuse(v, steps, hold=0.0, read_greeting=True):
    s = raw()
    s.connect(v.sock)
    if read_greeting:
        assert s.recv(len(GREETING), socket.MSG_WAITALL) == GREETING
    for step in steps:
        try:
            if step == "fd":
                send_fd(s)
            else:
                s.sendall(step)
        except OSError:
            break
    if hold:
        import time
        time.sleep(hold)
    return s


CASES = [
    ("garbage after the greeting", [b"\x80garbage" * 100], "initial byte is 0x80"),
    ("bytes where fds belong", [b"\0", b"\0\0\0\0", b"junk"],
     "fd 0 carried no file descriptor"),
    ("only one fd", [b"\0", "fd", b"\0\0\0\x05", b"junk"],
     "fd 1 carried no file descriptor"),
    ("request over the length cap", [b"\0", "fd", "fd", "fd", struct.pack(">I", 0x7fffffff)],
     "request length 2147483647 exceeds 6356992"),
    ("more than 262144 strings", [b"\0", "fd", "fd", "fd",
                                  struct.pack(">I", 1 << 20) + b"\0" * (1 << 20)],
     "request has more than 262144 strings"),
    ("no final NUL", [b"\0", "fd", "fd", "fd", struct.pack(">I", 3), b"A=1"],
     "does not end with NUL"),
    ("no end of environment", [b"\0", "fd", "fd", "fd", req(b"A=1", b"B=2")],
     "no end of environment"),
    ("entry without =", [b"\0", "fd", "fd", "fd", req(b"A", b"", b"py", b"s")],
     'without "="'),
    ("no script", [b"\0", "fd", "fd", "fd", req(b"A=1", b"", b"py")],
     "1 argument strings"),
    ("length larger than the data, held open",
     [b"\0", "fd", "fd", "fd", struct.pack(">I", 1000), b"A=1\0"],
     "request not complete after 3 s"),
    ("nothing at all, held open", [], "request not complete after 3 s"),
]


def recv_or_reset(s):
    """What the server sent before closing: a server that refused the
    call closes with bytes of ours unread, which the kernel reports as
    a reset (no status either way)."""
    try:
        return s.recv(4)
    except ConnectionResetError:
        return b""


@pytest.mark.parametrize("label,steps,message", CASES, ids=[c[0] for c in CASES])
def test_malformed_request(pfi, victim, label, steps, message):
    before = len(log_text(victim))
    s = abuse(victim, steps)
    assert recv_or_reset(s) == b"", "closed with no status"
    s.close()
    assert harness.wait_for(10, lambda: message in log_text(victim)[before:]), \
        log_text(victim)[before:]
    assert "err protocol error" in log_text(victim)[before:] or \
        log_text(victim)[before:].startswith("err ")
    still_serves(pfi, victim)


def test_dropped_at_every_step(pfi, victim):
    good = req(b"A=1", b"", b"python3", victim.script.encode(), b"evil")
    full = [b"\0", "fd", "fd", "fd", good[:2], good[2:4], good[4:14], good[14:]]
    abuse(victim, [], read_greeting=False).close()
    for n in range(len(full) - 1):
        abuse(victim, full[:n + 1]).close()
    still_serves(pfi, victim)


def test_client_vanishes_mid_call(pfi, victim):
    good = req(b"A=1", b"", b"python3", victim.script.encode(), b"sleep30")
    s = abuse(victim, [b"\0", "fd", "fd", "fd", good])
    assert harness.wait_for(10, lambda: "ran sleep30" in open(victim.marker).read())
    s.close()
    still_serves(pfi, victim)


def test_flood_of_silent_connections(pfi, victim):
    """The server's processes stay within max_servers + max_pending +
    prefork_spares (2 + 4 + 1) while a flood of connections never
    completes, and a good call is still served."""
    bound = 2 + 4 + 1
    socks, seen = [], []
    for _ in range(12):
        socks.append(abuse(victim, [], read_greeting=False))
        seen.append(len(harness.children_of(victim.server)))
    still_serves(pfi, victim)
    seen.append(len(harness.children_of(victim.server)))
    # Dropped children are SIGKILLed at once; allow them to be reaped.
    assert harness.wait_for(10, lambda: len(harness.children_of(victim.server))
                            <= bound)
    assert max(seen) <= bound + 2, seen
    for s in socks:
        s.close()


def test_nothing_leaked(pfi, victim):
    with open(victim.marker) as f:
        assert "evil" not in f.read(), "no incomplete request ran"
    assert harness.wait_for(15, lambda: len(harness.children_of(victim.server))
                            == victim.kids0), harness.children_of(victim.server)
    assert harness.wait_for(15, lambda: harness.fd_count(victim.server)
                            == victim.fds0)
    assert harness.server_of(pfi, victim.script) == victim.server
