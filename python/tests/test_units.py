"""Unit tests of the pure parts outside the codec: inotify event
parsing, options, signal dispositions, the stdio settings compared
with what real fresh interpreters choose, and a stdio message that
arrives without its fd for want of a free number."""

import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys

import pytest

from prefork_interp import (autoreload, callstate, executor, linux, options,
                            protocol)


def event(wd, mask, name=b""):
    padded = name + b"\0" * (-len(name) % 16 or (16 if name else 0))
    return struct.pack("iIII", wd, mask, 0, len(padded)) + padded


def test_parse_events():
    buf = event(1, linux.IN_MODIFY) + event(2, linux.IN_CREATE, b"mod.py")
    assert autoreload.parse_events(buf) == [
        (1, linux.IN_MODIFY, b""), (2, linux.IN_CREATE, b"mod.py")]
    assert autoreload.parse_events(buf[:10]) == []


def test_autoreload_relevance(tmp_path):
    mod = tmp_path / "mod.py"
    mod.write_text("x = 1\n")
    logged = []
    ar = autoreload.Autoreload([str(mod)], start_ns=0,
                               log=lambda *a: logged.append(a))
    try:
        (file_wd,) = ar.wd_file
        (dir_wd,) = ar.wd_dir
        touched = set()
        assert not ar._note([(dir_wd, linux.IN_CREATE, b"other.py")], touched)
        assert ar._note([(dir_wd, linux.IN_MOVED_TO, b"mod.py")], touched)
        assert ar._note([(file_wd, linux.IN_MODIFY, b"")], touched)
        assert touched == {str(mod)}
        assert ar.newer([str(mod)])         # start time 0: everything is newer
        assert not ar.newer([str(tmp_path / "missing.py")])
    finally:
        ar.close()


def test_file_identity_and_deploys(tmp_path):
    """What a deploy changes: replaced() tells a rewrite (same inode) from
    a replacement; links_on_path() names the symlinks a path goes
    through, so that their directories are watched."""
    f = tmp_path / "m.py"
    f.write_text("VERSION = '1'\n")
    before = autoreload.identity(str(f))
    assert autoreload.replaced(before, autoreload.identity(str(f))) is None
    assert autoreload.replaced(None, before) is None
    old = os.stat(f).st_mtime_ns
    f.write_text("VERSION = '2'\n")            # same size, as cp -p
    os.utime(f, ns=(old, old))
    assert autoreload.replaced(before, autoreload.identity(str(f))) == "rewritten"
    g = tmp_path / "m2.py"
    g.write_text("VERSION = '3'\n")
    os.rename(g, f)
    assert autoreload.replaced(before, autoreload.identity(str(f))) == \
        "replaced by another file"

    (tmp_path / "releases" / "r1" / "lib").mkdir(parents=True)
    os.symlink("releases/r1", tmp_path / "current")
    os.symlink(str(tmp_path / "current" / "lib"), tmp_path / "lib")
    assert autoreload.links_on_path(str(tmp_path / "lib" / "x.py")) == [
        (str(tmp_path), "lib"), (str(tmp_path), "current")]
    assert autoreload.links_on_path(str(tmp_path / "releases" / "x.py")) == []
    os.symlink("loop", tmp_path / "loop")
    assert len(autoreload.links_on_path(str(tmp_path / "loop" / "x"))) == 40


def test_options():
    o = options.check({})
    assert (o.max_servers, o.prefork_spares, o.log_facility) == (4, 1, 8)
    assert options.check({"max_servers": 0}).max_servers == 1
    assert options.check({"log_facility": ""}).log_facility is None
    assert options.check({"log_facility": "daemon"}).log_facility == 24
    for bad, exc in [({"nope": 1}, TypeError), ({"max_servers": "4"}, TypeError),
                     ({"prefork_spares": -1}, ValueError),
                     ({"logger": 3}, TypeError),
                     ({"autoreload_extra": "a.py"}, TypeError),
                     ({"log_facility": "LOG_NOPE"}, ValueError)]:
        with pytest.raises(exc):
            options.check(bad)


def test_call_dispositions():
    def handler(signum, frame):
        pass
    at_import = {signal.SIGINT: signal.default_int_handler,
                 signal.SIGTERM: signal.SIG_DFL, signal.SIGUSR1: signal.SIG_IGN}
    at_init = {signal.SIGINT: signal.default_int_handler,
               signal.SIGTERM: handler, signal.SIGUSR1: signal.SIG_IGN}
    script = callstate.script_handlers(at_import, at_init)
    assert script == {signal.SIGTERM: handler}
    wanted = callstate.call_dispositions(script)
    assert wanted[signal.SIGTERM] is handler
    assert wanted[signal.SIGINT] is signal.default_int_handler
    assert wanted[signal.SIGPIPE] == signal.SIG_IGN
    assert wanted[signal.SIGUSR1] == signal.SIG_DFL   # inherited, not the script's
    assert signal.SIGKILL not in wanted


PROBE = ("import json,sys,locale,os; print(json.dumps([sys.stdout.encoding,"
         "sys.stdout.errors, sys.stdout.write_through,"
         "locale.setlocale(locale.LC_CTYPE), sys.flags.utf8_mode,"
         "os.environ.get('LC_CTYPE')]))")

ENVS = [{}, {"LANG": "C"}, {"LANG": "C.UTF-8"}, {"LC_ALL": "C"},
        {"LC_ALL": "POSIX"}, {"LANG": "C", "PYTHONUTF8": "0"},
        {"LANG": "C", "PYTHONCOERCECLOCALE": "0"},
        {"PYTHONIOENCODING": "latin-1"}, {"PYTHONIOENCODING": "utf-16:ignore"},
        {"PYTHONIOENCODING": ":replace", "LANG": "C"},
        {"PYTHONUNBUFFERED": "1"}, {"PYTHONUTF8": "1", "LC_ALL": "C"}]


@pytest.mark.parametrize("env", ENVS, ids=lambda e: " ".join(
    f"{k}={v}" for k, v in e.items()) or "empty")
def test_stdio_settings_match_fresh_interpreter(env):
    fresh = subprocess.run([sys.executable, "-c", PROBE], env=env,
                           capture_output=True, check=True)
    want = json.loads(fresh.stdout)
    # Computed in a child, since it changes the process's locale; the
    # child replaces its environment as an executor does.
    code = ("import json,sys,locale; from prefork_interp import stdio;"
            "import os; env=json.loads(sys.argv[1]);"
            "os.environ.clear(); os.environ.update(env);"
            "name,utf8=stdio.apply_locale(os.environ,False,{});"
            "s=stdio.settings(env,False,{},False,name,utf8,locale.getencoding());"
            "print(json.dumps([s.encoding,s.errors,s.unbuffered,name,int(utf8),"
            "os.environ.get('LC_CTYPE')]))")
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mine = subprocess.run([sys.executable, "-c", code, json.dumps(env)],
                          env={"PYTHONPATH": pkg, "LANG": "C.UTF-8"},
                          capture_output=True, check=True)
    assert json.loads(mine.stdout) == want


MAPS = """\
55d0c0000000-55d0c0001000 r--p 00000000 fe:01 123 /usr/bin/python3.11
55d0c0100000-55d0c0103000 rw-p 00100000 fe:01 123 /usr/bin/python3.11
55d0c1000000-55d0c1400000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000200000 rw-p 00000000 00:00 0
7f0000200000-7f0000201000 ---p 00000000 00:00 0
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]
"""


def test_prefault_regions_and_plan():
    from prefork_interp import prefault
    regions = prefault.writable_regions(MAPS)
    assert regions == [(0x55d0c1000000, 0x55d0c1400000),      # heap first
                       (0x55d0c0100000, 0x55d0c0103000),
                       (0x7f0000000000, 0x7f0000200000)]
    assert prefault.plan(regions, 0) == []
    assert prefault.plan(regions, 1 << 30) == regions
    # 4 MB heap whole, then the data segment, then 1 MB of the last.
    budget = (4 << 20) + 0x3000 + (1 << 20) + 100
    assert prefault.plan(regions, budget) == [
        regions[0], regions[1], (0x7f0000000000, 0x7f0000100000)]


def test_idle_timeout_default_is_the_perl_modules():
    """README: a server idles out after ten minutes by default, Perl
    and Python alike."""
    assert options.check({}).idle_timeout == 600


def test_c_handlers_are_caught_signals_python_does_not_know():
    S = signal
    found = {S.SIGSEGV: S.SIG_DFL, S.SIGUSR1: S.SIG_IGN, S.SIGINT:
             S.default_int_handler, S.SIGTERM: S.SIG_DFL, S.SIGBUS: None}
    caught = {S.SIGSEGV, S.SIGUSR1, S.SIGINT, S.SIGBUS}
    assert callstate.c_handlers(found, caught) == {S.SIGSEGV, S.SIGUSR1,
                                                   S.SIGBUS}
    assert callstate.c_handlers(found, set()) == frozenset()
    assert signal.SIGINT not in callstate.caught_by_kernel() or \
        callable(signal.getsignal(signal.SIGINT))


def test_fd_message_without_room_says_so():
    """A receiver with no free fd number: the kernel drops the fd (the
    message arrives without it), and that is said, not blamed on the
    client.  In a child, whose soft limit sits at its open fds."""
    client, server = socket.socketpair()
    passed = os.open("/dev/null", os.O_RDONLY)
    socket.send_fds(client, [b"\0"], [passed])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            top = max(int(n) for n in os.listdir("/proc/self/fd"))
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (top + 1, hard))
            fill = []
            try:
                while True:
                    fill.append(os.dup(0))
            except OSError:
                pass
            try:
                fd = executor._Reader(server, 0).fd(5)
                said = f"fd {fd}"
            except protocol.ProtocolError as e:
                said = str(e)
            os.write(w, said.encode())
        finally:
            os._exit(0)
    os.close(w)
    said = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    os.close(passed)
    client.close()
    server.close()
    assert said == ("no free fd number to receive the caller's fd 5 in "
                    "(Too many open files)")
