"""prefork_interp.logfile: the fallback for the server's messages when
no syslog daemon listens (as perl/t/31-logfile.t for the Perl module)."""

import os
import re
import socket
import stat

import pytest

from prefork_interp import log, logfile


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode()
    except FileNotFoundError:
        return None


def test_syslog_reachable(tmp_path):
    assert not logfile.syslog_reachable(str(tmp_path / "nothing"))
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(tmp_path / "stale"))
    stale.close()
    assert not logfile.syslog_reachable(str(tmp_path / "stale")), \
        "a socket nobody holds: not reachable"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as d, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        d.bind(str(tmp_path / "dgram"))
        assert logfile.syslog_reachable(str(tmp_path / "dgram"))
        s.bind(str(tmp_path / "stream"))
        s.listen()
        assert logfile.syslog_reachable(str(tmp_path / "stream"))
        assert logfile.dir_of_socket(s) == (str(tmp_path), None), \
            "the directory of a socket bound by its path"


def bound_via_parent_fd(parent_dir, child_dir):
    """Binds as our client does, through /proc/self/fd/N/NAME, in a
    child whose parent (this process, as the client for the setup)
    holds parent_dir at fd N.  Returns what the child found: the device
    and inode of the directory it would write to, and whether the log
    opened there; '(none)' if it refused."""
    pd = os.open(parent_dir, os.O_RDONLY | os.O_DIRECTORY)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            cd = os.open(child_dir, os.O_RDONLY | os.O_DIRECTORY)
            os.dup2(cd, pd)
            os.close(cd)
            s = socket.socket(socket.AF_UNIX)
            s.bind(f"/proc/self/fd/{pd}/sx")
            os.close(pd)
            found = logfile.dir_of_socket(s)
            if found is None:
                out = "(none)"
            else:
                st = os.stat(found[0])
                f = logfile.LogFile.open(*found)
                out = f"{st.st_dev}:{st.st_ino} " + ("opened" if f else "not opened")
                if f:
                    f.close()
            os.write(w, out.encode())
            os.unlink(os.path.join(child_dir, "sx"))
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        got = f.read().decode()
    os.waitpid(pid, 0)
    os.close(pd)        # only now: the child opens it as its parent's
    return got


def test_dir_of_socket_through_the_parents_fd(tmp_path):
    via, other = tmp_path / "via", tmp_path / "other"
    via.mkdir()
    other.mkdir()
    st = os.stat(via)
    assert bound_via_parent_fd(str(via), str(via)) == \
        f"{st.st_dev}:{st.st_ino} opened", "the log opens in the parent's fd N"
    assert (via / "messages").is_file(), "the file is in that directory"
    assert bound_via_parent_fd(str(other), str(via)) == "(none)", \
        "refused when the socket is not in the parent's fd N"


def test_lines_mode_and_escaping(tmp_path):
    f = logfile.LogFile.open(str(tmp_path))
    assert f is not None
    assert f.path == str(tmp_path / "messages")
    f.write("err", "/srv/x.py: first\n")
    f.write("info", "/srv/x.py: two\nlines")
    f.close()
    text = read(tmp_path / "messages")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ prefork-interp\[%d\] "
                    r"err: /srv/x\.py: first\n" % os.getpid(), text), text
    assert text.endswith("info: /srv/x.py: two\\nlines\n"), text
    assert stat.S_IMODE(os.stat(tmp_path / "messages").st_mode) == 0o600


def test_rotated_past_max_bytes(tmp_path):
    f = logfile.LogFile.open(str(tmp_path), max_bytes=200)
    for _ in range(3):
        f.write("info", "x" * 150)
    f.close()
    assert os.path.getsize(tmp_path / "messages.old") > 0
    assert os.path.getsize(tmp_path / "messages") < 400


def test_symlink_refused(tmp_path):
    target, other = tmp_path / "target", tmp_path / "other"
    other.mkdir()
    os.symlink(target, other / "messages")
    assert logfile.LogFile.open(str(other)) is None
    assert not os.path.lexists(target), "nothing created at its target"


def test_nothing_written_after_close(tmp_path):
    f = logfile.LogFile.open(str(tmp_path))
    f.write("err", "before close")
    f.close()
    f.write("err", "after close")
    text = read(tmp_path / "messages")
    assert "before close" in text and "after close" not in text


def test_open_fails_quietly(tmp_path):
    assert logfile.LogFile.open(str(tmp_path / "missing")) is None


@pytest.fixture
def no_syslog(monkeypatch):
    monkeypatch.setattr(logfile, "syslog_reachable", lambda path=None: False)


def listening(tmp_path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "s1"))
    s.listen()
    return s


def test_log_without_syslog_writes_the_file(tmp_path, no_syslog):
    with listening(tmp_path) as s:
        lg = log.Log(None, log.facility_value("user"), "/srv/x.py: ")
        lg.open(s)
        lg("warning", "hello")
        lg.forked()
        lg("err", "after a fork")
        lg.close()
        lg("err", "after close")
    text = read(tmp_path / "messages")
    assert "warning: /srv/x.py: hello\n" in text
    assert "err: /srv/x.py: after a fork\n" in text, \
        "the file stays open in a forked child until close"
    assert "after close" not in text


def test_logger_wins_and_empty_facility_is_off(tmp_path, no_syslog):
    got = []
    with listening(tmp_path) as s:
        lg = log.Log(lambda p, m: got.append((p, m)), log.facility_value("user"))
        lg.open(s)
        lg("info", "to the logger")
        off = log.Log(None, log.facility_value(""))
        off.open(s)
        off("info", "nowhere")
    assert got == [("info", "to the logger")]
    assert read(tmp_path / "messages") is None, "no file with a logger or logging off"
