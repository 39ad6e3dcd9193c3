"""prefork_interp: run a Python script as a prefork-interp server.

    #!/usr/bin/prefork-interp -U,python3
    import prefork_interp
    import heavy_modules                   # loaded once, by the server
    TABLE = load_table()                   # computed once
    prefork_interp.initialisation_complete()
    main()                                 # once per call

Run without prefork-interp (`python3 script`), initialisation_complete()
returns at once and the script runs standalone.  See python/README.md.
"""

import atexit
import errno
import gc
import os
import signal
import socket
import sys
import threading

# Everything a call needs is imported here, by the server, not in
# every call.
from . import (autoreload, call_locale, caller_state, callstate,
               environment, executor, linux,
               log as _log, openfiles, options as _options, protocol,
               server as _server, stdio, streams, wakeup)
from .pool import BecomeExecutor

__all__ = ["initialisation_complete", "autoreload_also_check"]
__version__ = "0.1.0"

# Taken at import, to tell what the script's initialisation changed.
_SIGNALS_AT_IMPORT = callstate.dispositions()
_ARGV_AT_IMPORT = list(sys.argv)
_also_check = []
# Taken out of the environment at once: processes that the script's
# initialisation starts (subprocess, multiprocessing's fork server or
# spawned children, which import __main__ again) must not try to use
# the server's fds, and the calls must not see it.
_STARTUP_VALUE = os.environ.pop(protocol.ENV_NAME, None)


# The fds PREFORK_INTERP names, while the initialisation runs.
_INIT_FDS = ()


def _hold_startup_fds(value):
    """Makes the fds PREFORK_INTERP names ours alone from the import on:
    close-on-exec, and closed in a process the initialisation forks
    (os.fork, multiprocessing).  Such a program or process must hold
    none of them, as it would hold nothing of ours in a standalone run:
    one that outlived a killed server would keep its socket listening,
    and every later call would wait on it.  A malformed value is left
    for initialisation_complete to report."""
    global _INIT_FDS
    try:
        startup = protocol.parse_startup(value)
    except protocol.MalformedStartup:
        return
    _INIT_FDS = (startup.listen, startup.call) + startup.watch_fds
    for fd in _INIT_FDS:
        try:
            os.set_inheritable(fd, False)
        except OSError:
            pass
    os.register_at_fork(after_in_child=_close_init_fds)


def _close_init_fds():
    """In a child the initialisation forked: nothing of the server's
    stays, and initialisation_complete returns at once, as standalone."""
    global _STARTUP_VALUE, _INIT_FDS
    for fd in _INIT_FDS:
        try:
            os.close(fd)
        except OSError:
            pass
    if _INIT_FDS:
        _STARTUP_VALUE, _INIT_FDS = None, ()


if _STARTUP_VALUE:
    _hold_startup_fds(_STARTUP_VALUE)
# The environment at import, to tell what the initialisation set
# (environment.py); under prefork-interp only, as what follows.
_ENVIRONMENT_AT_IMPORT = environment.snapshot() if _STARTUP_VALUE else None
# Under prefork-interp only (a standalone run needs none of it): the
# umask, niceness and limits at import, to tell what the script's
# initialisation set itself from what it inherited (caller_state.py).
_STATE_AT_IMPORT = caller_state.Snapshot() if _STARTUP_VALUE else None
# The interpreter's standard streams, which every call sets up again in
# place, and what the initialisation sets on them (streams.py).
_STREAMS_AT_IMPORT = streams.Originals() if _STARTUP_VALUE else None
# The locale categories at import: those the initialisation changes are
# its own (call_locale.py).
_LOCALE_AT_IMPORT = call_locale.categories() if _STARTUP_VALUE else None
# Registered first, so that it runs after the script's own handlers: the
# files the initialisation left open are flushed at a call's end
# (openfiles.py).
if _STARTUP_VALUE:
    atexit.register(openfiles.flush_at_exit)


def autoreload_also_check(*paths):
    """Adds files to the set whose change makes the server reload (call
    before initialisation_complete).  The paths need not exist yet."""
    _also_check.extend(os.fspath(p) for p in paths)


class _Context:
    """What an executor needs from the server's set-up."""


def initialisation_complete(**opts):
    """Ends the script's initialisation.

    Standalone (no PREFORK_INTERP in the environment): returns at once.
    Under prefork-interp: the setup process exits 0, its child becomes
    the server, and this function returns once in each call's process,
    never in the setup or the server."""
    global _STARTUP_VALUE, _INIT_FDS
    value, _STARTUP_VALUE = _STARTUP_VALUE, None
    if value is None:
        return
    _INIT_FDS = ()      # from here, forks are the server's own
    options = _options.check(opts)
    startup = _parse_startup_or_exit(value)
    _refuse_threads(options)

    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    log = _log.Log(options.logger, options.log_facility, f"{script}: ")
    context = _call_context(options, log)
    context.script = script
    callstate.disarm_timers(context.timers)
    files = autoreload.initial_files(script, options, _also_check)
    server = _server.Server(startup, _startup_fds(startup), options, log, files)
    context.offered_bits = server.offered_bits
    log.open(server.listen)
    _let_go_of_the_setup()
    context.open_files = openfiles.find()
    try:
        child = os.fork()
    except OSError as e:
        _decline_first_call(server, log, e)
        raise
    if child:
        os._exit(0)          # the client waits for the setup to exit 0
    _become_server(context.c_handlers)
    # ps shows every process's command line to every user: the server,
    # its spares and every call's process (until it execs) would show
    # the first caller's arguments (an --api-token=...) for the
    # server's life.  They show the interpreter and the script only.
    linux.set_cmdline([os.fsencode(a) for a in
                       sys.orig_argv[:len(sys.orig_argv) - len(_ARGV_AT_IMPORT) + 1]])
    call, ctl = _serve(server, log, context.c_handlers)
    executor.serve(call, ctl, context)


def _decline_first_call(server, log, error):
    """No process for the server (the user's process limit, no memory):
    as a running server declines a call it can make no process for, the
    setup declines its first call to our client, which runs the script
    itself, and ends.  Returns (to raise) for other errors and
    clients."""
    if error.errno not in (errno.EAGAIN, errno.ENOMEM) or server.declined is None:
        return
    log("warning", f"declined the first call: cannot fork the server: "
        f"{error.strerror}")
    try:
        server.first_call.send(server.declined, socket.MSG_NOSIGNAL)
    except OSError:
        pass
    os._exit(0)


def _call_context(options, log):
    """What each call needs from the initialisation (see executor.py)."""
    context = _Context()
    context.log = log
    context.options = options
    context.offered_bits = 0
    context.baseline = caller_state.Baseline(
        _STATE_AT_IMPORT or caller_state.Snapshot(), caller_state.Snapshot())
    at_init = callstate.dispositions()
    context.script_signals = callstate.script_handlers(
        _SIGNALS_AT_IMPORT, at_init)
    context.c_handlers = callstate.c_handlers(at_init)
    context.timers = callstate.armed_timers()
    context.interp_options = list(
        sys.orig_argv[1:max(1, len(sys.orig_argv) - len(_ARGV_AT_IMPORT))])
    context.u_flag = stdio.u_flag(context.interp_options)
    context.streams = _STREAMS_AT_IMPORT.initialisation_done() \
        if _STREAMS_AT_IMPORT else None
    context.environment = environment.Changes(_ENVIRONMENT_AT_IMPORT,
                                              environment.snapshot())
    context.locale = call_locale.Plan(_LOCALE_AT_IMPORT,
                                      call_locale.categories(),
                                      call_locale.from_environment())
    context.comm = linux.get_comm()
    return context


def _let_go_of_the_setup():
    """What the setup holds that must not outlive it."""
    # A fork server or resource tracker started by the initialisation
    # would hold the first caller's stderr for the server's lifetime
    # (collected garbage first: a finalised object tells a resource
    # tracker it is done with its resources).
    gc.collect()
    callstate.forget_multiprocessing_helpers()
    # Output buffered by the initialisation must come out once, here,
    # not at the end of every call that inherits the buffer: Python's,
    # and the C library's (an extension's printf).
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    linux.flush_c_stdio()


def _serve(server, log, c_handlers):
    """Runs the server; returns (call, control socket) in each child
    that is to become a call's process, never in the server."""
    # Objects of the initialisation leave the collector's generations:
    # a call's collections then neither traverse them nor write to their
    # pages, which the call shares copy-on-write with the server.
    gc.freeze()
    try:
        server.run(c_handlers)
    except BecomeExecutor as job:
        return job.call, job.ctl
    except BaseException as e:
        log("err", f"server failed: {e!r}; quitting")
    os._exit(1)


def _parse_startup_or_exit(value):
    try:
        startup = protocol.parse_startup(value)
        for fd in (startup.listen, startup.call) + startup.watch_fds:
            try:
                linux.access_mode(fd)
            except OSError:
                raise protocol.MalformedStartup(f"fd {fd} is not open") from None
    except protocol.MalformedStartup as e:
        sys.exit(f"prefork_interp: malformed {protocol.ENV_NAME} "
                 f"\"{value}\": {e} (run the script through prefork-interp, "
                 f"or unset {protocol.ENV_NAME})")
    return startup


def _startup_fds(startup):
    watchi, watche = protocol.order_watchers(startup.watch_fds,
                                             linux.access_mode)
    fds = {"listen": startup.listen, "call": startup.call,
           "watchi": watchi, "watche": watche}
    for fd in fds.values():
        os.set_inheritable(fd, False)
    return fds


def _refuse_threads(options):
    """Threads do not survive fork: a call would run without them, and a
    lock one of them held stays locked forever in every call."""
    try:
        tasks = len(os.listdir("/proc/self/task"))
    except OSError:
        tasks = threading.active_count()
    if tasks <= 1 or options.allow_threads:
        return
    names = [t.name for t in threading.enumerate()
             if t is not threading.main_thread()]
    sys.exit(f"prefork_interp: {tasks - 1} thread(s) running "
             f"({', '.join(names) or 'not started from Python'}) at "
             "initialisation_complete(): threads do not survive the fork "
             "into each call; start them after it (or pass "
             "allow_threads=True to go on without them)")


def _become_server(c_handlers):
    """The server is a session leader with its stdio on /dev/null; it
    reports through syslog (or the logger option) only.  c_handlers:
    signals whose handlers were installed from C (faulthandler's), left
    alone for the calls."""
    os.setsid()
    # The script's handlers are for its calls (callstate restores them);
    # the server runs with the interpreter's dispositions, SIGINT at its
    # default too: a child that the server interrupts (its client went
    # away) before it becomes the call must just end.  SIGPIPE and
    # SIGXFSZ stay ignored even where the initialisation made them
    # default (the usual signal(SIGPIPE, SIG_DFL)): a write of the
    # server's that fails (to a spare that died, a log past the first
    # caller's file size limit) must be an error, not its death.
    for signum, handler in callstate.dispositions().items():
        if handler is None or signum in c_handlers:
            continue
        wanted = signal.SIG_IGN if signum in callstate.PYTHON_IGNORES \
            else signal.SIG_DFL
        try:
            signal.signal(signum, wanted)
        except (OSError, ValueError):
            pass
    # Nor does it keep the first caller's signal mask: it relies on
    # SIGCHLD (a relaying call's stops and continues wake its poll; with
    # no pidfd, so does a child's end), and on TERM, INT and HUP making
    # it quit as they make any daemon quit; those three are held until
    # the server's handlers are in place (Server.run).  Each call gets
    # its own caller's mask (callstate.reset_signals), never the
    # server's.
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    wakeup.hold_quit_signals()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    linux.set_comm(b"pfi-server")
