"""Killing the client ends the call's whole process group: SIGINT first
(KeyboardInterrupt in Python), SIGKILL half a second later for what is
left; also when the server was started with SIGINT ignored (a
background job of a non-interactive shell) and when the per-call code
ignores SIGINT."""

import os
import signal
import subprocess

import pytest

import harness

BODY = r'''
import os, signal, subprocess, sys, time
import prefork_interp
prefork_interp.initialisation_complete()
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
kid = subprocess.Popen(["sleep", "300"])
try:
    print("pgrp=%d pid=%d kid=%d" % (os.getpgrp(), os.getpid(), kid.pid), flush=True)
    time.sleep(300)
except KeyboardInterrupt:
    with open(sys.argv[2], "w") as f:
        f.write("interrupted\n")
    raise
'''


@pytest.fixture(scope="module")
def script(pfi):
    return pfi.script("sleeper.py", BODY)


def one_round(pfi, script, sig, mode, ignore_int_in_caller=False):
    marker = pfi.path(f"marker-{os.urandom(4).hex()}")
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) \
        if ignore_int_in_caller else None
    client = subprocess.Popen([script, mode, marker], env=pfi.environ,
                              cwd=pfi.dir, stdout=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, preexec_fn=pre)
    line = client.stdout.readline().decode()
    client.stdout.close()
    fields = dict(f.split("=") for f in line.split())
    pgid = int(fields["pgrp"])
    assert pgid == int(fields["pid"]), "the call leads its own process group"
    assert pgid not in (client.pid, os.getpgrp())
    client.send_signal(sig)
    client.wait()
    assert harness.wait_for(10, lambda: not harness.group_alive(pgid)), \
        f"group {pgid} still alive"
    return os.path.exists(marker)


def test_first_server_started_with_sigint_ignored(pfi, script):
    one_round(pfi, script, signal.SIGTERM, "catch", ignore_int_in_caller=True)


def test_client_killed(pfi, script):
    """Every round: the group is gone.  SIGINT comes first: the call's
    KeyboardInterrupt handler leaves a marker; it needs the CPU within
    the half second before SIGKILL, which a loaded machine may not give
    it in every round, so it must show in at least one."""
    interrupted = [one_round(pfi, script, signal.SIGKILL if rnd % 2 else
                             signal.SIGTERM, "catch") for rnd in range(6)]
    assert any(interrupted), "the call got SIGINT (KeyboardInterrupt) first"


@pytest.mark.parametrize("rnd", range(2))
def test_sigint_ignored_then_sigkill(pfi, script, rnd):
    assert not one_round(pfi, script, signal.SIGKILL, "ignore")


def test_server_survives(pfi, script):
    callee = harness.callee(pfi)
    assert pfi.call([callee, "exit", "4"]).status == "exit 4"
