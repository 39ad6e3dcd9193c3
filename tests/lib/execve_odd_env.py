"""Runs a command (found in PATH) with an environment that no mapping
can hold but execve can give: PFI_DUP twice ("first", then "second")
and an entry with an empty name, before this one's own entries.

    python3 execve_odd_env.py COMMAND ARGS...
"""
import ctypes
import os
import sys

argv = [os.fsencode(a) for a in sys.argv[1:]]
env = [b"PFI_DUP=first", b"=empty name", b"PFI_DUP=second"] + [
    os.fsencode(k) + b"=" + os.fsencode(v) for k, v in os.environ.items()]
A = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
E = (ctypes.c_char_p * (len(env) + 1))(*env, None)
ctypes.CDLL(None).execvpe(argv[0], A, E)
sys.exit("execve_odd_env.py: cannot run %s" % sys.argv[1])
