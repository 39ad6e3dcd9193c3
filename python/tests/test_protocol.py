"""The pure codec, on byte strings."""

import struct

import pytest

from prefork_interp import protocol as p


def test_parse_startup_our_client():
    s = p.parse_startup("v1,1700000000.123456789,xdata 5,6,7,8")
    assert (s.secs, s.nsecs, s.listen, s.call, s.watch_fds) == (
        1700000000, 123456789, 5, 6, (7, 8))
    assert s.client_reads_xdata
    assert s.start_ns == 1700000000123456789


def test_parse_startup_chiark_client_and_extras():
    s = p.parse_startup("v1,17.5,later 10,11,12,13,999 more words")
    assert not s.client_reads_xdata
    assert s.nsecs == 500000000
    assert (s.listen, s.call, s.watch_fds) == (10, 11, (12, 13))


@pytest.mark.parametrize("value,problem", [
    ("", "two space-separated words"),
    ("v1,1.0", "two space-separated words"),
    ("v2,1.0 3,4,5,6", "protocol v1"),
    ("v1 3,4,5,6", "protocol v1"),
    ("v1,abc 3,4,5,6", "is not SECS.NSECS"),
    ("v1,1.1234567890 3,4,5,6", "is not SECS.NSECS"),
    ("v1,1.-1 3,4,5,6", "is not SECS.NSECS"),
    ("v1,1.0 3,4,5", "at least four fds"),
    ("v1,1.0 3,4,x,6", '"x" is not an fd number'),
    ("v1,1.0 3,4,-5,6", '"-5" is not an fd number'),
    ("v1,1.0 1,4,5,6", "fd 1 is a standard stream"),
    ("v1,1.0 3,4,3,6", "fd 3 is listed twice"),
    ("v1,1.0 3,4,5,1234567890", "is not an fd number"),
    ("v1,١.0 3,4,5,6", "is not SECS.NSECS"),
])
def test_parse_startup_malformed(value, problem):
    with pytest.raises(p.MalformedStartup, match=problem):
        p.parse_startup(value)


def test_order_watchers_by_access_mode():
    modes = {7: p.WRITE_ONLY, 8: p.READ_ONLY}
    assert p.order_watchers((7, 8), modes.get) == (7, 8)   # chiark order
    modes = {7: p.READ_ONLY, 8: p.WRITE_ONLY}
    assert p.order_watchers((7, 8), modes.get) == (8, 7)   # design order
    modes = {7: 2, 8: 2}                                   # undecidable
    assert p.order_watchers((7, 8), modes.get) == (7, 8)


def test_greeting():
    assert p.encode_greeting([]) == b"PFI\n\0\0\0\0"
    assert p.encode_greeting(["full-argv"]) == b"PFI\n\0\0\0\x09full-argv"
    assert p.encode_greeting(["full-argv", "signals"]) == \
        b"PFI\n\0\0\0\x11full-argv signals"


def test_declined():
    # What the C client's pfi_greeting_head_declined() recognises; only
    # to our client (announced xdata).
    assert p.declined_for(True) == b"PFI-\0\0\0\0"
    assert p.declined_for(False) is None


def test_use_byte():
    assert p.offered_bits(["full-argv"]) == 0
    assert p.offered_bits(["full-argv", "caller-state", "signals"]) == 3
    assert p.decode_use_byte(b"\0", 0) == 0
    assert p.decode_use_byte(b"\x02", 3) == 2
    with pytest.raises(p.ProtocolError, match="initial byte is 0x01"):
        p.decode_use_byte(b"\x01", 0)
    with pytest.raises(p.ProtocolError, match="0x04"):
        p.decode_use_byte(b"\x04", 3)
    with pytest.raises(p.ProtocolError):
        p.decode_use_byte(b"", 0)


def test_length():
    assert p.decode_length(b"\0\0\1\0", 1000, "request") == 256
    assert p.decode_length(struct.pack(">I", p.MAX_REQUEST), p.MAX_REQUEST,
                           "request") == p.MAX_REQUEST
    with pytest.raises(p.ProtocolError, match="request length 2147483647 exceeds"):
        p.decode_length(b"\x7f\xff\xff\xff", p.MAX_REQUEST, "request")
    with pytest.raises(p.ProtocolError):
        p.decode_length(b"\0\0\0", 10, "request")


def test_request_round_trip():
    env = [(b"A", b"1"), (b"EMPTY", b""), (b"EQ", b"x=y"), (b"\xff", b"\xfe")]
    args = [b"python3", b"/s.py", b"", b"a b", b"\xff"]
    wire = p.encode_request(env, args)
    (length,) = struct.unpack(">I", wire[:4])
    assert length == len(wire) - 4
    assert p.decode_request(wire[4:]) == (env, args)


def test_request_no_environment():
    assert p.decode_request(b"\0python3\0s\0") == ([], [b"python3", b"s"])


@pytest.mark.parametrize("body,problem", [
    (b"A=1\0\0python3\0script", "does not end with NUL"),
    (b"", "does not end with NUL"),
    (b"A=1\0B=2\0", "no end of environment"),
    (b"NOEQUALS\0\0python3\0script\0", 'without "="'),
    (b"A=1\0\0python3\0", "1 argument strings"),
    (b"A=1\0\0", "0 argument strings"),
])
def test_request_malformed(body, problem):
    with pytest.raises(p.ProtocolError, match=problem):
        p.decode_request(body)


def test_status():
    assert p.encode_status(0) == b"\0\0\0\0"
    assert p.encode_status(7 << 8) == b"\0\0\x07\0"
    assert p.encode_status(9) == b"\0\0\0\x09"
    for bad in (-1, 0x10000):
        with pytest.raises(ValueError):
            p.encode_status(bad)


def test_request_string_bound():
    """At most MAX_STRINGS entries and arguments (as the Perl module's
    RequestReader and the client): counted before anything is split."""
    most = b"\0" + b"\0" * p.MAX_STRINGS          # separator + strings
    env, args = p.decode_request(most)
    assert env == [] and len(args) == p.MAX_STRINGS
    with pytest.raises(p.ProtocolError, match="more than 262144 strings"):
        p.decode_request(most + b"\0")
    assert p.MAX_REQUEST == 6 * 1024 * 1024 + 64 * 1024


def test_scanner_refuses_a_fault_when_it_arrives():
    # The body is to be 1000 bytes; the entry without "=" is refused at
    # once, not when (if ever) the rest comes.
    s = p.RequestScanner()
    s.feed(b"A=1\0NO")
    with pytest.raises(p.ProtocolError, match='environment entry without "="'):
        s.feed(b"EQUALS\0")


def test_scanner_arguments_need_no_equals():
    s = p.RequestScanner()
    for byte in b"A=1\0\0interp\0script\0plain\0":
        s.feed(bytes([byte]))    # a byte at a time
    assert p.decode_request(s.take()) == (
        [(b"A", b"1")], [b"interp", b"script", b"plain"])


def test_scanner_string_bound():
    s = p.RequestScanner()
    s.feed(b"A=1\0\0" + b"\0" * (p.MAX_STRINGS - 1))
    with pytest.raises(p.ProtocolError, match="more than 262144 strings"):
        s.feed(b"\0")


# ---------------------------------------------------------------- extra-fds
# The block after the request and any caller-state block: a 4-byte
# length L = 4 * N (1 <= N <= 64), then N big-endian fd numbers,
# strictly ascending, each 3 .. 2^31-1 (docs/protocol.md).

def test_extra_fds_offered_with_its_bit():
    assert p.OUR_FEATURES == ("full-argv", "caller-state", "signals",
                              "extra-fds")
    assert p.USE_EXTRA_FDS == 0x04
    assert p.offered_bits(p.OUR_FEATURES) == 0x07
    assert p.decode_use_byte(b"\x04", 0x07) == 0x04
    assert p.decode_use_byte(b"\x07", 0x07) == 0x07


def extra_block(*numbers):
    return b"".join(struct.pack(">I", n) for n in numbers)


def test_extra_fds_good():
    assert p.decode_extra_fds_length(struct.pack(">I", 4)) == 1
    assert p.decode_extra_fds_length(struct.pack(">I", 256)) == 64
    assert p.decode_extra_fds(extra_block(3)) == [3]
    assert p.decode_extra_fds(extra_block(3, 9, 63, 200)) == [3, 9, 63, 200]
    assert p.decode_extra_fds(extra_block(2**31 - 1)) == [2**31 - 1]
    most = list(range(3, 3 + 64))
    assert p.decode_extra_fds(extra_block(*most)) == most


@pytest.mark.parametrize("length,problem", [
    (0, "extra-fds length 0: no fd"),
    (6, "extra-fds length 6 is not a multiple of 4"),
    (3, "extra-fds length 3 is not a multiple of 4"),
    (260, "extra-fds length 260: 65 fds, more than 64"),
    (2**32 - 4, "extra-fds length 4294967292: 1073741823 fds, "
     "more than 64"),
])
def test_extra_fds_bad_length(length, problem):
    with pytest.raises(p.ProtocolError, match=problem):
        p.decode_extra_fds_length(struct.pack(">I", length))


def test_extra_fds_length_field_is_four_bytes():
    with pytest.raises(p.ProtocolError, match="extra-fds length is 3 bytes"):
        p.decode_extra_fds_length(b"\0\0\4")


@pytest.mark.parametrize("block,problem", [
    (b"", "extra-fds length 0: no fd"),
    (b"\0\0\0\3\0\0", "extra-fds length 6 is not a multiple of 4"),
    (extra_block(*range(3, 3 + 65)), "length 260: 65 fds, more than 64"),
    (extra_block(9, 3), "extra fd 3 follows 9: not ascending"),
    (extra_block(3, 9, 9), "extra fd 9 follows 9: not ascending"),
    (extra_block(2), "extra fd 2 is below 3"),
    (extra_block(0, 4), "extra fd 0 is below 3"),
    (extra_block(5, 2**31), "extra fd 2147483648 is above 2147483647"),
    (extra_block(2**32 - 1), "extra fd 4294967295 is above 2147483647"),
])
def test_extra_fds_bad_block(block, problem):
    with pytest.raises(p.ProtocolError, match=problem):
        p.decode_extra_fds(block)
