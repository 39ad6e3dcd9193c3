"""The package installs as Python users expect: with pip into a venv
(offline, with Debian's setuptools and wheel), and by meson install into the
interpreter's purelib directory; installed, a script runs through the
client without PYTHONPATH."""

import os
import shutil
import subprocess
import sys

import pytest

import harness


def test_pip_install_into_venv(tmp_path, pfi):
    if subprocess.run([sys.executable, "-c", "import ensurepip, venv"],
                      capture_output=True).returncode != 0:
        pytest.fail("python3-venv is missing (./setup-tests installs it)")
    src = tmp_path / "src"
    shutil.copytree(harness.PYLIB, src,
                    ignore=shutil.ignore_patterns("tests", "__pycache__",
                                                  "build", "*.egg-info"))
    venv = tmp_path / "venv"
    # Offline, the build needs Debian's setuptools and wheel: the venv
    # sees the system's packages (its own site-packages come first).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                    str(venv)], check=True)
    py = str(venv / "bin" / "python3")
    p = subprocess.run([py, "-m", "pip", "install", "--no-index",
                        "--no-build-isolation", "--quiet", str(src)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    env = {k: v for k, v in pfi.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([py, "-c", "import prefork_interp; "
                            "print(prefork_interp.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(venv)), where.stdout
    # And a script served through the client by the venv's interpreter.
    script = pfi.script("venv.py", "import sys, prefork_interp\n"
                        "prefork_interp.initialisation_complete()\n"
                        "print(prefork_interp.__file__.startswith(sys.prefix))\n",
                        interp=f"-U,{py}")
    for _ in range(2):
        r = pfi.call([script], unset=["PYTHONPATH"])
        assert (r.status, r.out) == ("exit 0", b"True\n"), r


def test_meson_install(tmp_path):
    # meson test passes the build tree as PFI_TEST_BASE.
    build = os.environ.get("PFI_TEST_BASE") or os.path.join(
        harness.SOURCE_ROOT, "build")
    if not os.path.exists(os.path.join(build, "build.ninja")):
        pytest.skip(f"no meson build tree at {build}")
    dest = tmp_path / "dest"
    p = subprocess.run(["meson", "install", "-C", build, "--no-rebuild",
                        "--destdir", str(dest)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    found = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs
             if f == "protocol.py" and d.endswith("prefork_interp")]
    assert len(found) == 1, found
    # Every module of the package: a file missing from python/meson.build's
    # list would be missing only where meson installed it.
    source = os.path.join(harness.PYLIB, "prefork_interp")
    want = sorted(f for f in os.listdir(source) if f.endswith(".py"))
    got = sorted(f for f in os.listdir(os.path.dirname(found[0]))
                 if f.endswith(".py"))
    assert got == want
    pkg = os.path.dirname(os.path.dirname(found[0]))
    r = subprocess.run([sys.executable, "-c", "import prefork_interp.server, "
                        "prefork_interp; print(prefork_interp.__file__)"],
                       env={"PYTHONPATH": pkg}, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith(pkg), r
