"""Automatic reloading: the server quits when a file it was started from
changes, so that the next call starts a fresh server with the new code.

Files are not examined on every call.  inotify watches each file and
its directory (editors often rename a new file over the old one; a file
that did not exist may appear), and before each accept the server reads
the pending notifications without waiting: one read(2), whatever the
number of files.  Only a notification that concerns a checked file
leads to stat(2) calls.  Files that could not be watched (no inotify, a
module inside a zip archive's directory that is gone...) are stat'ed
before each accept instead.

Deploys change files in ways an mtime alone does not show: `cp -p`
(rsync -t, tar, install -p) writes new contents with an older mtime,
and a symlink swap (`current -> releases/r2` renamed over the old link)
leaves every old file alone while the path now names another one.  So,
as the Perl module's FileIdentity, a file counts as changed when the
file its path names now differs from the one first seen in device,
inode, size, mtime or ctime (ctime cannot be set back), or when its
mtime (and, for a file there from the start, its ctime) is later than
the server's start; and the directories holding the symlinks on each
path are watched too.
"""

import errno
import os
import struct
import sys

from . import linux

FILE_EVENTS = (linux.IN_MODIFY | linux.IN_ATTRIB | linux.IN_CLOSE_WRITE
               | linux.IN_MOVE_SELF | linux.IN_DELETE_SELF)
DIR_EVENTS = (linux.IN_CREATE | linux.IN_MOVED_TO | linux.IN_DELETE
              | linux.IN_MOVED_FROM)
EVENT_HEAD = struct.Struct("iIII")     # wd, mask, cookie, len


def parse_events(buf):
    """Parses a buffer of inotify events into (wd, mask, name) tuples.
    Pure: unit-tested on bytes.  A truncated tail is ignored (the
    kernel never returns one)."""
    events = []
    offset = 0
    while offset + EVENT_HEAD.size <= len(buf):
        wd, mask, _cookie, length = EVENT_HEAD.unpack_from(buf, offset)
        start = offset + EVENT_HEAD.size
        name = bytes(buf[start:start + length]).rstrip(b"\0")
        offset = start + length
        events.append((wd, mask, name))
    return events


def identity(path):
    """(dev, ino, size, mtime_ns, ctime_ns) of the file path names now;
    raises OSError."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def replaced(before, now):
    """Why the file now at a path is not the one seen before, or None
    (pure).  A file that did not exist before is judged by its times."""
    if before is None or now is None or before == now:
        return None
    if before[:2] != now[:2]:
        return "replaced by another file"
    return "rewritten"


def links_on_path(path, readlink=os.readlink, islink=os.path.islink):
    """The symlinks met while resolving path, as (directory holding the
    link, link name): a rename there changes what the path names.  At
    most 40 links are followed (the kernel's limit), so a loop ends."""
    links = []
    cur = "" if path.startswith("/") else os.getcwd().rstrip("/")
    todo = [c for c in path.split("/") if c]
    hops = 0
    while todo:
        c = todo.pop(0)
        if c == ".":
            continue
        if c == "..":
            cur = cur.rsplit("/", 1)[0]
            continue
        nxt = f"{cur}/{c}"
        if islink(nxt):
            hops += 1
            if hops > 40:
                break
            links.append((cur or "/", c))
            try:
                target = readlink(nxt)
            except OSError:
                break
            if target.startswith("/"):
                cur = ""
            todo[:0] = [t for t in target.split("/") if t]
            continue
        cur = nxt
    return links


def module_files(modules):
    """The files the loaded modules came from (source, extension module
    or the zip archive holding them), absolute, without duplicates."""
    files = []
    for module in list(modules.values()):
        archive = getattr(getattr(module, "__loader__", None), "archive", None)
        path = archive if isinstance(archive, str) else getattr(
            module, "__file__", None)
        if isinstance(path, str) and path:
            files.append(path)
    return files


class Autoreload:
    def __init__(self, files, start_ns, log):
        seen = set()
        self.files = []
        for path in files:
            path = os.path.abspath(os.fsdecode(path))
            if path not in seen:
                seen.add(path)
                self.files.append(path)
        self.start_ns = start_ns
        self.log = log
        self.fd = None
        self.closed = False
        self.wd_file = {}    # wd -> set of paths
        self.wd_dir = {}     # wd -> {basename: set of paths}
        self.ids = {}        # path -> identity when first seen
        self.unwatched = list(self.files)
        try:
            self.fd = linux.inotify_init()
        except OSError as e:
            log("warning", f"autoreload: no inotify ({e.strerror}); "
                "checking files before every call")
            return
        unwatched = []
        for path in self.files:
            file_ok, missing = self._watch_file(path)
            dir_ok = self._watch_dir(path)
            for directory, name in links_on_path(path):
                self._watch_name(directory, name, path)
            if not (file_ok or (missing and dir_ok)):
                unwatched.append(path)
        self.unwatched = unwatched

    def fileno(self):
        return self.fd

    def close(self):
        self.closed = True
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _watch_file(self, path):
        try:
            wd = linux.inotify_add_watch(self.fd, path, FILE_EVENTS)
        except OSError as e:
            return False, e.errno in (errno.ENOENT, errno.ENOTDIR)
        self.wd_file.setdefault(wd, set()).add(path)
        return True, False

    def _watch_dir(self, path):
        directory, base = os.path.split(path)
        return self._watch_name(directory or ".", base, path)

    def _watch_name(self, directory, name, path):
        """Watches directory for name (path's file, or a symlink on the
        way to it) being created, renamed or removed."""
        try:
            wd = linux.inotify_add_watch(self.fd, directory, DIR_EVENTS)
        except OSError:
            return False
        self.wd_dir.setdefault(wd, {}).setdefault(name, set()).add(path)
        return True

    def changed(self):
        """Reads pending notifications without waiting; true if a
        checked file is newer than the server's start."""
        if self.closed:
            return False
        touched = set()
        relevant = False
        while self.fd is not None:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            except OSError as e:
                self.log("warning", f"reading inotify: {e.strerror}")
                relevant = True
                touched.update(self.files)
                break
            if not buf:
                break
            relevant |= self._note(parse_events(buf), touched)
        if relevant:
            # A file replaced by rename has a new inode: watch that one.
            for path in touched:
                self._watch_file(path)
            return self.newer(self.files)
        return self.newer(self.unwatched)

    def _note(self, events, touched):
        relevant = False
        for wd, mask, name in events:
            if mask & linux.IN_Q_OVERFLOW:
                touched.update(self.files)
                relevant = True
            elif wd in self.wd_file:
                touched.update(self.wd_file[wd])
                relevant = True
                if mask & linux.IN_IGNORED:
                    del self.wd_file[wd]
            elif wd in self.wd_dir:
                paths = self.wd_dir[wd].get(os.fsdecode(name))
                if paths:
                    touched.update(paths)
                    relevant = True
        return relevant

    def newer(self, paths):
        """True, and logged, if one of paths has changed since start (see
        the top).  A file that does not exist is fine (a deploy may be
        half-way); one that appears counts by its mtime until it has
        been seen."""
        for path in paths:
            try:
                now = identity(path)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ENOTDIR):
                    self.log("warning", f"autoreload: cannot stat {path}: "
                             f"{e.strerror}")
                continue
            before = self.ids.setdefault(path, now)
            why = replaced(before, now)
            times = now[3:] if before is not now else now[3:4]
            if why is None and any(t > self.start_ns for t in times):
                why = "newer than the server"
            if why is not None:
                self.log("info", f"{path} changed since startup ({why}), "
                         "quitting to reload")
                return True
        return False


def initial_files(script, options, also_check):
    """The checked set: the script, the loaded modules' files (unless
    autoreload_modules is false), autoreload_extra, autoreload_also_check."""
    files = [script]
    if options.autoreload_modules:
        files += module_files(sys.modules)
    return files + list(options.autoreload_extra) + list(also_check)
