"""Parallel callers each get their own answer and status, with fewer
running slots (max_servers) than callers."""

import concurrent.futures
import os

import harness

BODY = r'''
import sys, time
import prefork_interp
prefork_interp.initialisation_complete(max_servers=2, prefork_spares=2)
data = sys.stdin.read()
time.sleep(0.01)
print("%s:%s" % (sys.argv[1], data))
sys.exit(int(sys.argv[1]) % 256)
'''


def test_parallel_callers(pfi):
    script = pfi.script("par.py", BODY)
    assert pfi.call([script, "0"]).status == "exit 0"

    def caller(n):
        bad = []
        for i in range(8):
            tag = str(n * 100 + i)
            r = pfi.call([script, tag], stdin=f"in{tag}".encode())
            if r.status != f"exit {int(tag) % 256}" or \
                    r.out != f"{tag}:in{tag}\n".encode():
                bad.append((tag, r))
        return bad

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(caller, range(1, 9)))
    assert [b for r in results for b in r] == []
    srv = harness.server_of(pfi, script)
    assert srv is not None, "one server served them all"


SERIAL = r'''
import os, sys, time
import prefork_interp
prefork_interp.initialisation_complete(max_servers=1)
marks = {marks!r}
others = os.listdir(marks)
mine = os.path.join(marks, str(os.getpid()))
open(mine, "w").close()
time.sleep(0.2)
os.unlink(mine)
print("alone" if not others else "overlapped %s" % others)
'''


def test_max_servers_one_runs_calls_one_at_a_time(pfi):
    marks = pfi.path("marks")
    os.mkdir(marks)
    script = pfi.script("serial.py", SERIAL.format(marks=marks))
    assert pfi.call([script]).out == b"alone\n"
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: pfi.call([script]), range(8)))
    assert [r.status for r in results] == ["exit 0"] * 8
    assert [r.out for r in results] == [b"alone\n"] * 8


NOFILE = r'''
import resource, sys, time
import prefork_interp
prefork_interp.initialisation_complete()
time.sleep(0.3)
print("nofile=%d" % resource.getrlimit(resource.RLIMIT_NOFILE)[0])
'''


def test_low_open_files_limit(pfi):
    """A server started under `ulimit -Sn 14` holds a pidfd, a control
    socket and a call socket for every call: it raises its own soft
    limit, so parallel calls are all served, each with its caller's
    limit, and nothing floods the log.  (Failed before: calls lost to
    'socketpair: Too many open files', accept failures logged per
    pass.)"""
    script = pfi.script("nofile.py", NOFILE)

    def low(soft):
        return ["sh", "-c", f'ulimit -Sn {soft} && exec "$0" "$@"', script]

    assert pfi.call(low(14)).out == b"nofile=14\n"
    for _ in range(3):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _i: pfi.call(low(14)), range(8)))
        assert [(r.status, r.out) for r in results] == \
            [("exit 0", b"nofile=14\n")] * 8, results
    assert pfi.call(low(20)).out == b"nofile=20\n"
    assert pfi.call(low(14)).out == b"nofile=14\n"
    log = b""
    for name in ("messages", "messages.old"):
        try:
            with open(os.path.join(pfi.sockdir(), name), "rb") as f:
                log += f.read()
        except FileNotFoundError:
            pass
    assert b"Too many open files" not in log, log[-2000:]
