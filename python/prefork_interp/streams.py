"""The standard stream objects of a call: the interpreter's own
sys.stdin, sys.stdout and sys.stderr (their text layer, buffer and,
where it can be, raw file), set up again in place for the caller's fds
and environment.

In place, not new objects: a standalone run has one sys.stdout, and
every reference its initialisation kept (a logging handler made with
stream=sys.stdout, OUT = sys.stdout, sys.stdout.buffer) is that object,
writing through one buffer in the order written.  New objects beside
the kept ones would buffer separately and reorder (or, at exit, lose)
the output.

What the initialisation set on the streams stays, as it would in
every standalone run: a setting reconfigure() was asked for (even one
equal to what the first caller had: reconfigure(encoding="utf-8") is
the script's choice, not the locale's), a setting that differs from
what the stream had when prefork_interp was imported, and a stream of
its own put in sys.stdout (left there; the interpreter's object under
it, sys.__stdout__, is set up again).  The rest is what a fresh
interpreter chooses for the call (stdio.settings()).
"""

import io
import os
import stat
import sys

from . import stdio

NAMES = ("stdin", "stdout", "stderr")
SETTINGS = ("encoding", "errors", "line_buffering", "write_through")


class Original:
    """One of the interpreter's streams, found when prefork_interp was
    imported, and what the initialisation set on it."""

    def __init__(self, fd, text):
        self.fd = fd
        self.text = text
        self.buffer = text.buffer
        self.raw = getattr(self.buffer, "raw", self.buffer)     # at import
        self.at_import = _settings_of(text)
        self.asked = set()          # settings reconfigure() was asked for
        self.newline = "\n"         # as create_stdio() gives (POSIX)
        self.script_set = {}        # filled in by initialisation_done()
        self.detached = False

    def record_reconfigure(self):
        """Until initialisation_done(): text.reconfigure(...) also notes
        which settings it was asked for (an instance attribute, found
        before the type's method)."""
        text, real = self.text, type(self.text).reconfigure

        def reconfigure(**kwargs):
            real(text, **kwargs)
            asked = {k for k, v in kwargs.items() if v is not None}
            if "encoding" in asked:
                asked.add("errors")     # reconfigure() reset them too
            if "newline" in kwargs:
                self.newline = kwargs["newline"]
            self.asked |= asked & set(SETTINGS)

        text.reconfigure = reconfigure

    def initialisation_done(self):
        vars(self.text).pop("reconfigure", None)
        try:
            now = _settings_of(self.text)
        except ValueError:          # detached by the initialisation
            self.detached = True
            return
        self.script_set = {k: v for k, v in now.items()
                           if k in self.asked or v != self.at_import[k]}


def _settings_of(text):
    return {k: getattr(text, k) for k in SETTINGS}


def _interpreters(fd, text):
    """Whether text is a stream as the interpreter makes them: a
    TextIOWrapper over a (buffered) FileIO of fd that it does not
    close."""
    if type(text) is not io.TextIOWrapper:
        return False
    try:
        buffer = text.buffer
    except ValueError:
        return False
    raw = getattr(buffer, "raw", buffer)
    return (type(raw) is io.FileIO and not raw.closed
            and raw.fileno() == fd and not raw.closefd)


class Originals:
    """The three streams at import (None where the interpreter's stream
    is not there or not its own: such a stream is made anew for each
    call, as before the initialisation)."""

    def __init__(self):
        self.streams = []
        for fd, name in enumerate(NAMES):
            text = getattr(sys, f"__{name}__", None)
            if _interpreters(fd, text):
                original = Original(fd, text)
                original.record_reconfigure()
            else:
                original = None
            self.streams.append(original)

    def initialisation_done(self):
        for original in self.streams:
            if original is not None:
                original.initialisation_done()
        return self


def renew(originals, settings):
    """In a call's process, once fds 0-2 are the caller's: every stream
    set up again for them with settings (stdio.Settings).  Then lets go
    of the objects: only the script's references may keep one alive, so
    that a buffer no stream uses any more (the server's, in a call with
    PYTHONUNBUFFERED) is flushed when the script's references go, at
    exit as standalone, and not kept from it by objects the collector
    never frees (frozen by the server, __init__.py)."""
    for fd, name in enumerate(NAMES):
        original = originals.streams[fd] if originals else None
        if original is None:
            _replace(fd, name, settings)
        else:
            _renew(original, name, settings)
    if originals:
        originals.streams = [None] * len(NAMES)


def _replace(fd, name, s):
    """No interpreter's stream to renew: a new one, in sys.__std*__ and
    in sys.std* unless the initialisation put a stream of its own
    there."""
    old = getattr(sys, f"__{name}__", None)
    errors = "backslashreplace" if fd == 2 else s.errors
    new = stdio.new_stream(fd, fd != 0, f"<{name}>", s.encoding, errors,
                           s.unbuffered)
    setattr(sys, f"__{name}__", new)
    if getattr(sys, name, None) is old:
        setattr(sys, name, new)


def _raw(fd, name):
    raw = io.FileIO(fd, "wb" if fd else "rb", closefd=False)
    raw.name = f"<{name}>"
    return raw


def _seekable(fd):
    try:
        os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        return False
    return True


def _reusable(raw, fd):
    """Whether the server's raw file can be the call's: a FileIO keeps
    what it found out about its fd (seekable or not) for good, even
    through FileIO.__init__ again, and the first caller's fd 1 may have
    been a file where this caller's is a pipe.  A directory never is:
    a new FileIO refuses it, as a fresh interpreter does."""
    return (not raw.closed and not stat.S_ISDIR(os.fstat(fd).st_mode)
            and raw.seekable() == _seekable(fd))


def _block_size(fd):
    # io.open()'s choice for buffering=-1: the file's block size.
    size = os.fstat(fd).st_blksize
    return size if size > 1 else io.DEFAULT_BUFFER_SIZE


def _renew(o, name, s):
    write = o.fd != 0
    raw = o.raw if _reusable(o.raw, o.fd) else _raw(o.fd, name)
    size = _block_size(o.fd)
    kind = io.BufferedWriter if write else io.BufferedReader
    server_buffered = o.buffer is not o.raw
    if s.unbuffered and write:
        buffer = raw                    # -u, PYTHONUNBUFFERED
        if server_buffered:
            # Kept by the script only: on a raw file of its own, since
            # closing it (when it goes) closes that.
            kind.__init__(o.buffer, _raw(o.fd, name), size)
    elif server_buffered:
        buffer = o.buffer
        kind.__init__(buffer, raw, size)
    else:
        buffer = kind(raw, size)        # the server's was unbuffered
    if o.detached:
        return
    wanted = {
        "encoding": s.encoding,
        "errors": "backslashreplace" if o.fd == 2 else s.errors,
        "line_buffering": not s.unbuffered and (os.isatty(o.fd) or o.fd == 2),
        "write_through": s.unbuffered,
    }
    wanted.update(o.script_set)
    io.TextIOWrapper.__init__(o.text, buffer, wanted["encoding"],
                              wanted["errors"], o.newline,
                              line_buffering=wanted["line_buffering"],
                              write_through=wanted["write_through"])
