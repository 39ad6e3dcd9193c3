"""The caller-state extension (docs/protocol.md, "caller-state"): a call
runs with its caller's umask, niceness, resource limits, ignored and
blocked signals, as `python3 script` started by that caller would.

decode() is pure: the block's bytes in, a checked CallerState or
ProtocolError naming what is wrong out (the same rules and messages as
the Perl module's Proc::Prefork::Interp::CallerState::decode).  The rest
acts on this process: Baseline remembers what the script's own
initialisation set (kept in every call, as a standalone run has it),
apply_limits() and call_dispositions() give an executor the caller's
state.  (callstate.py holds the rest of a call's state: the standalone
signal defaults, the random seed, multiprocessing's helpers.)
"""

import os
import re
import resource
import signal

from .protocol import ProtocolError

MAX_BLOCK = 8192                 # largest block length L
RLIM_INF = (1 << 64) - 1         # "inf" on the wire
# Indexed by the Linux RLIMIT_* number; the wire uses these names.
RLIMIT_NAMES = ("cpu", "fsize", "data", "stack", "core", "rss", "nproc",
                "nofile", "memlock", "as", "locks", "sigpending",
                "msgqueue", "nice", "rtprio", "rttime")
RLIMIT_NUMBER = {name: n for n, name in enumerate(RLIMIT_NAMES)}
KEYS = ("umask", "nice", "sigign", "sigblock") + tuple(
    "rlimit." + name for name in RLIMIT_NAMES)
# Neither can be ignored or blocked.
UNCATCHABLE = (signal.SIGKILL, signal.SIGSTOP)

_UMASK = re.compile(r"0[0-7]{3}\Z")
_NICE = re.compile(r"(?:0|-?[1-9][0-9]?)\Z")
_MASK = re.compile(r"[0-9a-f]{16}\Z")
_LIMIT = re.compile(r"(0|[1-9][0-9]{0,19}|inf):(0|[1-9][0-9]{0,19}|inf)\Z")


class CallerState:
    """A checked caller state: umask and nice (ints), rlimit (a list of
    (soft, hard) indexed by RLIMIT number, RLIM_INF for infinity),
    sigign and sigblock (sets of signal numbers)."""

    def __init__(self, umask, nice, rlimit, sigign, sigblock):
        self.umask = umask
        self.nice = nice
        self.rlimit = rlimit
        self.sigign = sigign
        self.sigblock = sigblock

    def __eq__(self, other):
        return isinstance(other, CallerState) and vars(self) == vars(other)

    def __repr__(self):
        return f"CallerState({vars(self)!r})"


# ---------------------------------------------------------------- decode

def _shown(text):
    """Peer bytes in a log line: printable, and not too long."""
    if len(text) > 43:
        text = text[:40] + "..."
    return "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in text)


def _limit(text):
    if text == "inf":
        return RLIM_INF
    value = int(text)
    return value if value < RLIM_INF else None


def _mask(text):
    if not _MASK.match(text):
        return None
    word = int(text, 16)
    sigs = {bit + 1 for bit in range(64) if word >> bit & 1}
    if sigs & set(UNCATCHABLE):
        return None
    return sigs


def _parse(key, value):
    """A value of key umask, nice, sigign or sigblock, or None if bad."""
    if key == "umask":
        return int(value, 8) if _UMASK.match(value) else None
    if key == "nice":
        return int(value) if _NICE.match(value) and \
            -20 <= int(value) <= 19 else None
    return _mask(value)


def decode(block):
    """Decodes the L bytes after the length.  Returns a CallerState;
    raises ProtocolError with one line naming the key or value."""
    if not block:
        raise ProtocolError("caller-state block is empty")
    if len(block) > MAX_BLOCK:
        raise ProtocolError(f"caller-state block exceeds {MAX_BLOCK} bytes")
    if not block.endswith(b"\0"):
        raise ProtocolError("caller-state block does not end with NUL")
    # latin-1 maps every byte to one character: nothing is refused
    # here that the checks below would not name.
    text = block[:-1].decode("latin-1")
    values = {}
    rlimit = [None] * len(RLIMIT_NAMES)
    for entry in text.split("\0"):
        key, eq, value = entry.partition("=")
        if not eq or not key:
            raise ProtocolError(f'caller-state entry "{_shown(entry)}" '
                                "is not key=value")
        if key in values or (key.startswith("rlimit.") and key[7:] in
                             RLIMIT_NUMBER and
                             rlimit[RLIMIT_NUMBER[key[7:]]] is not None):
            raise ProtocolError(f"caller-state key '{_shown(key)}' repeated")
        if key.startswith("rlimit.") and key[7:] in RLIMIT_NUMBER:
            m = _LIMIT.match(value)
            soft, hard = (_limit(m[1]), _limit(m[2])) if m else (None, None)
            if soft is None or hard is None or soft > hard:
                raise ProtocolError(f"caller-state {key} has a bad value "
                                    f"'{_shown(value)}' (SOFT:HARD, soft <= hard)")
            rlimit[RLIMIT_NUMBER[key[7:]]] = (soft, hard)
            continue
        if key not in ("umask", "nice", "sigign", "sigblock"):
            raise ProtocolError(f"caller-state key '{_shown(key)}' unknown")
        parsed = _parse(key, value)
        if parsed is None:
            raise ProtocolError(f"caller-state {key} has a bad value "
                                f"'{_shown(value)}'")
        values[key] = parsed
    for key in KEYS:
        if key.startswith("rlimit."):
            missing = rlimit[RLIMIT_NUMBER[key[7:]]] is None
        else:
            missing = key not in values
        if missing:
            raise ProtocolError(f"caller-state key '{key}' missing")
    return CallerState(values["umask"], values["nice"], rlimit,
                       values["sigign"], values["sigblock"])


def encode(state):
    """The block (without its length) for a CallerState, in the order
    our client sends it: for tests and test clients."""
    def limit(v):
        return "inf" if v == RLIM_INF else str(v)

    def mask(sigs):
        return f"{sum(1 << (s - 1) for s in sigs):016x}"

    entries = [f"umask={state.umask:04o}", f"nice={state.nice}"]
    entries += [f"rlimit.{name}={limit(state.rlimit[n][0])}:"
                f"{limit(state.rlimit[n][1])}"
                for n, name in enumerate(RLIMIT_NAMES)]
    entries += [f"sigign={mask(state.sigign)}",
                f"sigblock={mask(state.sigblock)}"]
    return "".join(e + "\0" for e in entries).encode("ascii")


# ---------------------------------------------------------------- this process

def _rlimit_from_python(value):
    # resource reports RLIM_INFINITY as -1 and large values as they are
    return RLIM_INF if value == resource.RLIM_INFINITY or value < 0 else value


def _rlimit_to_python(value):
    # resource takes a C long long: values of 2**63 and more as negative
    return resource.RLIM_INFINITY if value == RLIM_INF else \
        value - (1 << 64) if value >= 1 << 63 else value


def get_rlimits():
    limits = []
    for n in range(len(RLIMIT_NAMES)):
        try:
            soft, hard = resource.getrlimit(n)
        except (OSError, ValueError):
            limits.append(None)
            continue
        limits.append((_rlimit_from_python(soft), _rlimit_from_python(hard)))
    return limits


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Snapshot:
    """The umask, niceness and limits of this process now."""

    def __init__(self):
        self.umask = _umask()
        self.nice = os.getpriority(os.PRIO_PROCESS, 0)
        self.rlimit = get_rlimits()


class Baseline:
    """What the script's initialisation set itself, and so keeps in every
    call as a standalone run would: whatever differs between the state
    when prefork_interp was imported and at initialisation_complete().
    (Signal handlers are callstate.script_handlers' concern.)"""

    def __init__(self, at_import, at_init):
        self.init = at_init
        self.umask = at_init.umask != at_import.umask
        self.nice = at_init.nice != at_import.nice
        self.rlimit = {n for n in range(len(RLIMIT_NAMES))
                       if at_init.rlimit[n] != at_import.rlimit[n]}


def _show(value):
    return "inf" if value == RLIM_INF else str(value)


# Limits the server changed for itself: resource -> what it had before.
_server_had = {}


def raise_server_nofile():
    """In the server: its soft limit of open files goes up to the hard
    one.  A low soft limit (ulimit -Sn) suits the script, not a server
    holding a pidfd, a control socket and a call socket for every call.
    Every call's process puts the old value back first
    (restore_server_limits), so calls keep their caller's limit."""
    res = resource.RLIMIT_NOFILE
    try:
        soft, hard = resource.getrlimit(res)
        if soft == hard:
            return
        resource.setrlimit(res, (hard, hard))
    except (OSError, ValueError):
        return
    _server_had[res] = (soft, hard)


def restore_server_limits():
    """In a call's process, before its state is applied: what it has is
    again what the initialisation left (what apply_limits compares
    with)."""
    for res, limits in _server_had.items():
        try:
            resource.setrlimit(res, limits)
        except (OSError, ValueError):
            pass


def apply_limits(state, baseline):
    """Gives this process the caller's umask, niceness and limits, except
    what the script set itself.  Returns None, or one line saying what
    could not be applied (the call must then not run)."""
    init = baseline.init
    if not baseline.umask and state.umask != init.umask:
        os.umask(state.umask)
    if not baseline.nice and state.nice != init.nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, state.nice)
        except OSError as e:
            return (f"cannot run at the caller's niceness {state.nice}: this "
                    f"server runs at {init.nice} and may not raise its "
                    f"priority ({e.strerror}); start a server of its own from "
                    f"a caller at niceness {state.nice} (-f)")
    for n, name in enumerate(RLIMIT_NAMES):
        if n in baseline.rlimit or state.rlimit[n] == init.rlimit[n]:
            continue
        soft, hard = state.rlimit[n]
        try:
            resource.setrlimit(n, (_rlimit_to_python(soft),
                                   _rlimit_to_python(hard)))
            continue
        except (OSError, ValueError) as e:
            err = getattr(e, "strerror", None) or str(e)
        now = get_rlimits()[n]
        why = f"this server's hard limit is {_show(now[1])}" if now else err
        return (f"cannot apply the caller's limit rlimit.{name}="
                f"{_show(soft)}:{_show(hard)} ({why}); start a server of "
                "its own from this caller (-f)")
    return None


def call_dispositions(state, script_set, standalone_default):
    """Every catchable signal's disposition for a call of this caller:
    the script's own handlers; else what a fresh interpreter started by
    this caller has (it keeps the signals the caller ignores ignored,
    SIGINT included, and sets its own defaults for the rest)."""
    wanted = {}
    for signum in signal.valid_signals():
        if signum in UNCATCHABLE:
            continue
        if signum in script_set:
            wanted[signum] = script_set[signum]
        elif signum in state.sigign:
            wanted[signum] = signal.SIG_IGN
        else:
            wanted[signum] = standalone_default(signum)
    return wanted
