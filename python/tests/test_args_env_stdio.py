"""A call sees its caller's argv, environment and stdio exactly as a
standalone run would: sys.argv (sys.argv[0] the script path as given),
os.environ, and sys.stdin/stdout/stderr made for the caller's fds with
the encoding, errors and buffering a fresh interpreter chooses."""

import json
import os
import pty
import subprocess

import pytest

import harness


@pytest.fixture(scope="module")
def script(pfi):
    return harness.callee(pfi)


def states(pfi, script, args=(), **kw):
    got = pfi.call([script, "state", *args], **kw)
    want = pfi.standalone(script, ["state", *args], **kw)
    assert got.status == want.status == "exit 0", (got, want)
    return json.loads(got.out), json.loads(want.out)


ODD_ARGS = ["", " two words ", "-c", "--", "ünïcode", "new\nline", "*", "$HOME"]


def test_argv_exact(pfi, script):
    got, want = states(pfi, script, ODD_ARGS)
    assert got["argv"] == want["argv"] == [script, "state", *ODD_ARGS]
    assert got["orig_argv_tail"] == want["orig_argv_tail"]
    assert got["main_file"] == want["main_file"]
    assert got["name"] == "__main__"


def test_argv_relative_script_path(pfi, script):
    rel = os.path.basename(script)
    got = pfi.call(["./" + rel, "state"])
    assert json.loads(got.out)["argv"][0] == "./" + rel


def test_argv_not_utf8(pfi, script):
    raw = b"\xff\xfe-latin1-\xe9"
    got = pfi.call([script.encode(), b"state", raw])
    want = pfi.call([harness.PYTHON.encode(), script.encode(), b"state", raw])
    assert json.loads(got.out)["argv"] == json.loads(want.out)["argv"]


def test_argv_kept_by_the_initialisation_is_the_calls(pfi):
    """`def main(argv=sys.argv)` keeps the list the initialisation saw:
    standalone that list holds the run's own arguments, so in a call it
    must hold the call's, not the first caller's."""
    body = ("import sys, prefork_interp\n"
            "def main(argv=sys.argv, orig=sys.orig_argv):\n"
            "    print(argv[1:], orig[-len(argv):] == argv, argv is sys.argv)\n"
            "prefork_interp.initialisation_complete()\nmain()\n")
    s = pfi.script("argv-kept.py", body)
    for args in (["first", "x"], ["second", "y", ""], []):
        want = pfi.standalone(s, args)
        got = pfi.call([s, *args])
        assert (got.status, got.out) == (want.status, want.out) == (
            "exit 0", b"%s True True\n" % repr(args).encode()), got


def test_environment_exact(pfi, script):
    extra = {"PFI_A": "1", "PFI_EMPTY": "", "PFI_SPACES": " a  b ",
             "PFI_EQ": "x=y=z", "PFI_UNI": "ünï"}
    got, want = states(pfi, script, env=extra, unset=["HOME"])
    assert got["environ"] == want["environ"]
    for k, v in extra.items():
        assert got["environ"][k] == v
    assert "HOME" not in got["environ"]
    assert "PREFORK_INTERP" not in got["environ"]


def test_environment_differs_per_call(pfi, script):
    a, _ = states(pfi, script, env={"PFI_X": "first"})
    b, _ = states(pfi, script, env={"PFI_X": "second"})
    assert (a["environ"]["PFI_X"], b["environ"]["PFI_X"]) == ("first", "second")


STDIO_ENVS = [
    {}, {"LANG": "C"}, {"LC_ALL": "C"}, {"LC_ALL": "POSIX"},
    {"PYTHONIOENCODING": "latin-1"}, {"PYTHONIOENCODING": ":replace"},
    {"PYTHONIOENCODING": "ascii:ignore"}, {"PYTHONUNBUFFERED": "1"},
    {"PYTHONUTF8": "0", "LANG": "C"}, {"PYTHONCOERCECLOCALE": "0", "LANG": "C"},
]


@pytest.mark.parametrize("extra", STDIO_ENVS, ids=lambda e: " ".join(
    f"{k}={v}" for k, v in e.items()) or "default")
def test_stdio_on_pipes_as_fresh_interpreter(pfi, script, extra):
    got, want = states(pfi, script, env=extra)
    for name in ("stdin", "stdout", "stderr"):
        assert got[name] == want[name], name
    assert got["environ"] == want["environ"]


def test_stdio_on_a_terminal(pfi, script):
    """A terminal stdout is line-buffered, as in a fresh interpreter."""
    results = []
    for argv in ([script, "state"], [harness.PYTHON, script, "state"]):
        main, tty = pty.openpty()
        out = pfi.path("tty-out")
        environ = dict(pfi.environ, PFI_STATE_FILE=out)
        proc = subprocess.run(argv, stdin=tty, stdout=tty, stderr=tty,
                              env=environ, cwd=pfi.dir, timeout=60)
        os.close(tty)
        os.close(main)
        assert proc.returncode == 0
        with open(out) as f:
            results.append(json.load(f))
    got, want = results
    for name in ("stdin", "stdout", "stderr"):
        assert got[name] == want[name], name
    assert got["stdout"]["isatty"] and got["stdout"]["line_buffering"]
    assert got["stderr"]["isatty"]


def test_stdin_and_large_stdout(pfi, script):
    data = os.urandom(3 << 20)
    got = pfi.call([script, "cat"], stdin=data)
    assert got.status == "exit 0"
    assert got.out == data
    assert got.err == b"read %d\n" % len(data)


def test_stdout_order_with_stderr_unbuffered(pfi):
    body = ("import sys, prefork_interp\nprefork_interp.initialisation_complete()\n"
            "print('out1'); sys.stderr.write('err1\\n'); print('out2', flush=True)\n")
    s = pfi.script("order.py", body)
    assert pfi.call([s]).out == pfi.standalone(s).out == b"out1\nout2\n"


def test_closed_caller_fd_becomes_dev_null(pfi, script):
    """A documented difference: standalone, a closed fd 0 gives
    sys.stdin None; through the client it is /dev/null."""
    got = pfi.call([script, "state"], stdin=None,
                   preexec_fn=lambda: os.close(0))
    assert got.status == "exit 0", got
    assert json.loads(got.out)["stdin"]["fileno"] == 0


@pytest.mark.parametrize("opts", [["-u"], ["-Bu"], ["-uB"], ["-X", "dev", "-u"]],
                         ids=" ".join)
def test_interpreter_options_in_the_hash_bang_line(pfi, opts):
    """-u in the #! line makes stdout unbuffered, as for python3 -u,
    also combined with other flags (-Bu, -uB)."""
    name = "unbuffered%s.py" % "".join(opts).replace(" ", "")
    script = harness.callee(pfi, name, interp=",".join(
        ["-U", harness.PYTHON, *opts]))
    got = pfi.call([script, "state"])
    want = pfi.call([harness.PYTHON, *opts, script, "state"])
    assert got.status == want.status == "exit 0", got
    got, want = json.loads(got.out), json.loads(want.out)
    assert got["stdout"] == want["stdout"] and got["stdout"]["write_through"]
    assert got["stderr"] == want["stderr"]
    assert got["argv"] == want["argv"]


def test_options_that_are_not_u():
    """-u is found among combined flags, not in an option's argument."""
    from prefork_interp import stdio
    assert stdio.u_flag(["-Bu"]) and stdio.u_flag(["-uB"])
    assert stdio.u_flag(["-X", "dev", "-Eu"])
    assert not stdio.u_flag(["-Xu"]) and not stdio.u_flag(["-X", "u"])
    assert not stdio.u_flag(["-W", "u"]) and not stdio.u_flag(["-bWu"])
    assert not stdio.u_flag(["--check-hash-based-pycs", "u"])
    assert not stdio.u_flag(["-B"]) and not stdio.u_flag([])


TZ_BODY = """
import time, prefork_interp
time.localtime()    # the initialisation uses local time once
prefork_interp.initialisation_complete()
print(time.tzname, time.timezone, time.strftime("%Z %z", time.localtime(0)))
"""


@pytest.mark.parametrize("tz", ["America/New_York", "EST5", "UTC"])
def test_time_zone_is_the_callers(pfi, tz):
    """A server started with TZ=UTC gives each call its caller's TZ
    (time.tzset), as standalone."""
    if "/" in tz and not os.path.exists("/usr/share/zoneinfo/" + tz):
        pytest.skip(f"no zoneinfo for {tz}")
    script = pfi.script("tz.py", TZ_BODY)
    first = pfi.call([script], env={"TZ": "UTC"})
    assert first.status == "exit 0", first
    got = pfi.call([script], env={"TZ": tz})
    want = pfi.standalone(script, env={"TZ": tz})
    assert got.status == want.status == "exit 0", (got, want)
    assert got.out == want.out


KEPT_STREAMS_BODY = """
import logging, sys, prefork_interp
OUT, OUT_BUFFER, ERR = sys.stdout, sys.stdout.buffer, sys.stderr
logging.basicConfig(stream=sys.stdout, format="log:%(message)s")
prefork_interp.initialisation_complete()
print("a")
logging.warning("b")
print("c")
OUT.write("d\\n")
OUT_BUFFER.write(b"e\\n")
ERR.write("f")
print("g", file=sys.stderr)
print(OUT is sys.stdout is sys.__stdout__, OUT_BUFFER is sys.stdout.buffer,
      ERR is sys.stderr is sys.__stderr__)
"""


UNBUFFERED = {"PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("first,extra", [({}, {}), (UNBUFFERED, UNBUFFERED),
                                         ({}, UNBUFFERED), (UNBUFFERED, {})],
                         ids=["buffered", "unbuffered", "buffered-server",
                              "unbuffered-server"])
def test_streams_kept_by_the_initialisation_are_the_calls(pfi, first, extra):
    """sys.stdout, its buffer and sys.stderr as the initialisation kept
    them (a logging handler, a module-level reference) are the very
    objects the call writes through, as standalone: one buffer, output
    in the order written."""
    name = "kept_streams_%d%d.py" % (bool(first), bool(extra))
    script = pfi.script(name, KEPT_STREAMS_BODY)
    assert pfi.call([script], env=first).status == "exit 0"   # the server
    for _ in range(5):
        got = pfi.call([script], env=extra)
        want = pfi.standalone(script, env=extra)
        assert got.status == want.status == "exit 0", (got, want)
        assert got.err == want.err
        if first == extra:
            assert got.out == want.out
            assert got.out.endswith(b"True True True\n")
        else:
            # A documented difference: in a call whose PYTHONUNBUFFERED
            # is not the first caller's, sys.stdout.buffer kept from the
            # initialisation is a buffer of its own (its output comes
            # out when it is flushed or goes, at exit), but none is lost.
            assert sorted(got.out.splitlines()) == sorted(
                want.out.replace(b"True True", b"True False").splitlines())


SET_BY_INIT_BODY = """
import io, sys, prefork_interp
sys.stdout.reconfigure(encoding="utf-8", errors="replace",
                       line_buffering=True)
sys.stderr = io.TextIOWrapper(sys.stderr.buffer, encoding="ascii",
                              errors="namereplace", line_buffering=True)
prefork_interp.initialisation_complete()
print(sys.stdout.encoding, sys.stdout.errors, sys.stdout.line_buffering,
      sys.stdin.encoding, sys.stdin.errors)
print("\\u00e9 \\udcff")
print("\\u00e9", sys.stderr.encoding, sys.stderr.errors, file=sys.stderr)
"""


@pytest.mark.parametrize("extra", [{}, {"PYTHONIOENCODING": "latin-1"},
                                   {"LC_ALL": "C"}],
                         ids=["default", "PYTHONIOENCODING", "LC_ALL=C"])
def test_stream_settings_made_by_the_initialisation_are_kept(pfi, extra):
    """What the initialisation set on the standard streams (reconfigure,
    even to the value the first caller had; a stream of its own) stays
    in every call; the rest follows the call's environment."""
    script = pfi.script("set_by_init.py", SET_BY_INIT_BODY)
    assert pfi.call([script]).status == "exit 0"   # the server runs
    got = pfi.call([script], env=extra)
    want = pfi.standalone(script, env=extra)
    assert got.status == want.status == "exit 0", (got, want)
    assert (got.out, got.err) == (want.out, want.err)


SEEKABLE_BODY = """
import os, sys, prefork_interp
prefork_interp.initialisation_complete()
sys.stdin.read(3)
print("x")
facts = [(s.seekable(), s.buffer.seekable(), s.seekable() and s.tell())
         for s in (sys.stdin, sys.stdout)]
os.write(2, repr(facts).encode() + b"\\n")
"""


@pytest.mark.parametrize("first_in_file", [False, True])
def test_stream_seekability_is_the_callers(pfi, first_in_file):
    """A call's stdin and stdout are seekable (tell() works) exactly when
    its caller's fds are, whatever the first caller's were."""
    script = pfi.script("seekable%d.py" % first_in_file, SEEKABLE_BODY)

    def run(argv, in_file, out_file):
        inp = pfi.path("in.txt")
        with open(inp, "wb") as f:
            f.write(b"abcdef")
        stdout = open(pfi.path("out.txt"), "wb") if out_file \
            else subprocess.PIPE
        if in_file:
            with open(inp, "rb") as stdin:
                p = subprocess.run(argv, stdin=stdin, stdout=stdout,
                                   stderr=subprocess.PIPE, env=pfi.environ,
                                   cwd=pfi.dir, timeout=60)
        else:
            p = subprocess.run(argv, input=b"abcdef", stdout=stdout,
                               stderr=subprocess.PIPE, env=pfi.environ,
                               cwd=pfi.dir, timeout=60)
        if out_file:
            stdout.close()
        return p.returncode, p.stderr

    first = run([script], first_in_file, first_in_file)
    assert first[0] == 0, first
    for in_file, out_file in ((False, False), (True, True), (True, False),
                              (False, True)):
        got = run([script], in_file, out_file)
        want = run([harness.PYTHON, script], in_file, out_file)
        assert got == want, (in_file, out_file)


ENVIRON_BODY = """
import os, subprocess, prefork_interp
prefork_interp.initialisation_complete()
print(os.environ.get("PFI_DUP"), os.environ.get(""), os.environb.get(b"PFI_DUP"))
env = subprocess.run(["env"], capture_output=True, check=True).stdout
print([line for line in env.splitlines() if b"PFI_DUP" in line or line.startswith(b"=")])
"""

EXECVE_ODD_ENV = os.path.join(harness.SOURCE_ROOT, "tests", "lib",
                              "execve_odd_env.py")


def test_environment_entries_as_execve_gave_them(pfi):
    """An environment that a mapping cannot hold (a name twice, an empty
    name), as execve can give it: os.environ holds the first of each
    name, and the C environment (what a child gets) every entry in
    order, as standalone; the call runs."""
    script = pfi.script("environ.py", ENVIRON_BODY)
    helper = [harness.PYTHON, EXECVE_ODD_ENV]
    assert pfi.call([script]).status == "exit 0"    # the server runs
    got = pfi.call(helper + [script])
    want = pfi.call(helper + [harness.PYTHON, script])
    assert got.status == want.status == "exit 0", (got, want)
    assert (got.out, got.err) == (want.out, want.err)
    assert want.out.startswith(b"first empty name b'first'\n")


LOCALE_BODY = """
import locale, sys, prefork_interp
{init}
prefork_interp.initialisation_complete()
print(locale.setlocale(locale.LC_ALL), sys.stdout.encoding)
"""


LOCALE_CASES = {
    "LC_ALL-from-env": ('locale.setlocale(locale.LC_ALL, "")',
                        {"LANG": "C.UTF-8"}),
    "LC_TIME-from-env": ('locale.setlocale(locale.LC_TIME, "")',
                         {"LANG": "C.UTF-8", "LC_TIME": "C.UTF-8"}),
    "LC_TIME-own": ('locale.setlocale(locale.LC_TIME, "C.UTF-8")',
                    {"LANG": "C"}),
    "LC_CTYPE-own": ('locale.setlocale(locale.LC_CTYPE, "C.UTF-8")',
                     {"LC_ALL": "C"}),
    "untouched": ("", {"LANG": "C.UTF-8"}),
    "untouched-coerced": ("", {"LANG": "C", "LC_TIME": "C.UTF-8"}),
}


def without_locale(env):
    return [n for n in ("LANG", "LC_ALL", "LC_TIME") if n not in env]


@pytest.mark.parametrize("case", LOCALE_CASES)
def test_locale_categories_as_standalone(pfi, case):
    """Every locale category of a call is what a standalone run has:
    a fresh interpreter's (LC_CTYPE from the environment, every
    category when a C locale is coerced, the rest "C"), then what the
    initialisation set: a category it took from the environment
    (setlocale(LC_ALL, "")) is the caller's, one it named stays."""
    init, first = LOCALE_CASES[case]
    script = pfi.script(f"locale_{case}.py", LOCALE_BODY.format(init=init))
    first_call = pfi.call([script], env=first, unset=without_locale(first))
    assert first_call.status == "exit 0", first_call
    for env in ({"LC_ALL": "C"}, {"LANG": "C"}, {"LANG": "C.UTF-8"},
                {"LC_ALL": "POSIX", "LC_TIME": "C.UTF-8"},
                {"LC_TIME": "C.UTF-8"}, {"LANG": "C.UTF-8", "LC_TIME": "C"},
                {"LANG": "C", "PYTHONCOERCECLOCALE": "0"}):
        unset = without_locale(env)
        got = pfi.call([script], env=env, unset=unset)
        want = pfi.standalone(script, env=env, unset=unset)
        assert got.status == want.status == "exit 0", (env, got, want)
        assert got.out == want.out, env


ENV_SET_BY_INIT_BODY = """
import os, subprocess, prefork_interp
os.environ["PFI_SET"] = "by-init"
os.environ["PFI_CHANGED"] = "changed-by-init"
del os.environ["PFI_GONE"]
prefork_interp.initialisation_complete()
print(sorted((k, v) for k, v in os.environ.items() if k.startswith("PFI_")))
env = subprocess.run(["env"], capture_output=True, check=True).stdout
print(sorted(line for line in env.splitlines() if line.startswith(b"PFI_")))
"""


def test_environment_set_by_the_initialisation_is_kept(pfi):
    """Variables the initialisation set, changed or removed are so in
    every call (in os.environ and for children), as in every standalone
    run; the rest is the caller's."""
    script = pfi.script("env_set_by_init.py", ENV_SET_BY_INIT_BODY)
    first = {"PFI_GONE": "first", "PFI_CHANGED": "first", "PFI_OTHER": "first"}
    assert pfi.call([script], env=first).status == "exit 0"
    for env in ({"PFI_GONE": "x", "PFI_CHANGED": "x", "PFI_OTHER": "x"},
                {"PFI_GONE": "y", "PFI_SET": "y"}):
        got = pfi.call([script], env=env)
        want = pfi.standalone(script, env=env)
        assert got.status == want.status == "exit 0", (got, want)
        assert (got.out, got.err) == (want.out, want.err)
