"""The process state a call starts with, apart from its stdio, argv and
environment (executor.py): signal dispositions and mask, faulthandler
as the caller's environment asks, the interval timers the
initialisation armed, the random number generator, multiprocessing's
helper processes.

Signals: a standalone `python3 script` starts with SIGINT raising
KeyboardInterrupt, SIGPIPE and SIGXFSZ ignored, every other signal at
its default, plus whatever the script's initialisation installed.  The
server changes dispositions for itself, and the first caller's ignored
signals were inherited by the setup; so each call gets exactly that
standalone set: the handlers the script installed during its
initialisation (told apart by comparing with the dispositions found
when prefork_interp was imported), the interpreter's defaults for the
rest, and an empty signal mask; or, when the client sends the caller's
state (caller_state.py), the caller's ignored signals ignored as a
fresh interpreter would keep them, and the caller's signal mask.

Handlers installed from C are left alone, in the server and in every
call: faulthandler's (faulthandler.enable() in the initialisation,
-X faulthandler, PYTHONFAULTHANDLER), faulthandler.register()'s, an
extension module's.  Python's table does not know them (it says SIG_DFL,
or None), so they are read from the kernel (c_handlers()) when the
initialisation ends; a standalone run has them too.
"""

import faulthandler
import os
import random
import signal
import sys

from . import caller_state

UNCATCHABLE = (signal.SIGKILL, signal.SIGSTOP)
PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)


def catchable_signals():
    return [s for s in signal.valid_signals() if s not in UNCATCHABLE]


def dispositions():
    """{signal: disposition} for every catchable signal; None where the
    handler was not installed from Python."""
    found = {}
    for signum in catchable_signals():
        try:
            found[signum] = signal.getsignal(signum)
        except (OSError, ValueError):
            pass
    return found


def caught_by_kernel(path="/proc/self/status"):
    """The signals this process catches (SigCgt), or None if unknown."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"SigCgt:"):
                    mask = int(line.split()[1], 16)
                    return {n for n in range(1, 65) if mask >> (n - 1) & 1}
    except (OSError, ValueError, IndexError):
        pass
    return None


def c_handlers(found=None, caught=None):
    """The signals whose handler was installed from C: caught according
    to the kernel, while Python's table says SIG_DFL, SIG_IGN or None
    (a handler installed with signal.signal is a Python callable)."""
    found = dispositions() if found is None else found
    caught = caught_by_kernel() if caught is None else caught
    return frozenset(s for s, h in found.items()
                     if s in (caught or ()) and not callable(h))


def standalone_default(signum):
    if signum == signal.SIGINT:
        return signal.default_int_handler
    if signum in PYTHON_IGNORES:
        return signal.SIG_IGN
    return signal.SIG_DFL


def script_handlers(at_import, at_init):
    """The dispositions the script set between importing prefork_interp
    and initialisation_complete()."""
    return {s: h for s, h in at_init.items()
            if h is not None and at_import.get(s) is not h}


def call_dispositions(script_set):
    """Every catchable signal's disposition for a call."""
    wanted = {s: standalone_default(s) for s in catchable_signals()}
    wanted.update(script_set)
    return wanted


def reset_signals(script_set, caller=None, keep=()):
    """Sets every disposition and then the mask for a call: the
    standalone set above with an empty mask, or, with the caller's
    state (caller_state.CallerState), the caller's ignored signals kept
    ignored and its blocked mask.  The signals in keep (c_handlers())
    keep their handlers.  The mask comes last: signals held
    back while the call was set up (the signals extension) arrive only
    once the call's own dispositions are in place."""
    if caller is None:
        wanted, mask = call_dispositions(script_set), ()
    else:
        wanted = caller_state.call_dispositions(caller, script_set,
                                                standalone_default)
        valid = signal.valid_signals()
        mask = [s for s in caller.sigblock if s in valid]
    for signum, handler in wanted.items():
        if signum in keep:
            continue
        try:
            signal.signal(signum, handler)
        except (OSError, ValueError):
            pass    # real-time signals glibc keeps for itself
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)


def armed_timers():
    """{timer: (remaining, interval)} of the interval timers armed now
    (signal.alarm, signal.setitimer).  Read when the initialisation
    ends: a fork does not inherit them, and a standalone run's per-call
    code is interrupted by those its initialisation armed."""
    armed = {}
    for which in TIMERS:
        value, interval = signal.getitimer(which)
        if value or interval:
            armed[which] = (value, interval)
    return armed


def disarm_timers(armed):
    """In the setup, once read: the alarms are the calls'; one firing
    in the setup would kill it (SIGALRM's default) instead of its
    exit 0 that the first caller waits for."""
    for which in armed:
        signal.setitimer(which, 0)


def rearm_timers(armed):
    """In a call: the timers as its per-call code finds them standalone,
    with the time they had left when the initialisation ended."""
    for which, (value, interval) in armed.items():
        signal.setitimer(which, value, interval)


def hold_signals():
    """Blocks every signal but KILL and STOP (the signals extension):
    from the executor's report that its request is in, the server relays
    the caller's signals to the call's process group, and none may
    reach a handler while the call is still being set up; reset_signals
    lets them through."""
    signal.pthread_sigmask(signal.SIG_BLOCK,
                           set(signal.valid_signals()) - set(UNCATCHABLE))


def faulthandler_wanted(environ, ignore_environment):
    """Whether the caller's environment asks for faulthandler
    (PYTHONFAULTHANDLER, read as the interpreter's start-up reads it:
    before the initialisation's changes, unless -E or -I)."""
    return not ignore_environment and bool(environ.get("PYTHONFAULTHANDLER"))


def enable_faulthandler(wanted):
    """PYTHONFAULTHANDLER is read when the interpreter starts, from the
    first caller's environment: a call whose caller sets it (and whose
    server has no faulthandler) enables it, on fd 2 for every thread,
    as its standalone start-up would.  Once the dispositions are set
    (reset_signals would reset its handlers)."""
    if not wanted or faulthandler.is_enabled():
        return
    try:
        faulthandler.enable(file=2, all_threads=True)
    except (OSError, RuntimeError, ValueError):
        pass


def reseed():
    """random's global generator from os.urandom.  (random also reseeds
    itself at fork; the hash seed cannot change: see README.)"""
    random.seed()


def forget_multiprocessing_helpers():
    """A resource tracker or fork server started during initialisation
    is let go (closing our end makes it exit) before the server forks:
    it would hold the first caller's stderr open for as long as the
    server lives.  A call that needs one starts its own, in its own
    process group, as a standalone run would.  Called again in each
    call: the server's children are not the call's."""
    mp = sys.modules.get("multiprocessing.process")
    if mp is not None and isinstance(getattr(mp, "_children", None), set):
        mp._children = set()
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    inst = getattr(tracker, "_resource_tracker", None)
    if inst is not None and getattr(inst, "_fd", None) is not None:
        _close_quietly(inst._fd)
        inst._fd = None
        inst._pid = None
    forkserver = sys.modules.get("multiprocessing.forkserver")
    inst = getattr(forkserver, "_forkserver", None)
    if inst is not None and getattr(inst, "_forkserver_alive_fd", None) is not None:
        _close_quietly(inst._forkserver_alive_fd)
        inst._forkserver_alive_fd = None
        inst._forkserver_address = None
        inst._forkserver_pid = None


def _close_quietly(fd):
    try:
        os.close(fd)
    except OSError:
        pass
