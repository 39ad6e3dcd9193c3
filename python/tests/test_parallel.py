"""Parallel callers each get their own answer and status, with fewer
running slots (max_servers) than callers."""

import concurrent.futures

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
