"""Inputs for the differential fuzzing of the extra-fds decoder
(fuzz_decoders.py): random valid blocks and edits of their numbers and
length field (docs/protocol.md, "extra-fds"); byte mutations are
fuzz_decoders.mutate's."""

import struct

# PFI_EXTRA_FDS_MAX, written here again on purpose: the decoder's own
# constant is what is under test.
MAX_FDS = 64
LARGEST = 2**31 - 1
NUMBER_EDGES = [0, 1, 2, 3, 4, 5, 63, 64, 255, 256, 1023, 1024, 65535,
                65536, LARGEST - 1, LARGEST, LARGEST + 1, LARGEST + 2,
                2**32 - 2, 2**32 - 1]
LENGTH_EDGES = [0, 1, 2, 3, 4, 5, 8, 4 * MAX_FDS - 1, 4 * MAX_FDS,
                4 * MAX_FDS + 1, 4 * MAX_FDS + 4, 4 * MAX_FDS + 8,
                0x7FFFFFFC, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFC, 0xFFFFFFFF]


def block(numbers):
    """The block as a client sends it, length field included."""
    return struct.pack(f">I{len(numbers)}I", 4 * len(numbers), *numbers)


def random_number(rng):
    r = rng.random()
    if r < 0.15:
        return rng.choice(NUMBER_EDGES)
    if r < 0.6:
        return 3 + rng.randrange(100)
    return 3 + rng.randrange(LARGEST - 2)


def random_list(rng):
    """1..64 strictly ascending numbers from 3 to 2^31-1; often 1 or 64
    of them, or 3 and 2^31-1 at the ends."""
    r = rng.random()
    want = 1 if r < 0.1 else MAX_FDS if r < 0.2 else 1 + rng.randrange(MAX_FDS)
    fds = sorted({n for n in (random_number(rng) for _ in range(want))
                  if 3 <= n <= LARGEST})
    if not fds:
        return [3]
    if rng.random() < 0.1:
        fds[0] = 3
    if rng.random() < 0.1:
        fds[-1] = LARGEST
    return fds


def edit_numbers(rng, fds):
    """The list edited so that its numbers decide: one at an edge, equal
    to or below its neighbour, off by one, dropped, repeated, or the
    list grown to 65."""
    fds = list(fds) or [3]
    i = rng.randrange(len(fds))
    op = rng.randrange(7)
    if op == 0:
        fds[i] = rng.choice(NUMBER_EDGES)
    elif op == 1 and len(fds) > 1:
        fds[i] = fds[i - 1 if i else 1]
    elif op == 2 and len(fds) > 1:
        j = i - 1 if i else 1
        fds[i], fds[j] = fds[j], fds[i]
    elif op == 3:
        fds[i] += rng.choice((-1, 1))
    elif op == 4:
        del fds[i]
    elif op == 5:
        fds.insert(i, fds[i] + rng.choice((0, 1)))
    else:
        while len(fds) < MAX_FDS + 1:
            fds.append(fds[-1] + 1)
    return [min(max(n, 0), 2**32 - 1) for n in fds]


def length_edge_blocks(rng, fds):
    """A length field at an edge over the list's numbers, and (when it
    fits) over a body exactly as long as the field says."""
    length = rng.choice(LENGTH_EDGES)
    body = struct.pack(f">{len(fds)}I", *fds)
    yield "length field at an edge", struct.pack(">I", length) + body
    if length <= 4 * (MAX_FDS + 1):
        ascending = struct.pack(f">{MAX_FDS + 1}I", *range(3, MAX_FDS + 4))
        yield ("body as long as the field",
               struct.pack(">I", length) + ascending[:length])
