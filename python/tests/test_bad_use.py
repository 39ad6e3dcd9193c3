"""A Python script that never reaches initialisation_complete(), or
fails before it: one line from the client naming the problem, the
script's own message first, the standalone status, nothing left
behind."""

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
