"""A call's environment: its caller's, as execve gave it, with what the
script's initialisation set on top, as in every standalone run.

What the initialisation set is told, as caller_state.Baseline tells a
umask the script set, by comparing os.environ when prefork_interp was
imported (the first caller's) with os.environ at
initialisation_complete(): a variable it set to another value, or
removed, is so in every call.  One it set to exactly the first
caller's value counts as the caller's.
"""

import os

from . import linux


def snapshot():
    """The environment now, as bytes (os.environb)."""
    return dict(os.environb)


class Changes:
    """What the initialisation set: {name: value} and removed names."""

    def __init__(self, at_import, at_init):
        at_import = at_import or {}
        self.set = {n: v for n, v in at_init.items()
                    if at_import.get(n) != v}
        self.removed = [n for n in at_import if n not in at_init]


def install(env):
    """The caller's environment: the C library's environ is every entry
    in order (a name twice, an empty name: execve passes them all on,
    and so does a child), and os.environ (os.environb) holds the first
    entry of each name, as the interpreter's start-up builds it
    (posix.environ, which os.environ wraps: filled directly, since
    setenv() would change the C environment)."""
    linux.set_environ([name + b"=" + value for name, value in env])
    data = os.environ._data
    data.clear()
    for name, value in env:
        data.setdefault(name, value)


def apply(changes):
    """What the initialisation set, through os.environ (setenv,
    unsetenv) as the script did it."""
    for name, value in changes.set.items():
        os.environb[name] = value
    for name in changes.removed:
        os.environb.pop(name, None)
