"""extrafds.place() and held_by_script() on their own, in forked
children holding nothing above 2 but what each case opens: the received
fds (close-on-exec, at whatever numbers they arrived) put at their
numbers in place: swaps and longer cycles, chains, fds already at their
number, fds packed up to a hard limit on open files that leaves one
number free, or none; each at its number, pointing at its own file,
inheritable, the soft limit put back, and nothing else left open."""

import os
import random
import resource

import pytest

from prefork_interp import extrafds

REPORT_FD = 999     # the child's pipe back: above every limit set


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One file per number a caller's fd can want here, so that an fd
    placed at another's number shows."""
    d = tmp_path_factory.mktemp("extrafds")
    paths = {n: str(d / f"for-{n}") for n in range(3, 81)}
    for path in paths.values():
        open(path, "w").close()
    return paths


def in_bare_child(code):
    """Runs code() in a child with nothing open above 2 but its pipe
    back; returns what it returned (a str), or the exception."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(w, REPORT_FD, inheritable=False)
            for name in os.listdir("/proc/self/fd"):
                if int(name) > 2 and int(name) != REPORT_FD:
                    try:
                        os.close(int(name))
                    except OSError:
                        pass
            try:
                out = code()
            except BaseException as e:
                out = f"raised: {type(e).__name__}: {e}"
            data = out.encode()
            while data:
                data = data[os.write(REPORT_FD, data):]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def open_above_2():
    """'N TARGET inherit|cloexec' for every fd above 2 but the report's
    (the listing's own is gone once listed)."""
    rows = []
    for n in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        if n <= 2 or n == REPORT_FD:
            continue
        try:
            target = os.readlink(f"/proc/self/fd/{n}")
            flag = "inherit" if os.get_inheritable(n) else "cloexec"
        except OSError:
            continue
        rows.append(f"{n} {target} {flag}")
    return rows


def receive_at(at, files):
    """The fd wanted at number W opened (close-on-exec, as received) on
    number at[W], each the lowest free when its turn comes; numbers in
    between hold /dev/null until all are open."""
    wants = {fd: number for number, fd in at.items()}
    filler = []
    for n in range(3, max(wants) + 1):
        path = files[wants[n]] if n in wants else "/dev/null"
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        assert fd == n, f"opened {path} on {fd}, not {n}"
        if n not in wants:
            filler.append(fd)
    for fd in filler:
        os.close(fd)


def place_and_report(at, limits, files):
    receive_at(at, files)
    if limits:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    extrafds.place(sorted(at.items()), held=[])
    after = resource.getrlimit(resource.RLIMIT_NOFILE)
    rows = open_above_2()
    rows.append(f"limits {after[0]} {after[1]}"
                + ("" if after == before else f" (before: {before})"))
    return "\n".join(rows)


def expected(at, limits, files):
    limits = limits or resource.getrlimit(resource.RLIMIT_NOFILE)
    return "\n".join([f"{n} {files[n]} inherit" for n in sorted(at)]
                     + [f"limits {limits[0]} {limits[1]}"])


def placed_ok(at, limits, files):
    got = in_bare_child(lambda: place_and_report(at, limits, files))
    assert got == expected(at, limits, files), f"wanted => received at: {at}"


SHAPES = {
    "swap": {3: 4, 4: 3},
    "cycle of three": {3: 4, 4: 5, 5: 3},
    "chain": {3: 4, 4: 5, 5: 6},
    "in place": {3: 3, 5: 5, 9: 9},
    "onto free numbers, one high": {3: 10, 4: 11, 70: 12},
    "cycles, a chain and one in place": {3: 5, 4: 3, 5: 4, 6: 7, 7: 8,
                                         8: 12, 9: 9, 10: 11, 11: 10},
}


@pytest.mark.parametrize("rep", range(3))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shapes(files, shape, rep):
    placed_ok(SHAPES[shape], None, files)


@pytest.mark.parametrize("rep", range(20))
def test_packed_shuffled_under_hard_limit(files, rep):
    """`ulimit -n 32`, fds 3 to 30 wanted, each received at another of
    them: 31 is the only number free, as a standalone run of a script
    holding them has one at least (to open the script)."""
    wanted = list(range(3, 31))
    at_numbers = wanted[::-1] if rep == 0 else random.sample(wanted, len(wanted))
    placed_ok(dict(zip(wanted, at_numbers)), (32, 32), files)


@pytest.mark.parametrize("rep", range(3))
def test_packed_chain_and_in_place_under_hard_limit(files, rep):
    placed_ok({n: n + 1 for n in range(3, 31)}, (32, 32), files)
    placed_ok({n: n for n in range(3, 31)}, (32, 32), files)


@pytest.mark.parametrize("rep", range(5))
def test_soft_limit_raised_and_put_back(files, rep):
    placed_ok({63: 3, 3: 4, 4: 63}, (10, 64), files)
    wanted = list(range(3, 31))
    placed_ok(dict(zip(wanted, random.sample(wanted, len(wanted)))),
              (32, 40), files)


def test_no_number_free_for_a_cycle(files):
    """Every number below the hard limit taken (which leaves a
    standalone interpreter no room for its script either): OSError,
    and no received fd left open off its number."""
    def code():
        receive_at({3: 4, 4: 3}, files)
        resource.setrlimit(resource.RLIMIT_NOFILE, (5, 5))
        try:
            extrafds.place([(3, 4), (4, 3)], held=[])
        except OSError as e:
            return "\n".join([e.strerror] + open_above_2())
        return "placed"
    assert in_bare_child(code) == "Too many open files"


def test_held_numbers_are_closed_not_placed(files):
    def code():
        receive_at({3: 4, 5: 5}, files)
        mine = os.open("/dev/null", os.O_RDONLY)    # the script's, on 3
        assert mine == 3
        extras = [(3, 4), (5, 5)]
        held = extrafds.held_by_script(extras, server_fds=[])
        extrafds.place(extras, held)
        return "\n".join([f"held {held}"] + open_above_2())
    assert in_bare_child(code) == "\n".join([
        "held [3]", "3 /dev/null cloexec", f"5 {files[5]} inherit"])


def test_held_by_script_without_a_free_number():
    """Every number taken: told all the same (the received fds and the
    server's are the module's, not the script's)."""
    def code():
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
        taken = []
        try:
            while True:
                taken.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        held = extrafds.held_by_script([(3, 10), (10, 3), (39, 20), (40, 21)],
                                       server_fds=[20])
        return f"{len(taken)} {held}"
    assert in_bare_child(code) == "37 [39]"
