"""Attacks on the server side: a caller of another uid (a real second
user, made with useradd, connecting with setpriv), malformed requests,
connections dropped at every step, a flood of connections that never
finish.  The server must refuse or log, run nothing, keep serving, and
end up with exactly the processes and fds it had."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

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
XDATA = b"full-argv caller-state signals extra-fds"
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


# One call can never end the server, whatever happens to its events.
CALLS = r'''
import os, sys, time
import prefork_interp
LOG = {log!r}
def logger(priority, message):
    with open(LOG, "a") as f:
        f.write("%s %s\n" % (priority, message))
INJECT
prefork_interp.initialisation_complete(logger=logger, max_servers=4)
how = sys.argv[1] if len(sys.argv) > 1 else ""
if how == "sleep":
    time.sleep(float(sys.argv[2]))
elif how == "exec":
    with open({marker!r}, "w") as f:
        f.write(str(os.getpid()))
    os.execv(sys.argv[2], sys.argv[2:])
print("done " + how)
'''

# A handler of the server that fails for one call (as a bug would): the
# client's signal bytes are read, then an exception.
INJECT = '''
from prefork_interp import pool as _pool
def _failing(self, kid):
    _pool._recv_now(kid.call, 256)
    raise RuntimeError("injected failure")
_pool.Pool.relay_readable = _failing
'''


def test_a_failing_event_handler_does_not_end_the_server(pfi):
    """An exception in the handler of one call's event is logged (with
    where it came from) and the server goes on: a concurrent call gets
    its own status, later calls are served."""
    log, marker = pfi.path("inject-log"), pfi.path("inject-marker")
    script = pfi.script("inject.py", CALLS.replace("INJECT", INJECT).format(
        log=log, marker=marker))
    assert pfi.call([script]).out == b"done \n"
    server = harness.server_of(pfi, script)
    other = pfi.start([script, "sleep", "3"])
    victim = pfi.start([script, "sleep", "2"])
    time.sleep(1)
    victim.send_signal(signal.SIGUSR1)      # relayed: its handler fails
    out, err = other.communicate(timeout=30)
    assert (other.returncode, out) == (0, b"done sleep\n"), err
    out, err = victim.communicate(timeout=30)
    assert (victim.returncode, out) == (0, b"done sleep\n"), err
    with open(log) as f:
        logged = f.read()
    assert "RuntimeError('injected failure')" in logged, logged
    assert "in _failing" in logged, "the log says where it was raised"
    assert pfi.call([script]).out == b"done \n"
    assert harness.server_of(pfi, script) == server


SETUID_HELPER = r'''
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
/* As sudo does: the real uid becomes root, so that the caller (whose
   real uid it was) can no longer signal it. */
int main(int argc, char **argv)
{
	if (setresuid(0, 0, 0) != 0 || setresgid(0, 0, 0) != 0)
		return 3;
	alarm(60);
	sleep(argc > 1 ? atoi(argv[1]) : 20);
	return 0;
}
'''


def _uids(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return line.split()[1:]
    except OSError:
        return None


def test_call_that_cannot_be_signalled_does_not_end_the_server(pfi):
    """A call exec's a set-uid program that makes its real uid root
    (as sudo): the server can no longer signal its group (EPERM) when
    its client relays a signal or goes away.  That call is out of
    reach, but an unrelated concurrent call still gets its own status
    and the server still serves (it used to die: "server failed")."""
    need_root()
    if shutil.which("setpriv") is None or shutil.which("cc") is None:
        pytest.skip("needs setpriv (util-linux) and cc for a set-uid helper")
    base = os.environ.get("PFI_TEST_BASE") or os.path.join(
        harness.SOURCE_ROOT, "build")
    if not os.path.isdir(base) or not harness.path_is_safe(
            os.path.realpath(base)):
        pytest.skip(f"no safe directory for a second user's run directory "
                    f"(tried {base})")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    top = tempfile.mkdtemp(prefix="pfi-eperm-", dir=os.path.realpath(base))
    helper_pid = None
    procs = []
    try:
        os.chmod(top, 0o755)
        if subprocess.run(nobody + ["test", "-x", top]).returncode != 0:
            pytest.skip(f"{top} is closed to uid 65534")
        helper = os.path.join(top, "suid-helper")
        subprocess.run(["cc", "-o", helper, "-x", "c", "-"], check=True,
                       input=SETUID_HELPER.encode())
        os.chown(helper, 0, 0)
        os.chmod(helper, 0o4755)
        run, own = os.path.join(top, "run"), os.path.join(top, "own")
        for d in (run, own):
            os.mkdir(d, 0o700)
            os.chown(d, 65534, 65534)
        log, marker = os.path.join(own, "log"), os.path.join(own, "pid")
        script = os.path.join(top, "eperm.py")
        with open(script, "w") as f:
            f.write(f"#!{pfi.client} -U,{harness.PYTHON}\n" + CALLS.replace(
                "INJECT", "").format(log=log, marker=marker))
        os.chmod(script, 0o755)
        cmd = nobody + [pfi.client, "-U", "-g", "eperm", harness.PYTHON,
                        script]
        environ = dict(pfi.environ, PREFORK_INTERP_RUN_DIR=run)

        def start(*args):
            p = subprocess.Popen(cmd + list(args), env=environ, cwd=top,
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            procs.append(p)
            return p

        first = start()
        out, err = first.communicate(timeout=60)
        if first.returncode != 0 and b"nosuid" in err:
            pytest.skip(err.decode())
        assert (first.returncode, out) == (0, b"done \n"), err
        server = harness.server_of(pfi, script)
        assert server

        other = start("sleep", "4")
        victim = start("exec", helper, "30")
        assert harness.wait_for(15, lambda: os.path.exists(marker))
        helper_pid = int(open(marker).read())
        assert harness.wait_for(10, lambda: _uids(helper_pid) == ["0"] * 4), \
            "the helper made its real uid root"
        victim.send_signal(signal.SIGTERM)      # relayed: EPERM
        time.sleep(0.5)
        victim.kill()                           # client gone: EPERM
        victim.wait(timeout=10)
        time.sleep(1)                           # past the SIGKILL grace

        out, err = other.communicate(timeout=30)
        assert (other.returncode, out) == (0, b"done sleep\n"), err
        again = start()
        out, err = again.communicate(timeout=30)
        assert (again.returncode, out) == (0, b"done \n"), err
        assert harness.server_of(pfi, script) == server, "the same server"
        with open(log) as f:
            logged = f.read()
        assert logged.count(f"cannot signal call [{helper_pid}]") == 1, logged
        assert "server failed" not in logged
    finally:
        if helper_pid is not None:
            try:
                os.kill(helper_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        sockdir = os.path.join(top, "run", "prefork-interp-65534")
        if os.path.isdir(sockdir):
            for name in os.listdir(sockdir):
                if name.startswith("s"):
                    os.unlink(os.path.join(sockdir, name))
        harness.wait_for(10, lambda: not harness.processes_matching(
            top.encode()))
        for pid in harness.processes_matching(top.encode()):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(top, ignore_errors=True)
