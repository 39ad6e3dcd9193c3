"""Test harness for the suites that drive Python scripts through the
built C client: a private run directory and temp directory per test
file, scripts whose #! line names the client, calls with their status,
stdout and stderr, and a way to prove nothing is left behind.

The run directory must pass the client's checks (every component owned
by root or us, not writable by group or other unless sticky, as /tmp):
the base is chosen as tests/lib/PFIHarness.pm does (PFI_TEST_BASE, the
build tree, /run/user/UID, then a private directory of ours in the
system's temp directory).
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
PYLIB = os.path.dirname(HERE)
SOURCE_ROOT = os.path.dirname(PYLIB)
PYTHON = os.path.realpath(sys.executable)


def client_path():
    path = os.environ.get("PFI_CLIENT") or os.path.join(
        SOURCE_ROOT, "build", "src", "prefork-interp-hardened")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no client at {path}: build it (meson compile "
                           "-C build) or set PFI_CLIENT")
    return path


def path_is_safe(path):
    walk = "/"
    for part in [""] + [p for p in path.split("/") if p]:
        walk = os.path.join(walk, part)
        try:
            st = os.lstat(walk)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode) or st.st_uid not in (0, os.geteuid()):
            return False
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            return False
    return True


def private_dir(path):
    """Makes (or reuses) a directory of ours, mode 0700: the base when
    nothing else is safe (a clone in a directory others can write to, a
    machine without /run/user/UID). None if it is not ours alone."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    st = os.lstat(path)
    if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid()
            or st.st_mode & 0o077):
        return None
    return path


def safe_base():
    candidates = [os.environ.get("PFI_TEST_BASE"),
                  os.environ.get("MESON_BUILD_ROOT"),
                  os.path.join(SOURCE_ROOT, "build"),
                  f"/run/user/{os.geteuid()}",
                  # last, and made only when nothing else will do
                  lambda: private_dir(os.path.join(
                      tempfile.gettempdir(), f"pfi-test-{os.geteuid()}"))]
    tried = []
    for c in candidates:
        if callable(c):
            c = c()
        tried.append(c)
        if not c or not os.path.isdir(c):
            continue
        c = os.path.realpath(c)
        if not path_is_safe(c):
            continue
        base = os.path.join(c, "pfi-test")
        os.makedirs(base, mode=0o700, exist_ok=True)
        os.chmod(base, 0o700)
        if path_is_safe(base):
            return base
    raise RuntimeError(f"no safe directory for test run directories "
                       f"(tried {tried})")


class Result:
    def __init__(self, returncode, out, err):
        self.returncode = returncode
        self.out = out
        self.err = err

    @property
    def status(self):
        """'exit N' or 'signal N', comparable with a standalone run."""
        if self.returncode < 0:
            return f"signal {-self.returncode}"
        return f"exit {self.returncode}"

    def __repr__(self):
        return f"<{self.status} out={self.out[:200]!r} err={self.err[-400:]!r}>"


class Env:
    """One test file's private directories and environment."""

    def __init__(self):
        self.client = client_path()
        self.dir = tempfile.mkdtemp(prefix="py-", dir=safe_base())
        os.chmod(self.dir, 0o700)
        self.run = os.path.join(self.dir, "run")
        os.mkdir(self.run, 0o700)
        self.environ = dict(os.environ)
        self.environ.pop("PREFORK_INTERP", None)
        self.environ.update({
            "PREFORK_INTERP_RUN_DIR": self.run,
            "PYTHONPATH": PYLIB,
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
        })
        for name in ("LC_ALL", "LC_CTYPE", "PYTHONIOENCODING",
                     "PYTHONUNBUFFERED", "PYTHONUTF8"):
            self.environ.pop(name, None)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text, mode=0o644):
        path = self.path(name)
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
        return path

    def script(self, name, body, interp=None):
        """An executable script whose #! line names the client."""
        interp = interp or f"-U,{PYTHON}"
        return self.write(name, f"#!{self.client} {interp}\n{body}", 0o755)

    def call(self, argv, stdin=b"", env=None, unset=(), timeout=60, **kw):
        environ = dict(self.environ)
        environ.update(env or {})
        for name in unset:
            environ.pop(name, None)
        p = subprocess.run(argv, input=stdin, capture_output=True, env=environ,
                           timeout=timeout, cwd=self.dir, **kw)
        return Result(p.returncode, p.stdout, p.stderr)

    def first_call(self, name, body, ident):
        """Writes a script from body (formatted with its log and marker
        paths), starts its server with a first call through `-U -g
        ident` (an explicit ident keeps the socket's path short enough
        to connect) and returns what tests need of it: script, log,
        marker, cmd (the client's argv without the script's args)."""
        log, marker = self.path("log"), self.path("marker")
        script = self.script(name, body.format(log=log, marker=marker))
        cmd = [self.client, "-U", "-g", ident, PYTHON, script]
        r = self.call(cmd + ["first"])
        assert r.status == "exit 0", r
        return types.SimpleNamespace(script=script, log=log, marker=marker,
                                     cmd=cmd)

    def standalone(self, script, args=(), **kw):
        """What `python3 SCRIPT ARGS` gives, without any server."""
        return self.call([PYTHON, script, *args], **kw)

    def start(self, argv, env=None, **kw):
        environ = dict(self.environ)
        environ.update(env or {})
        return subprocess.Popen(argv, env=environ, cwd=self.dir,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, **kw)

    def sockdir(self):
        """Where the client keeps the sockets: its own subdirectory
        prefork-interp-UID of the run directory (older clients: the
        run directory itself)."""
        sub = os.path.join(self.run, f"prefork-interp-{os.geteuid()}")
        return sub if os.path.isdir(sub) else self.run

    def sockets(self):
        return [n for n in os.listdir(self.sockdir()) if n.startswith("s")
                and not os.path.isdir(os.path.join(self.sockdir(), n))]

    def processes(self):
        """pids of processes whose command line names this directory."""
        return processes_matching(self.dir.encode())

    def kill_servers(self, seconds=10):
        """Removes every server socket, which makes each watcher tell
        its server to quit; then waits for them to go."""
        for name in self.sockets():
            os.unlink(os.path.join(self.sockdir(), name))
        return wait_for(seconds, lambda: not self.processes())

    def cleanup(self):
        if os.environ.get("PFI_KEEP"):
            return
        gone = self.kill_servers()
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        return gone


def processes_matching(needle):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry))
    return pids


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().strip()
    except OSError:
        return None


def server_of(env, script):
    """pid of the server serving script (its comm is pfi-server)."""
    for pid in processes_matching(script.encode()):
        if comm_of(pid) == b"pfi-server":
            return pid
    return None


def live_processes():
    """(pid, ppid, pgid) of every process that is not a zombie."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            yield int(entry), int(fields[1]), int(fields[2])


def children_of(pid):
    return [p for p, ppid, _pgid in live_processes() if ppid == pid]


def group_alive(pgid):
    return any(g == pgid for _p, _ppid, g in live_processes())


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def text(path):
    """A file's text; empty if there is no such file (yet)."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_for(seconds, predicate, step=0.02):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# A script that ends in every way a script can, and reports the state a
# call starts with; the tests compare each with a standalone run.
CALLEE = r'''
import json, os, random, signal, sys, time
import prefork_interp
prefork_interp.initialisation_complete(**OPTIONS)

def state():
    def stream(s):
        return {"encoding": s.encoding, "errors": s.errors,
                "line_buffering": s.line_buffering,
                "write_through": s.write_through, "isatty": s.isatty(),
                "name": s.name, "mode": s.mode,
                "buffer": type(s.buffer).__name__, "fileno": s.fileno(),
                "same_as_dunder": s is getattr(sys, "__%s__" % s.name.strip("<>"))}
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    sigs = {}
    for s in signal.valid_signals():
        if s in (signal.SIGKILL, signal.SIGSTOP):
            continue
        h = signal.getsignal(s)
        sigs[str(int(s))] = h if isinstance(h, (int, type(None))) else getattr(h, "__name__", "?")
    return {"argv": sys.argv, "environ": dict(os.environ),
            "orig_argv_tail": sys.orig_argv[-len(sys.argv):],
            "stdin": stream(sys.stdin), "stdout": stream(sys.stdout),
            "stderr": stream(sys.stderr),
            "fds": fds, "signals": sigs,
            "sigmask": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
            "cwd": os.getcwd(), "own_group": os.getpgrp() == os.getpid(),
            "random": random.random(), "ppid": os.getppid(),
            "name": __name__, "main_file": sys.modules["__main__"].__file__}

how = sys.argv[1] if len(sys.argv) > 1 else "end"
arg = sys.argv[2] if len(sys.argv) > 2 else "0"
if how == "exit":
    sys.exit(int(arg))
if how == "exitmsg":
    sys.exit("leaving with a message")
if how == "raise":
    raise ValueError("deliberate")
if how == "kbint":
    raise KeyboardInterrupt
if how == "kill":
    os.kill(os.getpid(), getattr(signal, "SIG" + arg))
    time.sleep(5)
    sys.exit(99)
if how == "exec":
    os.execvp("sh", ["sh", "-c", "echo from-exec; exit " + arg])
if how == "_exit":
    print("never flushed")
    os._exit(int(arg))
if how == "state":
    if os.environ.get("PFI_STATE_FILE"):
        with open(os.environ["PFI_STATE_FILE"], "w") as f:
            json.dump(state(), f)
    else:
        json.dump(state(), sys.stdout)
    sys.exit(0)
if how == "cat":
    data = sys.stdin.buffer.read()
    sys.stdout.buffer.write(data)
    sys.stderr.write("read %d\n" % len(data))
    sys.exit(0)
if how == "sleep":
    time.sleep(float(arg))
    sys.exit(0)
if how == "ppid":
    print(os.getppid())
    sys.exit(0)
print("fell off the end")
'''


def callee(env, name="callee.py", options="{}", interp=None):
    return env.script(name, CALLEE.replace("**OPTIONS", "**" + options),
                      interp=interp)
