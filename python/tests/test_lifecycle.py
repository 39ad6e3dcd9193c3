"""The server's life: reuse, auto-reload after editing the script or a
module it imported (also replaced by rename, and a module appearing
earlier on sys.path), quitting when its socket is removed, --kill, -f,
idle_timeout."""

import os
import re
import time

import pytest

import harness

BODY = '''
import os, sys
sys.path.insert(0, {lib!r})
import pfimod
import prefork_interp
BOOT = os.getpid()
prefork_interp.initialisation_complete({opts})
print("tag={tag} mod=%s boot=%d srv=%d" % (pfimod.VERSION, BOOT, os.getppid()))
'''


def fields(out):
    return dict(f.split("=") for f in out.decode().split())


@pytest.fixture(scope="module")
def lib(pfi):
    path = pfi.path("lib")
    os.mkdir(path)
    return path


def write_module(pfi, lib, version):
    # The length changes with the version: Python's own bytecode cache
    # trusts a source whose mtime (in seconds) and size are unchanged.
    pfi.write(os.path.join("lib", "pfimod.py"),
              f"VERSION = {version!r}\n" + "#" * len(version) + "\n")


def newer_than_server():
    # File times come from a coarse clock: let it move past the start.
    time.sleep(0.05)


def call(pfi, argv):
    r = pfi.call(argv)
    assert r.status == "exit 0", r
    return fields(r.out)


def test_reuse_and_autoreload(pfi, lib):
    write_module(pfi, lib, "1")
    script = pfi.script("life.py", BODY.format(lib=lib, opts="", tag="A"))
    o1, o2 = call(pfi, [script]), call(pfi, [script])
    assert o1["boot"] == o2["boot"], "second call reuses the server"
    assert (o2["tag"], o2["mod"]) == ("A", "1")

    newer_than_server()
    pfi.script("life.py", BODY.format(lib=lib, opts="", tag="B"))
    o3 = call(pfi, [script])
    assert o3["tag"] == "B" and o3["boot"] != o2["boot"], "edited script"
    assert harness.wait_for(10, lambda: not harness.alive(int(o2["srv"])))

    newer_than_server()
    write_module(pfi, lib, "22")
    o4 = call(pfi, [script])
    assert o4["mod"] == "22" and o4["boot"] != o3["boot"], "edited module"
    assert call(pfi, [script])["boot"] == o4["boot"], "then reused"

    # Edited in place (no rename): the module file's own watch.
    newer_than_server()
    with open(os.path.join(lib, "pfimod.py"), "w") as f:
        f.write("VERSION = '333'\n#\n")
    o5 = call(pfi, [script])
    assert o5["mod"] == "333" and o5["boot"] != o4["boot"], "edited in place"


def test_socket_removed_makes_server_quit(pfi, lib):
    script = pfi.script("sock.py", BODY.format(lib=lib, opts="", tag="S"))
    srv = int(call(pfi, [script])["srv"])
    assert len(pfi.sockets()) >= 1
    pfi.kill_servers()
    assert harness.wait_for(10, lambda: not harness.alive(srv))


def test_kill_and_fresh(pfi, lib):
    script = pfi.script("kill.py", BODY.format(lib=lib, opts="", tag="K"))
    srv = int(call(pfi, [script])["srv"])
    k = pfi.call([pfi.client, f"--kill,-U,{harness.PYTHON}", script])
    assert k.status == "exit 0" and k.out + k.err == b"", k
    assert harness.wait_for(10, lambda: not harness.alive(srv))
    assert pfi.sockets() == []

    f1 = call(pfi, [script])
    f2 = call(pfi, [pfi.client, f"-f,-U,{harness.PYTHON}", script])
    assert f2["boot"] != f1["boot"], "-f started a fresh server"
    assert call(pfi, [script])["boot"] == f2["boot"]
    assert harness.wait_for(10, lambda: not harness.alive(int(f1["srv"])))


def test_idle_timeout(pfi, lib):
    script = pfi.script("idle.py", BODY.format(lib=lib, opts="idle_timeout=1",
                                               tag="I"))
    srv = int(call(pfi, [script])["srv"])
    assert harness.comm_of(srv) == b"pfi-server"
    assert harness.wait_for(20, lambda: not harness.alive(srv))


def test_autoreload_also_check(pfi, lib):
    extra = pfi.write("data.txt", "1\n")
    body = BODY.replace("import prefork_interp\n", "import prefork_interp\n"
                        f"prefork_interp.autoreload_also_check({extra!r})\n")
    script = pfi.script("also.py", body.format(lib=lib, opts="", tag="X"))
    o1 = call(pfi, [script])
    assert call(pfi, [script])["boot"] == o1["boot"]
    newer_than_server()
    pfi.write("data.txt", "2\n")
    assert call(pfi, [script])["boot"] != o1["boot"]


def test_no_stat_per_call(pfi, lib):
    """Auto-reload costs the server one inotify read per call, not a
    stat of every checked file: strace on the server shows none."""
    import shutil
    import signal
    import subprocess
    if shutil.which("strace") is None:
        pytest.skip("needs strace (Debian strace; ./setup-tests installs it)")
    write_module(pfi, lib, "N")
    script = pfi.script("nostat.py", BODY.format(lib=lib, opts="", tag="N"))
    srv = int(call(pfi, [script])["srv"])
    out = pfi.path("strace.out")
    tracer = subprocess.Popen(["strace", "-qq", "-o", out, "-e", "signal=none",
                               "-e", "trace=%%stat,read,accept4,accept",
                               "-p", str(srv)])
    try:
        assert harness.wait_for(10, lambda: os.path.exists(out)
                                and _traced(srv)), "strace attached"
        for _ in range(5):
            call(pfi, [script])
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    with open(out) as f:
        trace = f.read()
    assert trace.count("accept") >= 5, trace
    stats = [line for line in trace.splitlines()
             if re.match(r"\w*stat\w*\(", line)]
    assert stats == [], stats


def _traced(pid):
    with open(f"/proc/{pid}/status") as f:
        return any(line.startswith("TracerPid:") and line.split()[1] != "0"
                   for line in f)
