"""The caller-state and signals extensions against a real Python server:
what a client sees on the wire (the greeting's tokens, stop and continue
words, the final status, a bad relayed byte, a bit that was not
offered), and a caller state the server cannot apply (refused with one
line and status 127, nothing run).  The shared suites
(python-security-callerstate, python-signals) cover the same through
the real client."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

import harness

BODY = r'''
import os, signal, sys, time
import prefork_interp
LOG = {log!r}
def logger(priority, message):
    with open(LOG, "a") as f:
        f.write("%s %s\n" % (priority, message))
prefork_interp.initialisation_complete(logger=logger, request_timeout=5)
with open({marker!r}, "a") as f:
    f.write("ran %s pgrp %d\n" % (" ".join(sys.argv[1:]), os.getpgrp()))
if sys.argv[1:] == ["sleep"]:
    for _ in range(300):
        time.sleep(0.1)
print("ran " + " ".join(sys.argv[1:]))
'''

XDATA = b"full-argv caller-state signals extra-fds"


@pytest.fixture(scope="module")
def server(pfi):
    s = pfi.first_call("ext.py", BODY, "ext")
    s.sock = os.path.join(pfi.sockdir(), "sext")
    return s


text = harness.text


def connect(server):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(15)
    s.connect(server.sock)
    greeting = s.recv(8 + len(XDATA), socket.MSG_WAITALL)
    assert greeting == b"PFI\n" + struct.pack(">I", len(XDATA)) + XDATA
    return s


def start_call(server, bits, *args):
    """A call of the sleeping script through the raw protocol, with the
    step-2 bits given; returns the socket once the call runs."""
    s = connect(server)
    s.sendall(bytes([bits]))
    with open(os.devnull, "rb") as null:
        for _ in range(3):
            socket.send_fds(s, [b"\0"], [null.fileno()])
    body = b"".join(x + b"\0" for x in
                    [b"A=1", b"", b"python3", server.script.encode(), *args])
    s.sendall(struct.pack(">I", len(body)) + body)
    return s


def running_group(server, before):
    """The process group of the call that has just started (from the
    marker the script writes)."""
    def found():
        lines = text(server.marker)[before:].splitlines()
        return [int(x.split()[-1]) for x in lines if x.startswith("ran sleep")]
    assert harness.wait_for(10, found), text(server.marker)
    return found()[0]


def word(s):
    data = s.recv(4, socket.MSG_WAITALL)
    assert len(data) == 4, f"got {data!r}"
    return struct.unpack(">I", data)[0]


def stopped_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_stop_continue_and_final_status_words(pfi, server):
    before = len(text(server.marker))
    s = start_call(server, 0x02, b"sleep")
    pgrp = running_group(server, before)
    s.sendall(bytes([signal.SIGTSTP]))
    assert word(s) == signal.SIGTSTP << 8 | 0x7F, "stopped with SIGTSTP"
    assert harness.wait_for(5, lambda: stopped_state(pgrp) == "T")
    s.sendall(bytes([signal.SIGCONT]))
    assert word(s) == 0xFFFF, "continued"
    s.sendall(bytes([signal.SIGSTOP]))
    assert word(s) == signal.SIGSTOP << 8 | 0x7F, "stopped with SIGSTOP"
    s.sendall(bytes([signal.SIGCONT, signal.SIGTERM]))
    # waitpid reports only the latest change: a continue that the death
    # follows at once may not be reported on its own.
    final = word(s)
    if final == 0xFFFF:
        final = word(s)
    assert final == signal.SIGTERM, "the final status: died of TERM"
    assert s.recv(1) == b"", "the server closes after the final status"
    s.close()
    assert harness.wait_for(5, lambda: not harness.group_alive(pgrp))


def test_relayed_signal_reaches_a_handler_set_in_the_call(pfi):
    # The handler writes with os.write: print() in a handler may find
    # sys.stdout's buffer still locked by the interrupted print (Python's
    # "reentrant call" error, standalone too).
    body = ("import os, signal, sys, time\nimport prefork_interp\n"
            "prefork_interp.initialisation_complete()\n"
            "def usr1(s, f):\n    os.write(1, b'usr1\\n')\n    sys.exit(4)\n"
            "signal.signal(signal.SIGUSR1, usr1)\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)\nsys.exit(9)\n")
    script = pfi.script("usr1.py", body)
    for _ in range(3):      # the first call starts the server
        p = pfi.start([script])
        assert p.stdout.readline() == b"ready\n"
        p.send_signal(signal.SIGUSR1)
        out, err = p.communicate(timeout=30)
        assert (out, p.returncode) == (b"usr1\n", 4), err


STOPS_ITSELF = r"""
import os, signal, sys
import prefork_interp
prefork_interp.initialisation_complete()
if sys.argv[1:] == ["stop"]:
    os.kill(os.getpid(), signal.SIGSTOP)
print(sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))
"""


def test_stop_reported_when_the_first_caller_blocked_sigchld(pfi):
    """The server does not keep its first caller's signal mask: with
    SIGCHLD blocked there, it would never hear of a call's stop, and
    the client of a call that stops would wait for ever instead of
    stopping.  The calls still get their own callers' masks."""
    script = pfi.script("stops.py", STOPS_ITSELF)

    def block_chld():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})

    first = pfi.call([script], preexec_fn=block_chld)
    assert first.status == "exit 0", first
    assert first.out == b"[%d]\n" % signal.SIGCHLD, "the caller's own mask"
    p = pfi.start([script, "stop"])
    try:
        deadline = time.monotonic() + 15
        while True:
            pid, status = os.waitpid(p.pid, os.WNOHANG | os.WUNTRACED)
            if pid or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert pid == p.pid and os.WIFSTOPPED(status), \
            "the client stops when its call stops"
        p.send_signal(signal.SIGCONT)
        out, err = p.communicate(timeout=15)
    finally:
        p.kill()
        p.wait()
    assert (p.returncode, out) == (0, b"[]\n"), err
    assert pfi.call([script]).out == b"[]\n"


def test_bad_relayed_byte_ends_the_call(pfi, server):
    before, log_before = len(text(server.marker)), len(text(server.log))
    s = start_call(server, 0x02, b"sleep")
    pgrp = running_group(server, before)
    s.sendall(b"\x00")
    assert s.recv(4) == b"", "no status for a call ended this way"
    s.close()
    assert harness.wait_for(5, lambda: "client relayed byte 0, which is not a "
                            "signal number; ending the call"
                            in text(server.log)[log_before:]), text(server.log)
    assert harness.wait_for(5, lambda: not harness.group_alive(pgrp))


def test_client_gone_while_relaying(pfi, server):
    before = len(text(server.marker))
    s = start_call(server, 0x02, b"sleep")
    pgrp = running_group(server, before)
    s.close()
    assert harness.wait_for(5, lambda: not harness.group_alive(pgrp))


def test_caller_state_bit_without_block_content(pfi, server):
    """0x01 promises a block after the request: a bad one runs nothing."""
    log_before = len(text(server.log))
    s = start_call(server, 0x01, b"evil")
    s.sendall(struct.pack(">I", 9) + b"umask=077")
    assert s.recv(4) == b""
    s.close()
    assert harness.wait_for(5, lambda: "caller-state block does not end with "
                            "NUL" in text(server.log)[log_before:])
    assert "ran evil" not in text(server.marker)


# ---------------------------------------------------------------- refusals

def _without_privilege(pfi):
    """The command prefix that takes away what lets root raise its hard
    limits and priority, or skips saying why it cannot."""
    if shutil.which("setpriv") is None or shutil.which("prlimit") is None:
        pytest.skip("needs setpriv and prlimit (util-linux)")
    if os.geteuid() != 0:
        return []       # a normal user cannot raise them anyway
    return ["setpriv", "--bounding-set=-sys_resource,-sys_nice",
            "--inh-caps=-all"]


def test_a_limit_the_server_cannot_take_is_refused(pfi):
    """Under one -g name a caller with a higher hard limit meets a
    server that cannot raise its own: one line, status 127, nothing run."""
    drop = _without_privilege(pfi)
    marker = pfi.path("limit-marker")
    body = ("import sys\nimport prefork_interp\n"
            "prefork_interp.initialisation_complete()\n"
            f"open({marker!r}, 'a').write('ran\\n')\n")
    script = pfi.script("limit.py", body)
    base = [pfi.client, "-U", "-g", "limit", harness.PYTHON, script]
    first = pfi.call(["prlimit", "--nofile=64:64"] + drop + base)
    assert first.status == "exit 0", first
    r = pfi.call(["prlimit", "--nofile=100:100"] + drop + base)
    assert r.status == "exit 127", r
    assert r.err == (f"prefork-interp: {script}: call refused: cannot apply "
                     "the caller's limit rlimit.nofile=100:100 (this server's "
                     "hard limit is 64); start a server of its own from this "
                     "caller (-f)\n").encode()
    assert r.out == b""
    assert text(marker) == "ran\n", "only the first call ran"


def test_a_priority_the_server_cannot_take_is_refused(pfi):
    drop = _without_privilege(pfi)
    body = ("import prefork_interp\nprefork_interp.initialisation_complete()\n"
            "print('ran')\n")
    script = pfi.script("nice.py", body)
    base = [pfi.client, "-U", "-g", "nice", harness.PYTHON, script]
    first = pfi.call(["nice", "-n", "5"] + drop + base)
    assert first.status == "exit 0", first
    r = pfi.call(drop + base)
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert r.status == "exit 127", r
    assert r.err.decode().startswith(
        f"prefork-interp: {script}: call refused: cannot run at the caller's "
        f"niceness {mine}: this server runs at {mine + 5} and may not raise "
        "its priority (")
    assert r.err.count(b"\n") == 1
    assert r.out == b""


def test_offered_only_to_xdata_clients():
    from prefork_interp import protocol
    assert protocol.features_for(True) == ("full-argv", "caller-state",
                                           "signals", "extra-fds")
    assert protocol.features_for(False) == ()
    assert protocol.offered_bits(protocol.features_for(False)) == 0
    with pytest.raises(protocol.ProtocolError, match="initial byte is 0x02"):
        protocol.decode_use_byte(b"\x02", 0)
