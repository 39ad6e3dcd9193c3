#!/usr/bin/env python3
"""Writes the hand-made seed files fuzz/corpus/<harness>/seed-*.

Rerunning it rewrites only seed-* files; files added by
`.ci/fuzz-campaign.sh --merge` (named by their SHA-1) are left alone."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def be32(n):
    return struct.pack(">I", n)


def greeting(xdata, length=None):
    return b"PFI\n" + be32(len(xdata) if length is None else length) + xdata


def request(env, args, length=None, tail=b"\0"):
    body = b"".join(e + b"\0" for e in env) + b"\0"
    body += b"".join(a + b"\0" for a in args)
    body = body[:-1] + tail if body.endswith(b"\0") else body
    return be32(len(body) if length is None else length) + body


def spread(n, pattern):
    """xdata harness input of the form: 2-byte length, repeated pattern."""
    return struct.pack(">H", n) + pattern


RLIMITS = ["cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile",
           "memlock", "as", "locks", "sigpending", "msgqueue", "nice",
           "rtprio", "rttime"]


def caller_state(edit=None, extra=(), length=None):
    """A caller-state block; edit maps a key to a replacement entry
    (None leaves the entry out)."""
    entries = [b"umask=0022", b"nice=0"]
    entries += [b"rlimit.%s=inf:inf" % n.encode() for n in RLIMITS]
    entries[2 + RLIMITS.index("nofile")] = b"rlimit.nofile=1024:524288"
    entries += [b"sigign=0000000000001001", b"sigblock=0000000000000000"]
    out = []
    for e in entries:
        key = e.split(b"=")[0]
        if edit and key in edit:
            if edit[key] is not None:
                out.append(edit[key])
        else:
            out.append(e)
    body = b"".join(e + b"\0" for e in out + list(extra))
    return be32(len(body) if length is None else length) + body


def argv(*words):
    return b"\0".join(w.encode() for w in words)


SEEDS = {
    "greeting": {
        "ours": greeting(b"full-argv"),
        "chiark-utils": greeting(b""),
        "unknown-features": greeting(b"signals full-argv x-future2"),
        "xdata-max": greeting(b"ab " * 1365 + b"a"),
        "xdata-bad-token": greeting(b"full-argv "),
        "xdata-truncated": greeting(b"full-argv")[:12],
        "head-truncated": b"PFI\n\0\0",
        "oversized-4097": greeting(b"", 4097),
        "oversized-max": greeting(b"", 0xFFFFFFFF),
        "wrong-magic": b"PFJ\n" + be32(0),
        "wrong-magic-case": b"pfi\n" + be32(0),
        "wrong-magic-crlf": b"PFI\r" + be32(0),
        "empty": b"",
    },
    "xdata": {
        "full-argv": b"full-argv",
        "empty": b"",
        "several": b"signals full-argv x-future2",
        "unknown-only": b"signals",
        "trailing-space": b"full-argv ",
        "leading-space": b" full-argv",
        "double-space": b"full-argv  signals",
        "upper-case": b"Full-Argv",
        "underscore": b"full_argv",
        "nul": b"full\0argv",
        "token-32": b"a" * 32,
        "token-33": b"a" * 33,
        "spread-4095": spread(4095, b"a "),
        "spread-4096": spread(4096, b"full-argv "),
        "spread-4097": spread(4097, b"a "),
    },
    "status": {
        "exit-0": be32(0x0000),
        "exit-1": be32(0x0100),
        "exit-255": be32(0xFF00),
        "sigterm": be32(15),
        "sigkill": be32(9),
        "sigsegv-core": be32(11 | 0x80),
        "stopped-sigstop": be32(0x137F),
        "continued": be32(0xFFFF),
        "over-int-max": be32(0x80000000),
        "all-ones": be32(0xFFFFFFFF),
        "stray-bits": be32(0x10000),
        "exit-with-core-bit": be32(0x0180),
        "truncated": be32(0)[:3],
        "too-long": be32(0x0100) + b"\0",
    },
    "word": {
        "stopped-tstp": be32(20 << 8 | 0x7F),
        "stopped-sigstop": be32(19 << 8 | 0x7F),
        "stopped-ttin": be32(21 << 8 | 0x7F),
        "stopped-ttou": be32(22 << 8 | 0x7F),
        "stopped-by-term": be32(15 << 8 | 0x7F),
        "stopped-ptrace-event": be32(0x1137F),
        "continued": be32(0xFFFF),
        "continued-high": be32(0x1FFFF),
        "exit-3": be32(0x0300),
        "sigterm": be32(15),
        "died-of-tstp": be32(20),
        "truncated": be32(0xFFFF)[:3],
    },
    "request": {
        "perl-call": request([b"PATH=/usr/bin:/bin", b"HOME=/home/u", b"LANG=C.UTF-8"],
                             [b"perl", b"/usr/bin/script", b"-v", b""]),
        "no-env-no-args": request([], []),
        "env-only": request([b"A=1"], []),
        "empty-value": request([b"A="], [b"x"]),
        "length-larger": request([b"A=1"], [b"x"], length=100),
        "length-smaller": request([b"A=1"], [b"x"], length=3),
        "no-trailing-nul": request([b"A=1"], [b"x"], tail=b"y"),
        "env-without-equals": request([b"NOEQ"], [b"x"]),
        "no-separator": be32(4) + b"A=1\0",
        "empty-body": be32(0),
        "short": b"\0\0\0",
    },
    "callerstate": {
        "typical": caller_state(),
        "extremes": caller_state({b"umask": b"umask=0777", b"nice": b"nice=-20",
                                  b"rlimit.cpu": b"rlimit.cpu=0:18446744073709551614",
                                  b"sigign": b"sigign=fffffffffffbfeff"}),
        "missing-key": caller_state({b"rlimit.rttime": None}),
        "repeated-key": caller_state(extra=[b"nice=1"]),
        "unknown-key": caller_state(extra=[b"future=1"]),
        "soft-above-hard": caller_state({b"rlimit.as": b"rlimit.as=inf:5"}),
        "sigkill-ignored": caller_state({b"sigign": b"sigign=0000000000000100"}),
        "bad-umask": caller_state({b"umask": b"umask=022"}),
        "length-larger": caller_state(length=5000),
        "oversized": caller_state(length=8193),
        "empty": be32(0),
        "short": b"\0\0",
        # Edges where the servers' decoders (Perl, Python) could part
        # from the C one (fuzz/perl/fuzz_callerstate.pl,
        # fuzz/python/fuzz_decoders.py run these too).
        "nice-minus-zero": caller_state({b"nice": b"nice=-0"}),
        "nice-below-range": caller_state({b"nice": b"nice=-21"}),
        "limit-leading-zero": caller_state({b"rlimit.cpu": b"rlimit.cpu=01:inf"}),
        "limit-2-64-minus-1": caller_state(
            {b"rlimit.cpu": b"rlimit.cpu=18446744073709551615:inf"}),
        "limit-21-digits": caller_state(
            {b"rlimit.cpu": b"rlimit.cpu=100000000000000000000:inf"}),
        "mask-uppercase": caller_state({b"sigblock": b"sigblock=000000000000000A"}),
        "shuffled": (lambda b: be32(len(b)) + b)(b"".join(
            e + b"\0" for e in reversed(caller_state()[4:-1].split(b"\0")))),
    },
    "extrafds": {
        "one": be32(4) + be32(3),
        "typical": be32(12) + be32(9) + be32(63) + be32(251),
        "largest": be32(4) + be32(0x7fffffff),
        "above-largest": be32(4) + be32(0x80000000),
        "sixty-four": be32(256) + b"".join(be32(3 + i) for i in range(64)),
        "sixty-five": be32(260) + b"".join(be32(3 + i) for i in range(65)),
        "empty": be32(0),
        "fd-two": be32(4) + be32(2),
        "negative": be32(4) + be32(0xffffffff),
        "repeated": be32(8) + be32(7) + be32(7),
        "descending": be32(8) + be32(9) + be32(4),
        "length-larger": be32(8) + be32(5),
        "not-multiple": be32(5) + be32(5) + b"\0",
    },
    "options": {
        "combined": argv("prefork-interp", "-U,perl,-w", "script", "a"),
        "combined-two-interp-args": argv("prefork-interp", "-U,perl,-w,-T", "script"),
        "spaced": argv("prefork-interp", "-U perl -w", "script", "a"),
        "plain": argv("prefork-interp", "-U", "perl", "script", "a", "b"),
        "ident-items-combined": argv("prefork-interp", "-U,-E,HOME,-G,x,-EUSER,perl", "s"),
        "ident-items-plain": argv("prefork-interp", "-U", "-E", "HOME", "-GX", "-g",
                                  "my_ident-1", "perl", "script"),
        "help": argv("prefork-interp", "--help"),
        "help-short": argv("prefork-interp", "-h"),
        "version": argv("prefork-interp", "--version"),
        "fresh-kill": argv("prefork-interp", "-Uf", "--kill", "perl", "s"),
        "run-dir-eq": argv("prefork-interp", "-U", "--run-dir=/tmp/x", "perl", "s"),
        "run-dir-sep": argv("prefork-interp", "-U", "--run-dir", "/tmp/x", "perl", "s"),
        "double-dash": argv("prefork-interp", "-U", "--", "-perl", "s"),
        "no-args": argv("prefork-interp"),
        "only-U": argv("prefork-interp", "-U"),
        "no-script": argv("prefork-interp", "-U,perl"),
        "empty-item": argv("prefork-interp", "-U,,perl", "s"),
        "no-U": argv("prefork-interp", "perl", "s"),
        "laundered": argv("prefork-interp", "-L,-E,PERL5LIB,--run-dir=/run/x,perl", "s", "a"),
        "laundered-and-U": argv("prefork-interp", "-LU", "perl", "s"),
        "bad-ident": argv("prefork-interp", "-U", "-g", "bad/ident", "perl", "s"),
        "missing-value": argv("prefork-interp", "-U,-E"),
        "unknown": argv("prefork-interp", "-Ux", "perl", "s"),
    },
}

for harness, seeds in SEEDS.items():
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
