"""caller_state on its own: the block decoder (good and bad bytes, the
same cases as tests/unit/test_protocol.c and the Perl module's
perl/t/13-callerstate-unit.t) and applying a state in a forked child;
peercreds' group comparison; the signals extension's codec."""

import os
import resource
import signal

import pytest

from prefork_interp import caller_state as cs
from prefork_interp import callstate, peercreds, protocol as p

NAMES = cs.RLIMIT_NAMES


def sample_entries():
    entries = ["umask=0022", "nice=-5"]
    for n, name in enumerate(NAMES):
        soft = "inf" if n == 4 else str(n * 1000)
        hard = "4096" if n == 7 else "inf"
        if name == "nofile":
            soft = "64"
        entries.append(f"rlimit.{name}={soft}:{hard}")
    return entries + ["sigign=8000000000000001", "sigblock=0000000000000200"]


def block(entries):
    return "".join(e + "\0" for e in entries).encode("utf-8")


SAMPLE = block(sample_entries())


def test_every_linux_limit_has_a_name():
    assert len(NAMES) == 16
    assert resource.getrlimit(15) and resource.RLIMIT_RTTIME == 15
    # each name at its kernel number (the wire names the limits, the
    # module applies them by number); resource has no RLIMIT_LOCKS
    for n, name in enumerate(NAMES):
        number = getattr(resource, "RLIMIT_" + name.upper(), None)
        if name == "locks":
            assert n == 10
        else:
            assert number == n, (name, n, number)


def test_sample_decodes_and_encodes_back():
    st = cs.decode(SAMPLE)
    assert st.umask == 0o022
    assert st.nice == -5
    assert st.rlimit[7] == (64, 4096)
    assert st.rlimit[4] == (cs.RLIM_INF, cs.RLIM_INF)
    assert st.rlimit[1] == (1000, cs.RLIM_INF)
    assert st.sigign == {1, 64}
    assert st.sigblock == {10}
    assert cs.encode(st) == SAMPLE


def edited(key, entry):
    """The sample with key's entry replaced (entry None: left out; key
    None: entry added)."""
    entries = sample_entries()
    if key is None:
        return block(entries + [entry])
    out = [e for e in entries if not e.startswith(key + "=")]
    if entry is not None:
        out.insert([i for i, e in enumerate(entries)
                    if e.startswith(key + "=")][0], entry)
    return block(out)


CASES = [
    ("umask", "umask=0000", True), ("umask", "umask=0777", True),
    ("umask", "umask=022", False), ("umask", "umask=0800", False),
    ("umask", "umask=1022", False), ("umask", "umask=00022", False),
    ("umask", "umask=", False),
    ("nice", "nice=0", True), ("nice", "nice=19", True),
    ("nice", "nice=-20", True), ("nice", "nice=20", False),
    ("nice", "nice=-21", False), ("nice", "nice=+1", False),
    ("nice", "nice=-0", False), ("nice", "nice=05", False),
    ("nice", "nice=1 ", False), ("nice", "nice=1\n", False),
    ("rlimit.cpu", "rlimit.cpu=0:0", True),
    ("rlimit.cpu", "rlimit.cpu=inf:inf", True),
    ("rlimit.cpu", "rlimit.cpu=18446744073709551614:inf", True),
    ("rlimit.cpu", "rlimit.cpu=18446744073709551615:inf", False),
    ("rlimit.cpu", "rlimit.cpu=18446744073709551616:inf", False),
    ("rlimit.cpu", "rlimit.cpu=99999999999999999999:inf", False),
    ("rlimit.cpu", "rlimit.cpu=inf:5", False),
    ("rlimit.cpu", "rlimit.cpu=6:5", False),
    ("rlimit.cpu", "rlimit.cpu=01:5", False),
    ("rlimit.cpu", "rlimit.cpu=1:", False),
    ("rlimit.cpu", "rlimit.cpu=:1", False),
    ("rlimit.cpu", "rlimit.cpu=1", False),
    ("rlimit.cpu", "rlimit.cpu=1:2:3", False),
    ("rlimit.cpu", "rlimit.cpu=-1:2", False),
    ("rlimit.cpu", "rlimit.cpu=INF:inf", False),
    ("rlimit.cpu", "rlimit.cpu=\u0661:2", False),     # a non-ASCII digit
    ("sigign", "sigign=0000000000000000", True),
    ("sigign", "sigign=fffffffffffbfeff", True),
    ("sigign", "sigign=0000000000000100", False),        # SIGKILL
    ("sigblock", "sigblock=0000000000040000", False),    # SIGSTOP
    ("sigign", "sigign=000000000000000", False),
    ("sigign", "sigign=00000000000000000", False),
    ("sigign", "sigign=000000000000000A", False),
    ("sigign", "sigign=000000000000000g", False),
    ("umask", None, False), ("rlimit.rttime", None, False),
    ("sigblock", None, False),
    (None, "umask=0022", False), (None, "rlimit.cpu=1:2", False),
    (None, "rlimit.bogus=1:2", False), (None, "future=1", False),
    (None, "noequals", False), (None, "", False), (None, "=1", False),
    ("umask", "UMASK=0022", False),
]


@pytest.mark.parametrize("key,entry,good", CASES)
def test_decode_case(key, entry, good):
    data = edited(key, entry)
    if good:
        assert isinstance(cs.decode(data), cs.CallerState)
        return
    with pytest.raises(p.ProtocolError) as e:
        cs.decode(data)
    assert str(e.value).startswith("caller-state ")
    assert "\n" not in str(e.value)


def test_decode_block_bounds():
    for bad, why in ((b"", "empty"), (SAMPLE[:-1], "does not end with NUL"),
                     (SAMPLE + b"x" * 8192 + b"\0", "exceeds 8192")):
        with pytest.raises(p.ProtocolError, match=why):
            cs.decode(bad)


def test_peer_bytes_shown_escaped():
    with pytest.raises(p.ProtocolError, match=r"'ev\\x01l' unknown"):
        cs.decode(edited(None, "ev\x01l=1"))


# ---------------------------------------------------------------- apply

def in_child(code):
    """Runs code() in a forked child; returns what it returned (text)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = code()
        except BaseException as e:
            out = f"raised {e!r}"
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out


def status_field(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    return None


def current():
    mask = os.umask(0)
    os.umask(mask)
    limits = " ".join(f"{s}:{h}" for s, h in cs.get_rlimits())
    return (f"{mask:04o} {os.getpriority(os.PRIO_PROCESS, 0)} {limits} "
            f"{status_field('SigIgn')} {status_field('SigBlk')}")


def test_apply_everything_in_a_child():
    limits = cs.get_rlimits()
    limits[7] = (100, 200)
    limits[4] = (0, 0)
    want = cs.CallerState(0o027, os.getpriority(os.PRIO_PROCESS, 0) + 3,
                          limits, {1, 12, 40}, {10, 15, 50})
    here = cs.Snapshot()
    baseline = cs.Baseline(here, here)

    def child():
        signal.signal(signal.SIGUSR2, lambda *a: None)   # cannot cross
        why = cs.apply_limits(want, baseline)
        if why:
            return why
        callstate.reset_signals({}, want)
        return current()

    ignored = {1, 12, 40, signal.SIGPIPE, signal.SIGXFSZ}   # + Python's own
    expect = " ".join(
        [f"{0o027:04o}", str(want.nice)]
        + [f"{s}:{h}" for s, h in limits]
        + [f"{sum(1 << (s - 1) for s in ignored):016x}",
           f"{sum(1 << (s - 1) for s in (10, 15, 50)):016x}"])
    assert in_child(child) == expect


def test_apply_keeps_what_the_script_set():
    at_import = cs.Snapshot()

    def child():
        os.umask(0o077)          # the script's initialisation sets these
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        at_init = cs.Snapshot()
        baseline = cs.Baseline(at_import, at_init)
        caller = cs.decode(cs.encode(cs.CallerState(
            0o022, at_init.nice, at_import.rlimit, set(), set())))
        why = cs.apply_limits(caller, baseline)
        mask = os.umask(0)
        return f"{why} {mask:04o} {resource.getrlimit(resource.RLIMIT_CORE)}"

    assert in_child(child) == "None 0077 (0, 0)"


def test_apply_refuses_a_hard_limit_above_its_own():
    here = cs.Snapshot()
    nofile = here.rlimit[7]
    if nofile[1] == cs.RLIM_INF or os.geteuid() == 0:
        pytest.skip("needs a finite hard limit on open files and no "
                    "privilege to raise it (running as root here)")
    limits = list(here.rlimit)
    limits[7] = (nofile[1] + 1, nofile[1] + 1)
    state = cs.CallerState(here.umask, here.nice, limits, set(), set())
    why = in_child(lambda: str(cs.apply_limits(state, cs.Baseline(here, here))))
    assert why.startswith("cannot apply the caller's limit rlimit.nofile=")
    assert f"this server's hard limit is {nofile[1]}" in why


def test_apply_refuses_a_hard_limit_above_its_own_as_root():
    """The same as root: a child that lowered its hard limit first."""
    here = cs.Snapshot()
    if os.geteuid() != 0:
        pytest.skip("covered by the test above when not root")

    def child():
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        resource.setrlimit(resource.RLIMIT_NOFILE, (50, 60))
        mine = cs.Snapshot()
        limits = list(mine.rlimit)
        limits[7] = (70, 70)
        state = cs.CallerState(mine.umask, mine.nice, limits, set(), set())
        return str(cs.apply_limits(state, cs.Baseline(mine, mine)))

    why = in_child(child)
    assert why == ("cannot apply the caller's limit rlimit.nofile=70:70 "
                   "(this server's hard limit is 60); start a server of its "
                   "own from this caller (-f)")


# ---------------------------------------------------------------- peercreds

def test_group_list():
    assert peercreds.group_list(100, [5, 100, 3, 5]) == "3,5"
    assert peercreds.group_list(100, [100]) == ""
    assert peercreds.group_list(100, []) == ""


def test_own_socket_pair_does_not_differ():
    import socket
    a, b = socket.socketpair()
    with a, b:
        assert peercreds.differ(a) is None
        assert peercreds.peer_groups(a) == sorted(os.getgroups())


def test_privileges_read_from_status():
    status = ("Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
              "CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n"
              "CapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\n")
    got = peercreds._privileges(status)
    assert got["CapPrm"] == "000001ffffffffff" and got["NoNewPrivs"] == "0"
    assert peercreds._privileges("CapPrm:\t0\n") is None


def _verdict_on(drop):
    """The server's verdict on a child that connects after drop()."""
    import socket
    import tempfile
    with tempfile.TemporaryDirectory() as d, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(f"{d}/s")
        listener.listen(1)
        pid = os.fork()
        if pid == 0:
            try:
                drop()
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(f"{d}/s")
                c.recv(1)       # held until the parent has looked
            finally:
                os._exit(0)
        call, _ = listener.accept()
        with call:
            why = peercreds.less_privileged(call, pid)
        os.waitpid(pid, 0)
        return why


def test_as_privileged_a_caller_is_accepted():
    assert _verdict_on(lambda: None) is None


def test_a_no_new_privs_caller_is_named():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def drop():
        if libc.prctl(38, 1, 0, 0, 0) != 0:     # PR_SET_NO_NEW_PRIVS
            os._exit(4)
    assert (_verdict_on(drop)
            == "runs with no-new-privs (this server does not)")


def test_a_caller_without_the_bounding_set_is_named():
    import ctypes
    import re
    with open("/proc/self/status") as f:
        bnd = re.search(r"^CapBnd:\s*(\S+)", f.read(), re.M).group(1)
    if os.geteuid() != 0 or set(bnd) == {"0"}:
        pytest.skip("needs root with a bounding set to drop from it")
    libc = ctypes.CDLL(None, use_errno=True)

    def drop():
        for cap in range(64):
            libc.prctl(24, cap, 0, 0, 0)        # PR_CAPBSET_DROP
    assert _verdict_on(drop) == (f"lacks capabilities this server has "
                                 f"(bounding {'0' * 16}, this server has {bnd})")


# ---------------------------------------------------------------- signals codec

def test_signal_bytes():
    assert p.decode_signals(b"\x01\x0f\x40") == [1, 15, 64]
    assert p.decode_signals(b"") == []
    for bad in (b"\x00", b"\x0f\x41", b"\xff"):
        with pytest.raises(p.ProtocolError, match="not a signal number"):
            p.decode_signals(bad)


def test_change_words():
    assert p.change_word(0xFFFF) == b"\0\0\xff\xff"
    assert p.change_word(signal.SIGTSTP << 8 | 0x7F) == b"\0\0\x14\x7f"
    assert p.change_word(signal.SIGSTOP << 8 | 0x7F) == b"\0\0\x13\x7f"
    for ending in (0, 3 << 8, signal.SIGTERM, signal.SIGKILL | 0x80):
        assert p.change_word(ending) is None
