"""Per-call hygiene and Python's own pitfalls: fds, signals, process
group, random seed, threads before the fork, atexit handlers, output
buffered by the initialisation, __pycache__, multiprocessing; and the
script run standalone."""

import json
import os
import signal

import pytest

import harness


@pytest.fixture(scope="module")
def script(pfi):
    return harness.callee(pfi)


def state(pfi, argv, **kw):
    r = pfi.call(argv + ["state"], **kw)
    assert r.status == "exit 0", r
    return json.loads(r.out)


def test_fds_signals_group_as_standalone(pfi, script):
    got = state(pfi, [script])
    want = state(pfi, [harness.PYTHON, script])
    assert got["fds"] == want["fds"], "only the caller's 0-2 (and the listing's own)"
    assert got["signals"] == want["signals"]
    assert got["sigmask"] == want["sigmask"] == []
    assert got["own_group"], "the call leads its own process group"
    assert got["cwd"] == want["cwd"]


def test_no_fd_of_another_call(pfi, script):
    """While other calls run, a call still holds only its own fds."""
    sleepers = [pfi.start([script, "sleep", "3"]) for _ in range(2)]
    try:
        got = state(pfi, [script])
        want = state(pfi, [harness.PYTHON, script])
        assert got["fds"] == want["fds"]
    finally:
        for p in sleepers:
            p.communicate(timeout=60)
    assert all(p.returncode == 0 for p in sleepers)


def test_first_caller_ignoring_and_blocking_signals_does_not_leak(pfi):
    s = harness.callee(pfi, "sigs.py")

    def ignore_and_block():
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGHUP})

    first = pfi.call([s, "exit", "0"], preexec_fn=ignore_and_block)
    assert first.status == "exit 0", first
    got = state(pfi, [s])
    want = state(pfi, [harness.PYTHON, s])
    assert got["signals"] == want["signals"]
    assert got["signals"][str(int(signal.SIGINT))] == "default_int_handler"
    assert got["sigmask"] == []


def test_script_handlers_kept(pfi):
    body = ("import os, signal, sys, prefork_interp\n"
            "def on_usr1(s, f):\n    print('usr1 handled', flush=True)\n"
            "signal.signal(signal.SIGUSR1, on_usr1)\n"
            "signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n"
            "prefork_interp.initialisation_complete()\n"
            "os.kill(os.getpid(), signal.SIGUSR1)\n"
            "os.kill(os.getpid(), signal.SIGUSR2)\n"
            "print('survived')\n")
    s = pfi.script("handlers.py", body)
    want = pfi.standalone(s)
    for _ in range(3):
        got = pfi.call([s])
        assert (got.status, got.out) == (want.status, want.out) == (
            "exit 0", b"usr1 handled\nsurvived\n")


def _small_file_size_limit():
    import resource
    _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))


def test_server_keeps_ignoring_what_the_initialisation_made_default(pfi):
    """signal.signal(SIGPIPE, SIG_DFL) (the usual way to end quietly
    when a reader goes) or SIGXFSZ's default in the initialisation is
    for the calls: the server goes on ignoring them, as the interpreter
    does, so that a write of its own that fails (a log file past the
    first caller's RLIMIT_FSIZE, a spare gone) is an error it logs and
    survives, not its death."""
    log = pfi.path("own-log")
    with open(log, "w") as f:
        f.write("x" * 8192)
    body = ("import os, signal, sys, prefork_interp\n"
            "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
            "def logger(priority, message):\n"
            f"    with open({log!r}, 'a') as f:\n"
            "        f.write(priority + ': ' + message + '\\n')\n"
            "prefork_interp.initialisation_complete(logger=logger)\n"
            "print(signal.getsignal(signal.SIGPIPE),"
            " signal.getsignal(signal.SIGXFSZ))\n")
    s = pfi.script("dfl-pipe-xfsz.py", body)
    want = pfi.standalone(s)
    assert (want.status, want.out) == ("exit 0", b"0 0\n"), want
    first = pfi.call([s], preexec_fn=_small_file_size_limit)
    assert (first.status, first.out) == (want.status, want.out), first
    server = harness.server_of(pfi, s)
    assert server is not None
    assert harness.wait_for(10, lambda: len(harness.children_of(server)) == 1)
    spare = harness.children_of(server)[0]
    os.kill(spare, signal.SIGKILL)      # the server logs it: past the limit
    assert harness.wait_for(
        10, lambda: not harness.alive(server) or
        set(harness.children_of(server)) - {spare}), "no new spare"
    assert harness.alive(server), "the server died of its failed log write"
    got = pfi.call([s])
    assert (got.status, got.out) == (want.status, want.out), got
    assert harness.server_of(pfi, s) == server


FAULTS = """
import os, signal, sys
import prefork_interp
if "enable" in sys.argv[0]:
    import faulthandler
    faulthandler.enable()
prefork_interp.initialisation_complete()
if sys.argv[1:] == ["segv"]:
    os.kill(os.getpid(), signal.SIGSEGV)
print("no fault")
"""


def _no_core():
    import resource
    _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))


@pytest.mark.parametrize("how", ["enable", "-X faulthandler",
                                 "PYTHONFAULTHANDLER"])
def test_faulthandler_of_the_initialisation_kept(pfi, how):
    """Handlers installed from C (faulthandler's; Python's table says
    SIG_DFL for them) are the call's too: a segfault prints Python's
    fatal error and traceback, as standalone."""
    interp, env, opts = f"-U,{harness.PYTHON}", {}, []
    if how == "-X faulthandler":
        opts = ["-X", "faulthandler"]
        interp += ",-X,faulthandler"
    elif how == "PYTHONFAULTHANDLER":
        env = {"PYTHONFAULTHANDLER": "1"}
    name = "faults-%s.py" % how.replace(" ", "").lstrip("-")
    s = pfi.script(name, FAULTS, interp=interp)
    first = pfi.call([s], env=env, preexec_fn=_no_core)
    assert first.status == "exit 0" and first.out == b"no fault\n", first
    want = pfi.call([harness.PYTHON, *opts, s, "segv"], env=env,
                    preexec_fn=_no_core)
    got = pfi.call([s, "segv"], env=env, preexec_fn=_no_core)
    assert want.status == got.status == f"signal {int(signal.SIGSEGV)}"
    assert b"Fatal Python error: Segmentation fault" in want.err, want
    assert b"Fatal Python error: Segmentation fault" in got.err, got
    assert b'File "%s", line 10 in <module>' % s.encode() in got.err, got


def test_faulthandler_of_a_later_callers_environment(pfi):
    """PYTHONFAULTHANDLER is read when an interpreter starts: a later
    caller that sets it (the first did not) gets Python's fatal error
    and traceback on a segfault, as its standalone run does."""
    s = pfi.script("faults-later.py", FAULTS)
    first = pfi.call([s], preexec_fn=_no_core)
    assert first.status == "exit 0" and first.out == b"no fault\n", first
    env = {"PYTHONFAULTHANDLER": "1"}
    want = pfi.standalone(s, ["segv"], env=env, preexec_fn=_no_core)
    assert b"Fatal Python error: Segmentation fault" in want.err, want
    for _ in range(3):
        got = pfi.call([s, "segv"], env=env, preexec_fn=_no_core)
        assert got.status == want.status == f"signal {int(signal.SIGSEGV)}"
        assert b"Fatal Python error: Segmentation fault" in got.err, got
        assert b'File "%s", line 10 in <module>' % s.encode() in got.err, got
    plain = pfi.call([s, "segv"], preexec_fn=_no_core)
    assert (plain.status, plain.err) == (want.status, b""), plain


def test_random_differs_between_calls(pfi, script):
    values = {state(pfi, [script])["random"] for _ in range(5)}
    assert len(values) == 5


def test_alarm_set_by_the_initialisation_fires_in_every_call(pfi):
    """signal.alarm() (or setitimer) in the initialisation: a standalone
    run's per-call code is interrupted by that alarm; a fork does not
    inherit timers, so each call must get it again."""
    body = ("import prefork_interp\nimport signal, sys, time\n"
            "signal.alarm(2)\n"
            "prefork_interp.initialisation_complete()\n"
            "if not signal.getitimer(signal.ITIMER_REAL)[0]:\n"
            "    sys.exit('no alarm armed')\n"
            "time.sleep(60)\nsys.exit('the alarm never came')\n")
    s = pfi.script("alarm.py", body)
    want = pfi.standalone(s)
    assert want.status == f"signal {int(signal.SIGALRM)}", want
    for _ in range(3):
        got = pfi.call([s])
        assert (got.status, got.err) == (want.status, b""), got


def test_interval_timer_of_the_initialisation_ticks_in_every_call(pfi):
    body = ("import prefork_interp\nimport signal, sys, time\n"
            "ticks = []\n"
            "signal.signal(signal.SIGALRM, lambda *a: ticks.append(1))\n"
            "signal.setitimer(signal.ITIMER_REAL, 0.25, 0.25)\n"
            "prefork_interp.initialisation_complete()\n"
            "print(signal.getitimer(signal.ITIMER_REAL)[1])\n"
            "start = len(ticks)\n"
            "deadline = time.monotonic() + 30    # a hang guard only\n"
            "while len(ticks) < start + 3 and time.monotonic() < deadline:\n"
            "    time.sleep(0.05)\n"
            "print('ticked' if len(ticks) >= start + 3 else 'no ticks')\n")
    s = pfi.script("itimer.py", body)
    want = pfi.standalone(s)
    assert (want.status, want.out) == ("exit 0", b"0.25\nticked\n"), want
    for _ in range(3):
        got = pfi.call([s])
        assert (got.status, got.out) == ("exit 0", want.out), got


def test_threads_before_initialisation_refused(pfi):
    body = ("import threading, time, prefork_interp\n"
            "threading.Thread(target=time.sleep, args=(60,), daemon=True,"
            " name='busy').start()\n"
            "prefork_interp.initialisation_complete(%s)\nprint('ran')\n")
    s = pfi.script("threads.py", body % "")
    r = pfi.call([s])
    assert r.status != "exit 0" and r.out == b""
    lines = [l for l in r.err.decode().splitlines() if "prefork_interp" in l]
    assert len(lines) == 1 and "thread" in lines[0] and "busy" in lines[0], r
    assert pfi.standalone(s).out == b"ran\n", "standalone it just runs"
    allowed = pfi.script("threads-ok.py", body % "allow_threads=True")
    assert pfi.call([allowed]).out == b"ran\n"


def test_atexit_runs_once_per_call_never_in_server(pfi):
    marker = pfi.path("atexit-marker")
    body = ("import atexit, os, prefork_interp\n"
            f"def bye():\n    open({marker!r}, 'a').write('%d\\n' % os.getpid())\n"
            "    print('bye')\n"
            "atexit.register(bye)\n"
            "prefork_interp.initialisation_complete()\nprint('hello')\n")
    s = pfi.script("atexit.py", body)
    want = pfi.standalone(s)
    assert want.out == b"hello\nbye\n"
    os.unlink(marker)
    for _ in range(3):
        got = pfi.call([s])
        assert (got.status, got.out) == ("exit 0", want.out)
    pfi.kill_servers()
    with open(marker) as f:
        pids = f.read().split()
    assert len(pids) == 3 and len(set(pids)) == 3, "once in each call only"


def test_files_of_the_initialisation_flushed_at_exit(pfi):
    """At exit a standalone run frees the file its initialisation opened
    (LOG = open(...); the module's functions and its globals are a
    reference cycle that its last collection breaks), which flushes what the run wrote to it, also
    from its atexit handlers.  The server freezes the initialisation's
    objects, which a call then never frees: the module flushes those
    files at the call's end instead, after the script's handlers."""
    log = pfi.path("written-by-calls")
    body = ("import prefork_interp\nimport atexit, sys\n"
            f"LOG = open({log!r}, 'a')\n"
            "def bye():\n"
            "    LOG.write('bye ' + sys.argv[1] + '\\n')\n"
            "atexit.register(bye)\n"
            "prefork_interp.initialisation_complete()\n"
            "LOG.write(sys.argv[1] + '\\n')\nprint('call')\n")
    s = pfi.script("flushed.py", body)
    want = pfi.standalone(s, ["standalone"])
    assert (want.status, want.out, want.err) == ("exit 0", b"call\n", b""), want
    for i in range(3):
        got = pfi.call([s, f"call{i}"])
        assert (got.status, got.out, got.err) == (want.status, want.out,
                                                  want.err), got
    with open(log) as f:
        assert f.read() == "".join(f"{n}\nbye {n}\n" for n in
                                   ["standalone", "call0", "call1", "call2"])


def test_initialisation_output_comes_out_once(pfi):
    body = ("import sys, prefork_interp\nprint('init-out')\n"
            "sys.stderr.write('init-err')\n"
            "prefork_interp.initialisation_complete()\nprint('call')\n")
    s = pfi.script("initout.py", body)
    first, second = pfi.call([s]), pfi.call([s])
    # The setup's stdout is the first caller's stderr (the client's rule).
    assert (first.out, first.err.count(b"init-out"),
            first.err.count(b"init-err")) == (b"call\n", 1, 1)
    assert (second.out, second.err) == (b"call\n", b"")


def test_c_stdio_output_of_the_initialisation_comes_out_once(pfi):
    """What an extension module wrote through the C library's stdio
    during initialisation (printf, still in its buffer: fd 1 is no
    terminal) comes out once, when the server starts, as Python's own
    output does; not again at the end of every call."""
    body = ("import ctypes, prefork_interp\n"
            "ctypes.CDLL(None).printf(b'init-c-out\\n')\n"
            "prefork_interp.initialisation_complete()\nprint('call')\n")
    s = pfi.script("initcout.py", body)
    first = pfi.call([s])
    assert (first.out, first.err) == (b"call\n", b"init-c-out\n"), first
    for _ in range(3):
        again = pfi.call([s])
        assert (again.out, again.err) == (b"call\n", b""), again


def test_pycache_written_per_call_does_not_reload(pfi):
    os.makedirs(pfi.path("lazy"), exist_ok=True)
    pfi.write("lazy/lazymod.py", "X = 1\n")
    body = ("import os, sys, prefork_interp\n"
            f"sys.path.insert(0, {pfi.path('lazy')!r})\n"
            "BOOT = os.getpid()\n"
            "prefork_interp.initialisation_complete()\n"
            "import lazymod\nprint(BOOT)\n")
    s = pfi.script("lazy.py", body)
    env = {"PYTHONDONTWRITEBYTECODE": ""}
    boots = {pfi.call([s], env=env).out for _ in range(3)}
    assert os.path.isdir(pfi.path("lazy/__pycache__"))
    assert len(boots) == 1, "the same server served every call"


def test_multiprocessing_per_call(pfi):
    body = ("import multiprocessing as mp, os, sys, prefork_interp\n"
            "def square(x):\n    return x * x\n"
            "if __name__ == '__main__':\n"
            "    mp.set_start_method(sys.argv[1])\n"
            "    with mp.Pool(2) as p:\n"
            "        p.map(square, [1])\n"
            "prefork_interp.initialisation_complete(allow_threads=True)\n"
            "if __name__ == '__main__':\n"
            "    with mp.Pool(2) as p:\n"
            "        print(sum(p.map(square, range(10))))\n")
    for method in ("fork", "forkserver", "spawn"):
        s = pfi.script(f"mp-{method}.py", body)
        want = pfi.standalone(s, [method])
        assert want.out == b"285\n", want
        for _ in range(2):
            got = pfi.call([s, method])
            assert (got.status, got.out) == ("exit 0", b"285\n"), (method, got)


def test_standalone_returns_at_once(pfi, script):
    # a copy no call has named, so any server found for it is one that
    # its standalone run left behind
    with open(script) as f:
        alone = pfi.script("standalone-only.py", f.read())
    r = pfi.standalone(alone, ["exit", "9"])
    assert r.status == "exit 9"
    assert harness.server_of(pfi, alone) is None


def test_malformed_prefork_interp_one_line(pfi, script):
    r = pfi.standalone(script, env={"PREFORK_INTERP": "v2,1.0 3,4,5,6"})
    assert r.status == "exit 1"
    assert r.err.count(b"\n") == 1
    assert r.err.startswith(b"prefork_interp: malformed PREFORK_INTERP")
    r = pfi.standalone(script, env={"PREFORK_INTERP": "v1,1.0 30,31,32,33"})
    assert r.err.startswith(b"prefork_interp: malformed") and b"fd 30 is not open" in r.err


def test_bad_option_raises_in_setup(pfi):
    s = pfi.script("badopt.py", "import prefork_interp\n"
                   "prefork_interp.initialisation_complete(max_servrs=3)\n")
    assert pfi.standalone(s).status == "exit 0", "standalone: options unchecked"
    r = pfi.call([s])
    assert r.status != "exit 0" and b"unknown option 'max_servrs'" in r.err
