"""The server's wakeup pipe (wakeup.py): which signals a read reports,
and that neither the pipe nor the server's handlers reach a forked
child."""

import os
import signal

import pytest

from prefork_interp import wakeup


def test_signals_in_keeps_order_and_drops_repeats():
    data = bytes([signal.SIGCHLD, signal.SIGTERM, signal.SIGCHLD,
                  signal.SIGHUP, 0])
    assert wakeup.signals_in(data) == [signal.SIGCHLD, signal.SIGTERM,
                                       signal.SIGHUP]
    assert wakeup.signals_in(b"") == []


def test_quit_signal_is_the_first_of_term_int_hup():
    assert wakeup.quit_signal([signal.SIGCHLD]) is None
    assert wakeup.quit_signal([]) is None
    assert wakeup.quit_signal([signal.SIGCHLD, signal.SIGINT,
                               signal.SIGTERM]) == signal.SIGINT
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        assert wakeup.quit_signal([signum]) == signum


@pytest.fixture
def pipe():
    """A Wakeup in this process; everything it changed is put back."""
    saved = {s: signal.getsignal(s) for s in wakeup.HELD_ACROSS_FORK}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    w = wakeup.Wakeup()
    yield w
    signal.set_wakeup_fd(-1)
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for fd in (w.read_end, w.write_end):
        try:
            os.close(fd)
        except OSError:
            pass


def test_a_signal_is_in_the_pipe_before_any_handler_runs(pipe):
    # Blocked, then let through: the kernel delivers it on unblocking,
    # and the C handler writes its byte at once.
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGHUP])
    os.kill(os.getpid(), signal.SIGHUP)
    assert pipe.read() == []
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGHUP])
    assert os.read(pipe.read_end, 16) == bytes([signal.SIGHUP])
    # The byte already read, the handler's note still says it.
    assert pipe.read() == [signal.SIGHUP]
    assert pipe.read() == []


def test_sigchld_wakes_only_once_asked(pipe):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert signal.SIGCHLD not in pipe.read()
    pipe.watch_chld()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert pipe.read() == [signal.SIGCHLD]


def test_a_forked_child_has_neither_pipe_nor_handlers(pipe):
    """As a spare: SIGTERM kills it (SIG_DFL) and writes nothing to the
    server's pipe; the child's wakeup fd is gone."""
    mask = pipe.hold()
    pid = os.fork()
    if pid == 0:
        try:
            pipe.release_in_child(mask)
            ok = (signal.set_wakeup_fd(-1) == -1
                  and all(signal.getsignal(s) == signal.SIG_DFL
                          for s in wakeup.QUIT_SIGNALS))
            if ok:
                os.kill(os.getpid(), signal.SIGTERM)
        finally:
            os._exit(3)
    pipe.release_in_parent(mask)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert signal.SIGTERM not in pipe.read()


def test_c_handlers_are_left_alone(pipe):
    signal.set_wakeup_fd(-1)
    os.close(pipe.read_end)
    os.close(pipe.write_end)
    before = signal.getsignal(signal.SIGHUP)
    w = wakeup.Wakeup(keep={signal.SIGHUP})
    pipe.read_end, pipe.write_end = w.read_end, w.write_end
    assert w.taken == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGHUP) is before
