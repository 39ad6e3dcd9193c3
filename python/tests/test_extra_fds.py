"""The extra-fds extension against a real Python server, through the raw
protocol: the caller's fds above 2 reach the call at their numbers,
inheritable, pointing at the caller's files; a number the script's
initialisation holds stays the script's (logged once); a malformed block
is refused (logged, no status) without keeping any fd it carried; a call
without the bit is unchanged.  Then through the real client: a call
holds the fds a standalone run holds, and a pipe's reader sees its end
when the call closes it.  docs/protocol.md, "extra-fds"."""

import json
import os
import select
import socket
import subprocess
import struct

import pytest

import harness
from prefork_interp import caller_state

# The initialisation holds fd 40 (a file of its own) and a call reports
# every fd it has: where it points and whether it is inheritable.
BODY = r'''
import json, os, resource, sys
import prefork_interp
LOG = %(log)r
def logger(priority, message):
    with open(LOG, "a") as f:
        f.write("%%s %%s\n" %% (priority, message))
held = os.open(%(held)r, os.O_RDONLY | os.O_CLOEXEC)
os.dup2(held, 40, inheritable=False)
os.close(held)
prefork_interp.initialisation_complete(%(logger)srequest_timeout=5)
# The listing's own fd is the lowest free one: left out.
probe = os.open("/", os.O_RDONLY)
os.close(probe)
fds = {}
for name in os.listdir("/proc/self/fd"):
    if int(name) != probe:
        fds[name] = [os.readlink("/proc/self/fd/" + name),
                     os.get_inheritable(int(name))]
json.dump({"fds": fds, "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)},
          sys.stdout)
'''

XDATA = b"full-argv caller-state signals extra-fds"
HELD = 40
USE_CALLER_STATE, USE_SIGNALS, USE_EXTRA_FDS = 0x01, 0x02, 0x04


@pytest.fixture(scope="module")
def server(pfi):
    return start_server(pfi, "xfd", "logger=logger, ")


def start_server(pfi, ident, logger):
    """The script's server under -g ident; logger: its option (or none:
    the server's messages then go to syslog or the messages file)."""
    held = pfi.write(f"held-{ident}", "the script's own\n")
    log = pfi.path("log")
    script = pfi.script(f"{ident}.py", BODY % {"log": log, "held": held,
                                                "logger": logger})
    cmd = [pfi.client, "-U", "-g", ident, harness.PYTHON, script]
    first = pfi.call(cmd + ["first"])
    assert first.status == "exit 0", first
    return type("Server", (), {
        "script": script, "log": log, "held": held,
        "sock": os.path.join(pfi.sockdir(), "s" + ident)})


text = harness.text


def files(pfi, names):
    """{name: path} of files made for a call, each with its own name."""
    return {n: pfi.write(f"extra-{n}", f"fd {n}\n") for n in names}


def extras_block(numbers):
    return struct.pack(">I", 4 * len(numbers)) + b"".join(
        struct.pack(">I", n) for n in numbers)


def caller_state_block(nofile=None):
    """This process's state, as the client sends it; nofile: a soft
    limit of open files instead of ours, or (soft, hard)."""
    limits = caller_state.get_rlimits()
    if isinstance(nofile, tuple):
        limits[7] = nofile
    elif nofile is not None:
        limits[7] = (nofile, limits[7][1])
    state = caller_state.CallerState(
        os.umask(os.umask(0o022)), os.getpriority(os.PRIO_PROCESS, 0),
        limits, set(), set())
    block = caller_state.encode(state)
    return struct.pack(">I", len(block)) + block


def raw_call(pfi, server, bits, block=b"", messages=(), expect_refusal=False,
             nofile=None):
    """One call through the raw protocol: step-2 bits, stdio (stdout a
    file of its own), the request, the caller-state block if bit 0x01,
    then block (the extra-fds length and numbers) and messages (each a
    list of fds sent with one byte).  Returns (the status word or None,
    what the call wrote to stdout)."""
    out_path = pfi.path("out")
    with open(os.devnull, "rb") as null, open(out_path, "w+b") as out, \
            socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(server.sock)
        greeting = s.recv(8 + len(XDATA), socket.MSG_WAITALL)
        assert greeting == b"PFI\n" + struct.pack(">I", len(XDATA)) + XDATA
        s.sendall(bytes([bits]))
        for fd in (null.fileno(), out.fileno(), null.fileno()):
            socket.send_fds(s, [b"\0"], [fd])
        body = b"".join(x + b"\0" for x in
                        [b"A=1", b"", b"python3", server.script.encode(),
                         b"call"])
        try:
            s.sendall(struct.pack(">I", len(body)) + body)
            if bits & USE_CALLER_STATE:
                s.sendall(caller_state_block(nofile))
            s.sendall(block)
            for fds in messages:
                if fds:
                    socket.send_fds(s, [b"\0"], fds)
                else:
                    s.sendall(b"\0")
        except (BrokenPipeError, ConnectionResetError):
            assert expect_refusal
        try:
            word = s.recv(4, socket.MSG_WAITALL)
        except ConnectionResetError:
            word = b""
        out.seek(0)
        output = out.read()
    os.unlink(out_path)
    if expect_refusal:
        assert word == b"", "a refused call gets no status"
        return None, output
    assert len(word) == 4, f"status word: {word!r}"
    return struct.unpack(">I", word)[0], output


def call_with_extras(pfi, server, paths, bits=USE_EXTRA_FDS, nofile=None):
    """A call passing each file of paths ({number: path}) at its number;
    returns the call's fds {number: [target, inheritable]} (and, with
    nofile, its limit of open files)."""
    numbers = sorted(paths)
    opened = [os.open(paths[n], os.O_RDONLY) for n in numbers]
    try:
        status, output = raw_call(pfi, server, bits, extras_block(numbers),
                                  [[fd] for fd in opened], nofile=nofile)
    finally:
        for fd in opened:
            os.close(fd)
    assert status == 0, output
    got = json.loads(output)
    fds = {int(k): v for k, v in got["fds"].items()}
    return fds if nofile is None else (fds, got["nofile"])


def standard(fds):
    return {n: v for n, v in fds.items() if n > 2}


def test_offered(server):
    from prefork_interp import protocol
    assert protocol.features_for(True) == ("full-argv", "caller-state",
                                           "signals", "extra-fds")


def test_extras_at_their_numbers(pfi, server):
    paths = files(pfi, (3, 9, 63, 200))
    for _ in range(20):
        got = call_with_extras(pfi, server, paths)
        assert standard(got) == {
            3: [paths[3], True], 9: [paths[9], True],
            63: [paths[63], True], 200: [paths[200], True],
            HELD: [server.held, False]}, \
            "the caller's fds at their numbers, the script's own kept"


def test_extras_with_caller_state_and_signals(pfi, server):
    """The block follows the caller-state block; signal bytes follow it
    (none are sent here: the final word is the status)."""
    paths = files(pfi, (5, 41))
    got = call_with_extras(pfi, server, paths, USE_CALLER_STATE
                           | USE_SIGNALS | USE_EXTRA_FDS)
    assert standard(got) == {5: [paths[5], True], 41: [paths[41], True],
                             HELD: [server.held, False]}


def test_extras_at_or_above_the_callers_soft_limit(pfi, server):
    """A caller may hold fds at or above a soft limit it lowered since:
    they reach the call, which runs with that limit."""
    paths = files(pfi, (63, 64, 100))
    got, nofile = call_with_extras(pfi, server, paths, USE_CALLER_STATE
                                   | USE_EXTRA_FDS, nofile=64)
    assert nofile[0] == 64
    assert standard(got) == {63: [paths[63], True], 64: [paths[64], True],
                             100: [paths[100], True],
                             HELD: [server.held, False]}


def test_an_extra_above_the_callers_hard_limit_refuses_the_call(pfi, server):
    """A caller that lowered its hard limit below an fd it holds: the
    call cannot hold that fd at its number, and is refused with status
    127 (as in Perl), not left to fail in the interpreter."""
    paths = files(pfi, (100,))
    fd = os.open(paths[100], os.O_RDONLY)
    try:
        status, _output = raw_call(pfi, server, USE_CALLER_STATE
                                   | USE_EXTRA_FDS, extras_block([100]),
                                   [[fd]], nofile=(64, 64))
    finally:
        os.close(fd)
    assert status == 127 << 8


def test_an_extra_at_a_low_number_the_server_used(pfi, server):
    """Numbers the executor's own fds had (the received copies, the
    call socket) are placed like any other."""
    paths = files(pfi, range(3, 3 + 64))
    del paths[HELD]
    got = call_with_extras(pfi, server, paths)
    want = {n: [p, True] for n, p in paths.items()}
    want[HELD] = [server.held, False]
    assert standard(got) == want


def test_a_number_the_initialisation_holds_stays_its_own(pfi, server):
    paths = files(pfi, (4, HELD, 300))
    line = (f"the caller's fd {HELD} is not passed: the script's "
            f"initialisation holds fd {HELD}")
    for _ in range(5):
        before = len(text(server.log))
        got = call_with_extras(pfi, server, paths)
        assert standard(got) == {4: [paths[4], True], 300: [paths[300], True],
                                 HELD: [server.held, False]}
        assert text(server.log)[before:].count(
            f"notice {server.script}: {line}\n") == 1, \
            text(server.log)


def test_numbers_of_the_messages_file_are_placed(pfi):
    """Without syslog the server's messages go to a file it holds open,
    also in the executor until the call starts: the numbers of that
    file and of its directory are the caller's in the call, and the line
    about a number the script holds goes to that file."""
    from prefork_interp import logfile
    if logfile.syslog_reachable():
        pytest.skip("a syslog daemon listens: the server logs there")
    server = start_server(pfi, "xfdfile", "")
    pid = harness.server_of(pfi, server.script)
    messages = os.path.join(pfi.sockdir(), logfile.NAME)
    log_fds = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:    # the server's own fds come and go (spares, calls)
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except FileNotFoundError:
            continue
        if target in (messages, os.path.realpath(pfi.sockdir())):
            log_fds.append(int(name))
    assert len(log_fds) == 2, "the file and its directory"
    paths = files(pfi, log_fds + [HELD])
    line = (f"the caller's fd {HELD} is not passed: the script's "
            f"initialisation holds fd {HELD}")
    for _ in range(5):
        before = len(text(messages))
        got = call_with_extras(pfi, server, paths)
        want = {n: [paths[n], True] for n in log_fds}
        want[HELD] = [server.held, False]
        assert standard(got) == want
        assert text(messages)[before:].count(line) == 1, text(messages)


def test_without_the_bit_unchanged(pfi, server):
    status, output = raw_call(pfi, server, 0)
    assert status == 0
    got = {int(k): v for k, v in json.loads(output)["fds"].items()}
    assert standard(got) == {HELD: [server.held, False]}


def pipe_closed_everywhere(read_end):
    """Whether the pipe's reader sees end of file: no process (the
    executor, the server, a spare) holds its write end any more."""
    ready, _, _ = select.select([read_end], [], [], 15)
    return bool(ready) and os.read(read_end, 1) == b""


# (label, extra-fds length and numbers, fds per message, the log's words)
MALFORMED = [
    ("length not a multiple of 4", struct.pack(">I", 6) + b"\0\0\0\3\0\0",
     [1], "extra-fds length 6 is not a multiple of 4"),
    ("no fd", struct.pack(">I", 0), [1], "extra-fds length 0: no fd"),
    ("65 fds", extras_block(range(3, 3 + 65)), [1] * 65,
     "extra-fds length 260: 65 fds, more than 64"),
    ("not ascending", extras_block([9, 3]), [1, 1],
     "extra fd 3 follows 9: not ascending"),
    ("repeated", extras_block([9, 9]), [1, 1],
     "extra fd 9 follows 9: not ascending"),
    ("below 3", extras_block([2]), [1], "extra fd 2 is below 3"),
    ("above 2^31-1", extras_block([5, 2**31]), [1, 1],
     "extra fd 2147483648 is above 2147483647"),
    ("a message without fd", extras_block([5, 9]), [1, 0],
     "message for fd 9 carried no file descriptor"),
    ("a message with two fds", extras_block([5, 9]), [1, 2],
     "message for fd 9 carried 2 file descriptors, not one"),
]


@pytest.mark.parametrize("label,block,per_message,words", MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_refused_without_keeping_fds(pfi, server, label, block,
                                               per_message, words):
    for _ in range(3):
        before = len(text(server.log))
        read_end, write_end = os.pipe()
        try:
            messages = [[write_end] * count for count in per_message]
            raw_call(pfi, server, USE_EXTRA_FDS, block, messages,
                     expect_refusal=True)
            os.close(write_end)
            write_end = None
            assert harness.wait_for(10, lambda: f"protocol error: {words}"
                                    in text(server.log)[before:]), \
                text(server.log)[before:]
            assert pipe_closed_everywhere(read_end), \
                "an fd of the refused call is still held"
        finally:
            os.close(read_end)
            if write_end is not None:
                os.close(write_end)
        # The server serves the next call.
        status, output = raw_call(pfi, server, 0)
        assert status == 0 and b'"0"' in output


# ------------------------------------------------- through the real client

def only_at(fds):
    """A preexec_fn (with close_fds=False) for a child that is to hold,
    besides 0-2, only the fds of fds ({number: fd of ours, or a path to
    open}), each at its number: the test's own process keeps its fds
    (pytest holds some at numbers a test may want)."""
    def child():
        for number, fd in fds.items():
            if isinstance(fd, str):
                fd = os.open(fd, os.O_RDONLY)
            if fd != number:
                os.dup2(fd, number)
            os.set_inheritable(number, True)
        for name in os.listdir("/proc/self/fd"):
            if int(name) > 2 and int(name) not in fds:
                try:
                    os.close(int(name))
                except OSError:
                    pass
    return {"preexec_fn": child, "close_fds": False}


def test_client_calls_see_the_fds_of_a_standalone_run(pfi):
    script = harness.callee(pfi, "client-extras.py")
    extras = only_at(files(pfi, (9, 63, 200)))
    want = pfi.standalone(script, ["state"], **extras)
    assert want.status == "exit 0", want
    assert [9, 63, 200] == [n for n in json.loads(want.out)["fds"]
                            if n in (9, 63, 200)]
    for _ in range(10):     # the first call starts the server
        got = pfi.call([script, "state"], **extras)
        assert got.status == "exit 0", got
        assert json.loads(got.out)["fds"] == json.loads(want.out)["fds"]


PIPE_WRITER = r'''
import os, sys
import prefork_interp
prefork_interp.initialisation_complete()
os.write(9, b"from the call\n")
os.close(9)
sys.stdin.read()        # until the test has seen the end of the pipe
'''


def test_a_pipe_ends_when_the_call_closes_it(pfi):
    """`script 9>(reader)`: the reader sees end of file when the script
    closes its end, not when the client exits: nothing else holds it."""
    script = pfi.script("pipe-writer.py", PIPE_WRITER)
    for _ in range(5):      # the first call starts the server
        read_end, write_end = os.pipe()
        p = subprocess.Popen([script], stdin=subprocess.PIPE,
                             env=pfi.environ, cwd=pfi.dir,
                             **only_at({9: write_end}))
        os.close(write_end)
        try:
            with os.fdopen(read_end, "rb") as reader:
                ready, _, _ = select.select([reader], [], [], 30)
                assert ready, "nothing from the call"
                assert reader.read() == b"from the call\n", \
                    "end of file once the call closed its end"
        finally:
            p.communicate(timeout=30)
        assert p.returncode == 0
