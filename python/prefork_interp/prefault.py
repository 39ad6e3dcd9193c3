"""Prefaulting in idle spares.

Ending a call costs page faults: the interpreter's finalisation (and the
per-call code) writes to nearly every page that holds an object of the
initialisation (reference counts, the freeing of every object), pages
that the call still shares copy-on-write with the server.  Each first
write copies a page on the caller's time.  So while no call is running,
each idle spare copies its pages in advance (madvise
MADV_POPULATE_WRITE, Linux 5.14), a chunk at a time, stopping as soon as
a call arrives.  Nothing the per-call code sees changes; each idle spare
that has finished holds a private copy of up to `prefault` MB.
"""

import select

from . import linux

MADV_POPULATE_WRITE = 23
CHUNK = 256 << 10
PAGE = 4096
SKIP = ("[stack]", "[vvar]", "[vdso]", "[vsyscall]")


def writable_regions(maps_text):
    """(start, end) of the private writable mappings in /proc/self/maps
    text, the interpreter's heap first.  Pure: unit-tested on text."""
    heap, rest = [], []
    for line in maps_text.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 5 or fields[1] != "rw-p":
            continue
        name = fields[5].strip() if len(fields) > 5 else ""
        if name.startswith(SKIP):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        (heap if name == "[heap]" else rest).append((start, end))
    return heap + rest


def plan(regions, budget):
    """The ranges to prefault within budget bytes: whole regions in
    order, then the start of the first one that does not fit."""
    ranges = []
    for start, end in regions:
        if budget < PAGE:
            break
        size = min(end - start, budget & ~(PAGE - 1))
        ranges.append((start, start + size))
        budget -= size
    return ranges


def _madvise():
    import ctypes
    libc = linux._c()
    fn = libc.madvise
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def prefault(ctl, budget):
    """Copies up to budget bytes of this process's writable memory,
    a chunk at a time; returns early when ctl becomes readable (a call
    is coming).  Returns True if it got to the end."""
    try:
        with open("/proc/self/maps") as f:
            regions = writable_regions(f.read())
    except OSError:
        return False
    madvise = _madvise()
    poller = select.poll()
    poller.register(ctl, select.POLLIN)
    for start, end in plan(regions, budget):
        at = start
        while at < end:
            if poller.poll(0):
                return False
            size = min(CHUNK, end - at)
            if madvise(at, size, MADV_POPULATE_WRITE) != 0:
                break      # unsupported, or a mapping it cannot populate
            at += size
    return True
