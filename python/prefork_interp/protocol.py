"""Wire codec for the prefork-interp v1 protocol and our extensions.

Pure functions over strings and bytes: nothing here touches a socket or
a file descriptor, so every decoder is unit-tested on byte strings
(python/tests/test_protocol.py).  Every length a peer chooses is checked
against a hard limit before it is used.
"""

import struct

ENV_NAME = "PREFORK_INTERP"
MAGIC = b"PFI\n"
# Item in PREFORK_INTERP's first word by which a client that decodes the
# greeting's xdata length correctly (big-endian) says so.  chiark-utils'
# client reads that length in host byte order, so it must get empty
# xdata; it never sets this item.
XDATA_MARKER = "xdata"
FULL_ARGV = "full-argv"
CALLER_STATE = "caller-state"
SIGNALS = "signals"
EXTRA_FDS = "extra-fds"
# What our server offers a client that announced xdata, in this order
# (as the Perl module does: docs/protocol.md).
OUR_FEATURES = (FULL_ARGV, CALLER_STATE, SIGNALS, EXTRA_FDS)
# The bounds of the Perl module's RequestReader and of the client
# (PFI_REQUEST_MAX, PFI_REQUEST_MAX_STRINGS): Linux starts a program with
# at most 6 MiB of strings, so no caller needs more, and each string
# becomes a Python object: the count is bounded as well as the bytes.
MAX_REQUEST = (6 << 20) + (64 << 10)
MAX_STRINGS = 1 << 18
STATUS_LEN = 4
LENGTH_LEN = 4

# Bits of the client's step-2 byte: the extensions it uses.  A bit may
# only be set for an extension the greeting offered.
USE_CALLER_STATE = 0x01
USE_SIGNALS = 0x02
USE_EXTRA_FDS = 0x04
USE_BITS = {
    CALLER_STATE: USE_CALLER_STATE,
    SIGNALS: USE_SIGNALS,
    EXTRA_FDS: USE_EXTRA_FDS,
}


class ProtocolError(Exception):
    """The peer broke the protocol; the message says how."""


class MalformedStartup(ValueError):
    """PREFORK_INTERP cannot be used; the message says why."""


class Startup:
    """What the client told the setup in PREFORK_INTERP."""

    def __init__(self, secs, nsecs, fds, client_reads_xdata):
        self.secs = secs
        self.nsecs = nsecs
        self.listen, self.call = fds[0], fds[1]
        # The two watcher fds, in the order given; see order_watchers.
        self.watch_fds = (fds[2], fds[3])
        self.client_reads_xdata = client_reads_xdata

    @property
    def start_ns(self):
        """The socket's mtime when the script started, in nanoseconds."""
        return self.secs * 1_000_000_000 + self.nsecs


def parse_startup(value):
    """Parses PREFORK_INTERP: "v1,SECS.NSECS[,more] L,C,W,W[,more][ more]".

    Unknown extra items and words are ignored, as the protocol says.
    Raises MalformedStartup naming the problem."""
    words = value.split(" ")
    if len(words) < 2:
        raise MalformedStartup("expected at least two space-separated words")
    version = words[0].split(",")
    if len(version) < 2 or version[0] != "v1":
        raise MalformedStartup('first word must be "v1,SECS.NSECS" (protocol v1)')
    secs, dot, nsecs = version[1].partition(".")
    if (not _is_digits(secs, 20) or (dot and not _is_digits(nsecs, 9))):
        raise MalformedStartup(f'startup time "{version[1]}" is not SECS.NSECS')
    nsecs = (nsecs + "000000000")[:9]
    items = words[1].split(",")
    if len(items) < 4:
        raise MalformedStartup("second word must list at least four fds")
    fds = []
    for item in items[:4]:
        if not _is_digits(item, 9):
            raise MalformedStartup(f'"{item}" is not an fd number')
        fd = int(item)
        if fd <= 2:
            raise MalformedStartup(f"fd {fd} is a standard stream")
        if fd in fds:
            raise MalformedStartup(f"fd {fd} is listed twice")
        fds.append(fd)
    return Startup(int(secs), int(nsecs), fds, XDATA_MARKER in version[2:])


def _is_digits(text, max_len):
    return 0 < len(text) <= max_len and text.isascii() and text.isdigit()


READ_ONLY, WRITE_ONLY = 0, 1   # O_RDONLY, O_WRONLY access modes


def order_watchers(watch_fds, access_mode):
    """Returns (watchi, watche) from the two watcher fds.

    chiark-utils passes WATCHI before WATCHE; the access modes say which
    is which whatever the order (WATCHE is the read end of the watcher's
    stderr, WATCHI the write end of its stdin), so only an undecidable
    case uses the order.  access_mode maps an fd to its O_ACCMODE bits."""
    first, second = watch_fds
    if access_mode(first) == READ_ONLY and access_mode(second) == WRITE_ONLY:
        return second, first
    return first, second


def encode_greeting(features):
    """The greeting: magic, 4-byte big-endian xdata length, xdata (the
    offered feature tokens separated by single spaces)."""
    xdata = " ".join(features).encode("ascii")
    return MAGIC + struct.pack(">I", len(xdata)) + xdata


def declined_for(client_reads_xdata):
    """What a server sends instead of the greeting when it cannot take
    the call now (it could make no process for it), to a client that
    announced xdata (ours, which then runs the script itself: nothing of
    the call ran); None for other clients, which only get the close."""
    return b"PFI-\0\0\0\0" if client_reads_xdata else None


def features_for(client_reads_xdata):
    """What the greeting offers: our extensions only to a client that
    announced xdata (chiark-utils' client would misread the length, so
    it gets plain v1, as the Perl module does)."""
    return OUR_FEATURES if client_reads_xdata else ()


def offered_bits(features):
    """The step-2 bits a client may set given the offered features."""
    bits = 0
    for name in features:
        bits |= USE_BITS.get(name, 0)
    return bits


def decode_use_byte(data, offered):
    """Decodes the client's step-2 byte: the set of extensions it uses.

    Raises ProtocolError for a bit of an extension that was not offered
    (plain v1 clients always send 0)."""
    if len(data) != 1:
        raise ProtocolError("initial byte missing")
    bits = data[0]
    if bits & ~offered:
        raise ProtocolError(
            f"initial byte is 0x{bits:02x}; only 0x{offered:02x} may be set")
    return bits


def decode_length(data, limit, what):
    """Decodes a 4-byte big-endian length and checks it against limit."""
    if len(data) != LENGTH_LEN:
        raise ProtocolError(f"{what} length is {len(data)} bytes, not 4")
    (length,) = struct.unpack(">I", data)
    if length > limit:
        raise ProtocolError(f"{what} length {length} exceeds {limit}")
    return length


def decode_request(data):
    """Decodes the request: NUL-terminated strings, each environment
    entry NAME=value, an empty string, then the argument strings.

    Returns (env, args): env a list of (name, value) byte pairs in the
    order sent, args the list of argument byte strings.  With our server
    the arguments are "interpreter, script, args..." (full-argv; also
    what chiark-utils' client sends), so at least two are required."""
    if not data.endswith(b"\0"):
        raise ProtocolError("request does not end with NUL")
    # Counted before anything is split: six million empty strings would
    # be six million objects.
    if data.count(b"\0") > MAX_STRINGS + 1:
        raise ProtocolError(f"request has more than {MAX_STRINGS} strings")
    strings = data[:-1].split(b"\0")
    env = []
    for index, entry in enumerate(strings):
        if entry == b"":
            args = strings[index + 1:]
            break
        name, eq, val = entry.partition(b"=")
        if not eq:
            raise ProtocolError('environment entry without "="')
        env.append((name, val))
    else:
        raise ProtocolError("request has no end of environment")
    if len(args) < 2:
        raise ProtocolError(f"request has {len(args)} argument strings; "
                            "interpreter and script are required")
    return env, args


class RequestScanner:
    """Checks a request body as it arrives, so that a fault is refused
    when its bytes come, not when the rest of the body would have (as
    the Perl module's RequestReader): an environment entry without "=",
    more than MAX_STRINGS strings.  decode_request then decodes the
    whole body (and makes the remaining checks)."""

    def __init__(self):
        self.body = bytearray()
        self._scanned = 0       # offset up to which strings are checked
        self._searched = 0      # no NUL in body[_scanned:_searched]
        self._in_env = True
        self._strings = 0

    def feed(self, chunk):
        """Adds bytes; raises ProtocolError for a fault among them."""
        self.body += chunk
        body, at = self.body, self._scanned
        # The NUL search resumes where the last one stopped: a string
        # fed a byte at a time costs its length, not its square.
        nul = body.find(b"\0", self._searched)
        while nul >= 0:
            if self._in_env and nul == at:
                self._in_env = False
            else:
                self._strings += 1
                if self._strings > MAX_STRINGS:
                    raise ProtocolError(
                        f"request has more than {MAX_STRINGS} strings")
                if self._in_env and body.find(b"=", at, nul) < 0:
                    raise ProtocolError('environment entry without "="')
            at = nul + 1
            nul = body.find(b"\0", at)
        self._scanned = at
        self._searched = len(body)

    def take(self):
        """The body as bytes; the scanner's copy is let go first, so the
        body is held twice only while it is copied."""
        body = bytes(self.body)
        self.body = bytearray()
        return body


def encode_request(env, args):
    """Encodes a request with its length prefix (for tests and tools)."""
    body = b"".join(name + b"=" + val + b"\0" for name, val in env)
    body += b"\0" + b"".join(arg + b"\0" for arg in args)
    return struct.pack(">I", len(body)) + body


def encode_status(wait_status):
    """A wait status as the 4-byte big-endian word of step 5."""
    if not 0 <= wait_status <= 0xFFFF:
        raise ValueError(f"impossible wait status {wait_status:#x}")
    return struct.pack(">I", wait_status)


# ---------------------------------------------------------------- signals
# The `signals` extension (docs/protocol.md): client -> server one byte
# per relayed signal; server -> client 4-byte wait-status words.

MAX_SIGNAL = 64
CONTINUED_WORD = 0xFFFF


def decode_signals(data):
    """The signal numbers in bytes a relaying client sent.  Raises
    ProtocolError naming the first byte outside 1..64."""
    for byte in data:
        if not 1 <= byte <= MAX_SIGNAL:
            raise ProtocolError(f"client relayed byte {byte}, which is not "
                                "a signal number")
    return list(data)


def change_word(wait_status):
    """The word telling a relaying client that the call stopped (a
    WIFSTOPPED status) or continued (0xffff); None for any other status
    (an ending, reported as in step 5)."""
    if wait_status == CONTINUED_WORD:
        return struct.pack(">I", CONTINUED_WORD)
    if wait_status & 0xFF == 0x7F and wait_status <= 0xFFFF:
        return struct.pack(">I", wait_status)
    return None


# -------------------------------------------------------------- extra-fds
# The `extra-fds` extension (docs/protocol.md): after the request and any
# caller-state block, a 4-byte big-endian length L = 4 * N, N fd numbers
# (big-endian, strictly ascending, each 3 .. 2^31-1), then N one-byte
# messages carrying one fd each.  The bounds are the client's
# (PFI_EXTRA_FDS_MAX): more fds than that and it runs the script itself.

MAX_EXTRA_FDS = 64
MAX_FD_NUMBER = 2**31 - 1


def _extra_fds_count(length):
    """N from the block's length L, or ProtocolError (pure)."""
    if length % 4:
        raise ProtocolError(f"extra-fds length {length} is not a multiple "
                            "of 4")
    count = length // 4
    if count == 0:
        raise ProtocolError("extra-fds length 0: no fd")
    if count > MAX_EXTRA_FDS:
        raise ProtocolError(f"extra-fds length {length}: {count} fds, more "
                            f"than {MAX_EXTRA_FDS}")
    return count


def decode_extra_fds_length(data):
    """The number of fds the block lists, from its 4-byte length: checked
    before a byte of the block is read."""
    if len(data) != LENGTH_LEN:
        raise ProtocolError(f"extra-fds length is {len(data)} bytes, not 4")
    return _extra_fds_count(struct.unpack(">I", data)[0])


def decode_extra_fds(block):
    """The fd numbers the block lists, in order.  Raises ProtocolError
    naming the first fault."""
    count = _extra_fds_count(len(block))
    numbers = list(struct.unpack(f">{count}I", block))
    previous = None
    for number in numbers:
        if number < 3:
            raise ProtocolError(f"extra fd {number} is below 3")
        if number > MAX_FD_NUMBER:
            raise ProtocolError(f"extra fd {number} is above "
                                f"{MAX_FD_NUMBER}")
        if previous is not None and number <= previous:
            raise ProtocolError(f"extra fd {number} follows {previous}: "
                                "not ascending")
        previous = number
    return numbers
