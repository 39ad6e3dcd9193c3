#!/usr/bin/env python3
"""Differential fuzzer of the Python module's server-side decoders
against the C ones (src/protocol.c, through fuzz/perl/request-oracle).

    fuzz_decoders.py --oracle PATH [--seconds N | --iterations N]
                     [--seed N] [--save DIR]
                     [--requests DIR ...] [--states DIR ...]
                     [--extra-fds DIR ...]

What a client sends, decoded as prefork_interp.executor.read_request
does it:
  request      the 4-byte length (protocol.decode_length against
               MAX_REQUEST), the body fed to protocol.RequestScanner in
               random chunks, then protocol.decode_request on it.
               C decodes with pfi_request_decode; the server needs the
               interpreter and the script, so Python must accept exactly
               what C accepts with at least two arguments, with the same
               entries and arguments.
  caller-state the 4-byte length (against caller_state.MAX_BLOCK) and
               caller_state.decode on the block.  Both must refuse, or
               accept the same state: compared as the canonical
               encoding (the C encoder's and caller_state.encode's).
  extra-fds    the 4-byte length through protocol.decode_extra_fds_length
               (before a number is read), then exactly 4 * N bytes
               through protocol.decode_extra_fds.  C decodes the whole
               block with pfi_extra_fds_decode; both must refuse, or
               accept the same numbers (compared as their encoding).
               Inputs: random valid lists, their numbers and length
               field edited (extrafds_inputs.py), byte mutations.

The corpus files run first (--requests: requests as sent, --states and
--extra-fds: blocks as sent, length fields included); then, until the
time or iteration budget is spent, random inputs made by the encoders
and mutations of them.  A disagreement (or a Python decoder raising
anything but ProtocolError on an extra-fds block) is printed as hex,
saved to --save DIR/<kind>/ as regress-<sha1> (kind: request,
caller-state or extra-fds), and the run exits 1.
"""

import argparse
import hashlib
import os
import random
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "python"))

from prefork_interp import caller_state, protocol  # noqa: E402
import extrafds_inputs  # noqa: E402


class Oracle:
    def __init__(self, path):
        self.proc = subprocess.Popen([path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def ask(self, cmd, data):
        self.proc.stdin.write(cmd + struct.pack(">I", len(data)) + data)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit("fuzz_decoders.py: the oracle died")
        line = line.rstrip(b"\n")
        return None if line == b"ERR" else bytes.fromhex(line[3:].decode())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def framed_decode(data, limit, what, decode):
    """As the executor reads a length-prefixed item: the length checked
    against limit, then decode on exactly that many bytes (input with
    bytes missing or left over is refused).  None if refused."""
    try:
        if len(data) < 4:
            return None
        length = protocol.decode_length(data[:4], limit, what)
        if length != len(data) - 4:
            return None
        return decode(data[4:])
    except protocol.ProtocolError:
        return None


def scanned_decode(rng):
    """decode_request after the body went through RequestScanner in
    random chunks, as executor.read_request feeds it."""
    def decode(body):
        scanner = protocol.RequestScanner()
        at = 0
        while at < len(body):
            n = 1 + rng.randrange(16 if rng.random() < 0.5 else 70000)
            scanner.feed(body[at:at + n])
            at += n
        return protocol.decode_request(scanner.take())
    return decode


def py_request(data, rng):
    """The Python verdict in the oracle's form (entries, each + NUL,
    0x01, arguments, each + NUL), or None."""
    decoded = framed_decode(data, protocol.MAX_REQUEST, "request",
                            scanned_decode(rng))
    if decoded is None:
        return None
    env, args = decoded
    return (b"".join(name + b"=" + val + b"\0" for name, val in env)
            + b"\1" + b"".join(a + b"\0" for a in args))


def c_request(oracle, data):
    """C's verdict, as a server must take it: at least two arguments."""
    got = oracle.ask(b"D", data)
    if got is None:
        return None
    # Counted on the input, which C found well-formed (the answer's 0x01
    # marker may also occur inside a string): the strings after the
    # first empty one are the arguments.
    strings = data[4:-1].split(b"\0")
    nargs = len(strings) - strings.index(b"") - 1
    return got if nargs >= 2 else None


def py_state(data):
    state = framed_decode(data, caller_state.MAX_BLOCK, "caller-state",
                          caller_state.decode)
    if state is None:
        return None
    block = caller_state.encode(state)
    return struct.pack(">I", len(block)) + block


def py_extra_fds(data):
    """As executor.read_request reads the block: (the numbers
    re-encoded, or None if refused; what is wrong with Python itself if
    it raised anything but ProtocolError)."""
    if len(data) < 4:
        return None, None   # the client hung up
    try:
        count = protocol.decode_extra_fds_length(data[:4])
        # reader.exact takes exactly 4 * count bytes: fewer is a
        # hang-up, more is not this block.
        if len(data) - 4 != 4 * count:
            return None, None
        return extrafds_inputs.block(protocol.decode_extra_fds(data[4:])), None
    except protocol.ProtocolError:
        return None, None
    except Exception as e:  # noqa: BLE001 - any other is the finding
        return None, f"raised {e!r}"


class Run:
    def __init__(self, oracle, seed, save, rng):
        self.oracle, self.seed, self.save, self.rng = oracle, seed, save, rng
        self.runs = self.accepted = 0

    def check(self, kind, data, origin):
        self.runs += 1
        fault = None
        if kind == "request":
            c, py = c_request(self.oracle, data), py_request(data, self.rng)
        elif kind == "caller-state":
            c, py = self.oracle.ask(b"C", data), py_state(data)
        else:
            c, (py, fault) = self.oracle.ask(b"X", data), py_extra_fds(data)
        if c is not None:
            self.accepted += 1
        if c == py and fault is None:
            return

        def say(v):
            return "refuses" if v is None else "accepts as " + v.hex()
        print(f"DISAGREEMENT on a {kind} ({origin}, input {self.runs}, "
              f"seed {self.seed}): "
              f"C {say(c)}, Python {fault or say(py)}")
        print("input:", data.hex())
        if self.save:
            where = os.path.join(self.save, kind)
            os.makedirs(where, exist_ok=True)
            path = os.path.join(where, "regress-"
                                + hashlib.sha1(data).hexdigest()[:16])
            with open(path, "wb") as f:
                f.write(data)
            print("saved:", path)
        sys.exit(1)


def corpus_files(dirs):
    for d in dirs:
        names = sorted(os.listdir(d)) if os.path.isdir(d) else [""]
        for name in names:
            path = os.path.join(d, name) if name else d
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    yield path, f.read()


ALPHABET = [b"\0", b"=", b"A", b"z", b"_", b" ", b"\1", b"\xff", b"\n"]


def random_string(rng):
    n = 0 if rng.random() < 0.3 else rng.randrange(12 if rng.random() < 0.9 else 300)
    return b"".join(bytes([97 + rng.randrange(26)]) if rng.random() < 0.7
                    else rng.choice(ALPHABET) for _ in range(n)).replace(b"\0", b"")


def random_request(rng, oracle):
    env = [b"K" + random_string(rng) + b"=" + random_string(rng)
           if rng.random() < 0.9 else b"N" + random_string(rng).replace(b"=", b"")
           for _ in range(rng.randrange(6))]
    args = [random_string(rng) for _ in range(rng.randrange(5))]
    wire = oracle.ask(b"E", b"".join(e + b"\0" for e in env) + b"\0"
                      + b"".join(a + b"\0" for a in args))
    if wire is None:
        sys.exit("fuzz_decoders.py: the C encoder refused a small request")
    return wire


INF = caller_state.RLIM_INF
LIMIT_EDGES = [0, 1, 9, 10, 4096, 2**32 - 1, 2**32, INF - 1, INF]
VALUE_EDGES = [b"", b"0", b"00", b"-0", b"+1", b"-20", b"-21", b"19", b"20",
               b"0777", b"0778", b"777", b"inf", b"inf:inf", b"0:0", b":",
               b"inf:0", b"0:inf", b"INF:INF", b" 1:2", b"1 :2",
               b"18446744073709551614:18446744073709551614",
               b"18446744073709551615:inf", b"18446744073709551616:inf",
               b"018446744073709551614:inf", b"99999999999999999999:inf",
               b"0000000000000000", b"0000000000000100", b"0000000000040000",
               b"FFFFFFFFFFFFFFFF", b"fffffffffffffeef", b"000000000000000",
               b"00000000000000000", "\u0661".encode(), b"\xd9\xa1"]
KEYS = [b"umask", b"nice", b"sigign", b"sigblock", b"rlimit.", b"rlimit.cpu",
        b"rlimit.nofile", b"rlimit.rttime", b"rlimit.CPU", b"rlimit.bogus",
        b"", b"umask ", b"x"]
BYTES = [b"\0", b"=", b":", b"0", b"9", b"f", b"-", b"\xff", b" "]


# Values at and just past the edge of each key's syntax and range.
EDGES_OF = {
    b"umask": [b"0000", b"0777", b"0778", b"0800", b"777", b"00777", b"-0",
               b"0", b"+777", b"0x1f", b"07 7"],
    b"nice": [b"0", b"-0", b"00", b"01", b"+1", b"-1", b"-20", b"-21", b"19",
              b"20", b"-", b"", b"1 ", b"-020"],
    b"limit": [b"0:0", b"0:inf", b"inf:inf", b"inf:0", b"1:0", b"00:1", b"-1:1",
               b"+1:1", b"1:", b":1", b"1:2:3", b"inf", b"INF:INF",
               b"18446744073709551614:18446744073709551614",
               b"18446744073709551614:inf", b"18446744073709551615:inf",
               b"18446744073709551616:inf", b"99999999999999999999:inf",
               b"100000000000000000000:inf", b"018446744073709551614:inf"],
    b"mask": [b"0000000000000000", b"0000000000000100", b"0000000000040000",
              b"8000000000000000", b"ffffffffffeffeff", b"fffffffffffffeff",
              b"FFFFFFFFFFFFFFFF", b"000000000000000", b"00000000000000000",
              b"000000000000000g", b"-000000000000001"],
}


def edit_one_value(rng, block):
    """A valid block with one value replaced by an edge of its kind."""
    e = block.split(b"\0")[:-1]
    i = rng.randrange(len(e))
    key = e[i].partition(b"=")[0]
    kind = (b"limit" if key.startswith(b"rlimit.") else
            b"mask" if key.startswith(b"sig") else key)
    e[i] = key + b"=" + rng.choice(EDGES_OF[kind])
    return b"".join(x + b"\0" for x in e)


def random_state(rng):
    def limit():
        return rng.choice(LIMIT_EDGES) if rng.random() < 0.6 else rng.randrange(10**6)

    def mask():
        sigs = {s for s in range(1, 65) if rng.random() < 0.1}
        return sigs - {9, 19} if rng.random() < 0.97 else sigs
    # Mostly states a process can have, so that edits of one value
    # decide whether the block is accepted.
    rl = []
    for _ in caller_state.RLIMIT_NAMES:
        pair = sorted((limit(), limit()))
        rl.append(tuple(reversed(pair)) if rng.random() < 0.003 else tuple(pair))
    nice = rng.randrange(-22, 22) if rng.random() < 0.1 else rng.randrange(-20, 20)
    state = caller_state.CallerState(rng.randrange(0o1000), nice, rl, mask(),
                                     mask())
    return caller_state.encode(state)


def strings_at_the_cap():
    """Requests with one string fewer, exactly as many and one more than
    MAX_STRINGS (entries and arguments): the bound itself."""
    for n in (protocol.MAX_STRINGS - 1, protocol.MAX_STRINGS,
              protocol.MAX_STRINGS + 1):
        body = b"A=1\0" + b"\0" + b"i\0s\0" + b"\0" * (n - 3)
        yield f"{n} strings", framed(body)


def edit_entries(rng, block):
    e = block.split(b"\0")[:-1]
    i = rng.randrange(len(e)) if e else 0
    op = rng.randrange(6)
    if op == 0 and e:
        del e[i]
    elif op == 1 and e:
        e.insert(rng.randrange(len(e)), e[i])
    elif op == 2 and e:
        e[i], e[-1] = e[-1], e[i]
    elif op == 3 and e:
        e[i] = e[i].partition(b"=")[0] + b"=" + rng.choice(VALUE_EDGES)
    elif op == 4 and e:
        e[i] = rng.choice(KEYS) + b"=" + e[i].partition(b"=")[2]
    else:
        e.insert(i, rng.choice(KEYS) + b"=" + rng.choice(VALUE_EDGES))
    return b"".join(x + b"\0" for x in e)


def mutate(rng, b, length_edges):
    b = bytearray(b)
    for _ in range(1 + rng.randrange(3)):
        n = len(b)
        at = rng.randrange(n) if n else 0
        op = rng.randrange(8)
        if op == 0 and n:
            b[at] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            b[at:at + 1] = rng.choice(BYTES)
        elif op == 2:
            b[at:at] = rng.choice(BYTES) * (1 + rng.randrange(3))
        elif op == 3 and n:
            del b[at:at + 1 + rng.randrange(4)]
        elif op == 4:
            del b[at:]
        elif op == 5 and n:
            src = rng.randrange(n)
            b[at:at] = b[src:src + 1 + rng.randrange(24)]
        elif op == 6 and n >= 4:
            v = max(0, struct.unpack(">I", b[:4])[0] + rng.randrange(5) - 2)
            b[:4] = struct.pack(">I", v & 0xFFFFFFFF)
        elif op == 7 and n >= 4:
            b[:4] = struct.pack(">I", rng.choice(length_edges))
    return bytes(b)


def framed(body):
    return struct.pack(">I", len(body)) + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--save")
    ap.add_argument("--requests", action="append", default=[])
    ap.add_argument("--states", action="append", default=[])
    ap.add_argument("--extra-fds", action="append", default=[])
    o = ap.parse_args()
    seed = o.seed if o.seed is not None else int(time.time()) ^ os.getpid()
    rng = random.Random(seed)
    iterations = o.iterations if o.iterations is not None else (
        sys.maxsize if o.seconds is not None else 10_000)
    seconds = o.seconds if o.seconds is not None else 1e9

    oracle = Oracle(o.oracle)
    run = Run(oracle, seed, o.save, rng)
    for path, data in corpus_files(o.requests):
        run.check("request", data, path)
    for path, data in corpus_files(o.states):
        run.check("caller-state", data, path)
    for path, data in corpus_files(o.extra_fds):
        run.check("extra-fds", data, path)
    for origin, data in strings_at_the_cap():
        run.check("request", data, origin)
    from_corpus = run.runs
    req_edges = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF, protocol.MAX_REQUEST,
                 protocol.MAX_REQUEST + 1]
    st_edges = [0, 1, 8191, 8192, 8193, 0x7FFFFFFF, 0xFFFFFFFF]
    ef_edges = extrafds_inputs.LENGTH_EDGES
    start = time.monotonic()
    while run.runs - from_corpus < iterations and time.monotonic() - start < seconds:
        wire = random_request(rng, oracle)
        run.check("request", wire, "C encoding")
        for _ in range(4):
            run.check("request", mutate(rng, wire, req_edges), "mutated")
        block = random_state(rng)
        run.check("caller-state", framed(block), "Python encoding")
        entries = block.split(b"\0")[:-1]
        rng.shuffle(entries)
        run.check("caller-state", framed(b"".join(e + b"\0" for e in entries)),
                  "shuffled")
        edited = block
        for _ in range(1 if rng.random() < 0.7 else 2):
            edited = edit_entries(rng, edited)
        run.check("caller-state", framed(edited), "entries edited")
        run.check("caller-state", framed(edit_one_value(rng, block)),
                  "one value at an edge")
        run.check("caller-state", mutate(rng, framed(block), st_edges), "mutated")
        run.check("caller-state", mutate(rng, framed(edited), st_edges),
                  "edited and mutated")
        fds = extrafds_inputs.random_list(rng)
        run.check("extra-fds", extrafds_inputs.block(fds), "valid list")
        numbers = extrafds_inputs.edit_numbers(rng, fds)
        if rng.random() < 0.3:
            numbers = extrafds_inputs.edit_numbers(rng, numbers)
        run.check("extra-fds", extrafds_inputs.block(numbers), "numbers edited")
        for origin, data in extrafds_inputs.length_edge_blocks(rng, fds):
            run.check("extra-fds", data, origin)
        run.check("extra-fds", mutate(rng, extrafds_inputs.block(fds), ef_edges),
                  "mutated")
        run.check("extra-fds",
                  mutate(rng, extrafds_inputs.block(numbers), ef_edges),
                  "edited and mutated")
    oracle.close()
    print(f"fuzz_decoders.py: {run.runs} inputs ({from_corpus} from the corpus, "
          f"{run.accepted} accepted by C), {time.monotonic() - start:.1f} s, "
          f"seed {seed}: no disagreement")


if __name__ == "__main__":
    main()
