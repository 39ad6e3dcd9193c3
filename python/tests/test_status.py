"""Exit statuses through the client are those of a standalone run, in
every run: sys.exit(n) for every n, falling off the end, an uncaught
exception (traceback, status 1), KeyboardInterrupt, os._exit, death by
a signal, exec of another program."""

import os
import subprocess

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


def _with_reader_gone(pfi, argv):
    """Runs argv with its stdout a pipe whose reader has already gone
    (`script | true`, where true exits first)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        p = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, env=pfi.environ,
                           cwd=pfi.dir, timeout=60)
    finally:
        os.close(write_end)
    return harness.Result(p.returncode, b"", p.stderr)


def test_reader_gone_before_the_call_starts(pfi, script):
    """`script | true`: the standalone script runs all the same and
    meets the broken pipe when it flushes at exit (status 120 and
    Python's "Exception ignored" lines); so does a call, which must not
    be given up on before it starts because its caller's reader left."""
    want = _with_reader_gone(pfi, [harness.PYTHON, script, "end"])
    assert want.status == "exit 120", want
    assert b"BrokenPipeError" in want.err
    assert pfi.call([script, "end"]).status == "exit 0"     # server up
    bad = []
    for i in range(20):
        got = _with_reader_gone(pfi, [script, "end"])
        if (got.status, got.err) != (want.status, want.err):
            bad.append((i, got))
    assert bad == []
