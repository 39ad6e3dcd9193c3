"""Exit statuses through the client are those of a standalone run, in
every run: sys.exit(n) for every n, falling off the end, an uncaught
exception (traceback, status 1), KeyboardInterrupt, os._exit, death by
a signal, exec of another program."""

import pytest

import harness

CASES = [
    ["end"], ["exit", "0"], ["exit", "3"], ["exit", "255"], ["exitmsg"],
    ["raise"], ["kbint"], ["_exit", "7"], ["exec", "7"],
    ["kill", "TERM"], ["kill", "KILL"], ["kill", "INT"], ["kill", "HUP"],
    ["kill", "SEGV"], ["kill", "USR1"], ["kill", "PIPE"],
]


@pytest.fixture(scope="module")
def script(pfi):
    return harness.callee(pfi)


@pytest.mark.parametrize("case", CASES, ids=" ".join)
def test_same_as_standalone(pfi, script, case):
    want = pfi.standalone(script, case)
    got = pfi.call([script, *case])
    assert got.status == want.status, got
    assert got.out == want.out
    assert got.err == want.err


def test_traceback_reaches_caller(pfi, script):
    got = pfi.call([script, "raise"])
    assert got.status == "exit 1"
    assert got.err.startswith(b"Traceback (most recent call last):\n")
    assert got.err.endswith(b"ValueError: deliberate\n")


def test_exec_runs_with_callers_stdout(pfi, script):
    assert pfi.call([script, "exec", "3"]).out == b"from-exec\n"


def test_every_exit_code(pfi, script):
    wrong = []
    for n in range(256):
        got = pfi.call([script, "exit", str(n)])
        if got.status != f"exit {n}":
            wrong.append((n, got))
    assert wrong == []


def test_repeated_mixed_calls(pfi, script):
    """Race-prone paths must hold in every run, not most."""
    want = {tuple(c): pfi.standalone(script, c).status for c in CASES}
    bad = []
    for i in range(100):
        case = CASES[i % len(CASES)]
        got = pfi.call([script, *case])
        if got.status != want[tuple(case)]:
            bad.append((i, case, got))
    assert bad == []
