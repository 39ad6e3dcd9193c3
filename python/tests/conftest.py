import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness  # noqa: E402


@pytest.fixture(scope="module")
def pfi():
    """A private run directory and temp directory for one test file;
    at the end, every server it started must be gone."""
    env = harness.Env()
    yield env
    assert env.cleanup() is not False, "servers left behind"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "root: needs root (acts as a second user)")
