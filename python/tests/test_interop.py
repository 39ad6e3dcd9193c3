"""chiark-utils' client (Debian chiark-utils-bin) with our Python
module: plain v1 (no ,xdata, so an empty greeting), argument strings
"interp, script, args..." stripped by the server: sys.argv exact,
statuses exact, the server reused."""

import json
import os

import pytest

import harness

CHIARK = "/usr/bin/prefork-interp"


@pytest.fixture(scope="module")
def chiark(pfi):
    if not os.access(CHIARK, os.X_OK):
        pytest.skip(f"chiark-utils' client is not installed ({CHIARK}, Debian "
                    "chiark-utils-bin; ./setup-tests installs it)")
    script = harness.callee(pfi, "chiark.py")
    ident = f"pfi17py{os.getpid()}"
    cmd = [CHIARK, "-g", ident, "-U", harness.PYTHON, script]
    yield cmd, script
    pfi.call([CHIARK, "--kill", "-g", ident, "-U", harness.PYTHON, script])


def test_argv_env_and_reuse(pfi, chiark):
    cmd, script = chiark
    args = ["state", "", "two words", "-x"]
    first = pfi.call(cmd + args, env={"PFI_CHIARK": "yes"})
    assert first.status == "exit 0", first
    got = json.loads(first.out)
    assert got["argv"] == [script, *args]
    assert got["environ"]["PFI_CHIARK"] == "yes"
    second = json.loads(pfi.call(cmd + ["state"]).out)
    assert second["ppid"] == got["ppid"], "the same server served both"
    assert harness.comm_of(got["ppid"]) == b"pfi-server"


@pytest.mark.parametrize("case", [["exit", "5"], ["raise"], ["kill", "TERM"],
                                  ["end"]], ids=" ".join)
def test_statuses(pfi, chiark, case):
    cmd, script = chiark
    want = pfi.standalone(script, case)
    got = pfi.call(cmd + case)
    assert (got.status, got.out) == (want.status, want.out), got
