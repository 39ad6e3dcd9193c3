"""Files the initialisation left open: flushed at the end of each call.

A standalone run frees its objects at exit, and a buffered file that
goes flushes what was written to it (LOG = open(...) in the
initialisation, LOG.write(...) in the per-call code).  The objects of
the initialisation are not freed at a call's exit: the server froze
them (gc.freeze(), __init__.py), and the main module's globals form a
reference cycle (its functions' globals) that only a collection would
free.  Freeing them all would cost every call what freeing the whole
initialisation costs (a copy of every page it shares with the server),
so the files among them are flushed instead: found once, when the
initialisation ends, and flushed by an atexit handler that
prefork_interp registers when it is imported, so that it runs after the
script's own handlers (which may still write to them), where their
freeing would have flushed them.
"""

import gc
import io
import sys
import weakref

_armed = []     # in a call: weak references to the files to flush


def find():
    """Weak references to the buffered files open now, text layers first
    (they flush into their buffers); not the interpreter's standard
    streams, which every call sets up again and the interpreter flushes
    itself."""
    standard = set()
    for name in ("__stdin__", "__stdout__", "__stderr__"):
        stream = getattr(sys, name, None)
        standard.add(id(stream))
        standard.add(id(getattr(stream, "buffer", None)))
    texts, buffers = [], []
    for obj in gc.get_objects():
        if id(obj) in standard:
            continue
        if isinstance(obj, io.TextIOWrapper):
            texts.append(obj)
        elif isinstance(obj, (io.BufferedWriter, io.BufferedRandom)):
            buffers.append(obj)
    found = []
    for obj in texts + buffers:
        try:
            if not obj.closed and obj.writable():
                found.append(weakref.ref(obj))
        except Exception:       # detached, or its raw file gone
            pass
    return found


def arm(files):
    """In a call: these are flushed when it ends."""
    _armed[:] = files


def flush_at_exit():
    """The atexit handler: a no-op but in a call."""
    for ref in _armed:
        obj = ref()
        if obj is None:
            continue
        try:
            if not obj.closed:
                obj.flush()
        except Exception:
            pass
