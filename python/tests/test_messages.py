"""Where a Python server's messages go without a logger: syslog when a
daemon listens on /dev/log, else the file `messages` in the run
directory (the directory of the server's socket), as
perl/t/32-messages.t for the Perl module.  Where a daemon listens here,
the scripts make the module see none, so that the file is tested on
every host."""

import json
import os
import re
import socket
import stat

import pytest

import harness
from test_extensions import _without_privilege
from prefork_interp import logfile

NO_SYSLOG = ("import prefork_interp.logfile\n"
             "prefork_interp.logfile.syslog_reachable = lambda path=None: False\n"
             if logfile.syslog_reachable() else "")

BODY = r'''
import json, os, sys
import prefork_interp
{no_syslog}prefork_interp.initialisation_complete({opts})
if sys.argv[1:] == ["fds"]:
    fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
    print(json.dumps([f for f in fds if os.path.exists(f"/proc/self/fd/{{f}}")]))
'''


def script(pfi, name, opts=""):
    return pfi.script(name, BODY.format(no_syslog=NO_SYSLOG, opts=opts))


def messages(pfi):
    try:
        with open(os.path.join(pfi.sockdir(), "messages"), "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def test_idle_exit_is_logged_in_the_run_directory(pfi):
    s = script(pfi, "idle.py", "idle_timeout=1")
    r = pfi.call([pfi.client, "-U", "-g", "idle", harness.PYTHON, s])
    assert r.status == "exit 0", r
    line = re.compile(r"^\S+Z prefork-interp\[\d+\] info: %s: idle for 1 s, "
                      r"quitting$" % re.escape(s), re.M)
    assert harness.wait_for(20, lambda: line.search(messages(pfi))), messages(pfi)
    path = os.path.join(pfi.sockdir(), "messages")
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600, "the user's only"
    assert stat.S_ISREG(os.lstat(path).st_mode)


def test_a_call_does_not_hold_the_log(pfi):
    s = script(pfi, "fds.py")
    cmd = [pfi.client, "-U", "-g", "fds", harness.PYTHON, s, "fds"]
    for _ in range(3):      # the first call, and calls of a running server
        r = pfi.call(cmd)
        assert r.status == "exit 0", r
        assert json.loads(r.out) == [0, 1, 2], \
            "the call holds only fds 0, 1 and 2, not the log or its directory"
    assert os.path.isfile(os.path.join(pfi.sockdir(), "messages"))


def test_an_executors_protocol_error_reaches_the_file(pfi):
    """Logged in the server's child before the call's code starts: the
    file must still be open there."""
    s = script(pfi, "proto.py")
    r = pfi.call([pfi.client, "-U", "-g", "proto", harness.PYTHON, s])
    assert r.status == "exit 0", r
    (sock,) = [n for n in pfi.sockets() if "proto" in n]
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(15)
    c.connect(os.path.join(pfi.sockdir(), sock))
    greeting = b"PFI\n\0\0\0\x28full-argv caller-state signals extra-fds"
    assert c.recv(len(greeting), socket.MSG_WAITALL) == greeting
    c.sendall(b"\x80garbage" * 100)
    try:    # until the server closes (a client gone first is not logged)
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()
    assert harness.wait_for(
        15, lambda: re.search(r"err: %s: protocol error: initial byte is 0x80"
                              % re.escape(s), messages(pfi))), messages(pfi)


def test_a_refused_call_is_logged(pfi):
    """A caller state the server cannot apply ends the call before its
    code starts: the line the caller gets is in the file too."""
    drop = _without_privilege(pfi)
    s = script(pfi, "nice.py")
    base = [pfi.client, "-U", "-g", "nice", harness.PYTHON, s]
    assert pfi.call(["nice", "-n", "5"] + drop + base).status == "exit 0"
    r = pfi.call(drop + base)
    assert r.status == "exit 127", r
    assert harness.wait_for(
        15, lambda: re.search(r"err: %s: call refused: cannot run at the "
                              r"caller's niceness" % re.escape(s),
                              messages(pfi))), messages(pfi)
