"""A Python script that never reaches initialisation_complete(), or
fails before it: one line from the client naming the problem, the
script's own message first, the standalone status, nothing left
behind."""

import os

import harness


def nothing_left(pfi):
    assert harness.wait_for(10, lambda: not pfi.processes()), pfi.processes()
    assert pfi.sockets() == []


def client_lines(r):
    return [l for l in r.err.decode().splitlines() if l.startswith("prefork-interp: ")]


def test_never_calls_initialisation_complete(pfi):
    s = pfi.script("never.py", "import sys\nprint('never calls it', file=sys.stderr)\n")
    r = pfi.call([s])
    assert r.status != "exit 0" and r.out == b""
    (line,) = client_lines(r)
    assert "without starting a server" in line
    nothing_left(pfi)


def test_exception_during_initialisation(pfi):
    s = pfi.script("dies.py", "import prefork_interp\n"
                   "raise RuntimeError('broken initialisation')\n"
                   "prefork_interp.initialisation_complete()\n")
    r = pfi.call([s])
    want = pfi.standalone(s)
    assert r.status == want.status == "exit 1"
    assert b"RuntimeError: broken initialisation\n" in r.err
    (line,) = client_lines(r)
    assert "initialisation of" in line and "failed" in line
    assert r.err.index(b"RuntimeError") < r.err.index(b"prefork-interp: ")
    nothing_left(pfi)


def test_sys_exit_during_initialisation(pfi):
    s = pfi.script("exits.py", "import sys, prefork_interp\nsys.exit(3)\n"
                   "prefork_interp.initialisation_complete()\n")
    assert pfi.call([s]).status == pfi.standalone(s).status == "exit 3"
    nothing_left(pfi)


def test_good_call_after_all_that(pfi):
    s = pfi.script("good.py", "import prefork_interp\n"
                   "prefork_interp.initialisation_complete()\nprint('ran')\n")
    r = pfi.call([s])
    assert (r.status, r.out) == ("exit 0", b"ran\n")


SETUP_FAILS = """
import atexit, os, sys
import prefork_interp
atexit.register(lambda: os.write(2, b"atexit of the initialisation ran\\n"))
try:
    prefork_interp.initialisation_complete()
except BaseException as e:
    os.write(2, b"caught %r\\n" % e)
print("per-call code ran")
"""


def test_call_whose_state_cannot_be_built(pfi):
    """A call for which a fresh interpreter could not start (its
    PYTHONIOENCODING names no codec, its stdin is a directory) stops as
    standalone: "Fatal Python error", status 1, nothing of the script
    run (no atexit handler, no exception the script could catch)."""
    s = pfi.script("setupfails.py", SETUP_FAILS)
    first = pfi.call([s])
    assert first.status == "exit 0" and first.out == b"per-call code ran\n", first
    cases = [dict(env={"PYTHONIOENCODING": "no-such-codec"})]
    fd = os.open(pfi.dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        cases.append(dict(stdin=None, pass_fds=(fd,),
                          preexec_fn=lambda: os.dup2(fd, 0)))
        for kw in cases:
            want = pfi.standalone(s, **kw)
            got = pfi.call([s], **kw)
            assert want.status == got.status == "exit 1", (want, got)
            assert b"Fatal Python error" in want.err
            assert got.out == b"", got
            (line,) = got.err.decode().splitlines()
            assert line.startswith("Fatal Python error: "), got
            assert "atexit" not in line and "caught" not in line
    finally:
        os.close(fd)
    assert pfi.call([s]).out == b"per-call code ran\n", "still serving"
