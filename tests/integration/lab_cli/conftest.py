"""Fixtures for driving ``calico lab`` as a user does: the installed command, real output.

* ``state_root``: one short private state directory for the session (BIRD's
  control socket path must fit in 108 bytes, which pytest's tmp_path may
  not), handed to every ``calico`` run through ``CALICO_LAB_STATE_DIR``.
* ``calico(*args)``: runs ``.venv/bin/calico ...`` and returns the completed
  process (text stdout/stderr and the exit code), never raising.
* ``lab_names``: names appended are torn down after the test, whatever
  happened, with the library call (so a broken ``down`` cannot leak).
* ``shared_lab``: one 2-host lab for the whole module that uses it; tests on
  it add their own uniquely named workloads.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from calico.lab.state import STATE_ROOT_ENV, teardown

CALICO = str(Path(sys.executable).parent / "calico")
Run = Callable[..., subprocess.CompletedProcess[str]]


def unique(prefix: str = "t") -> str:
    return prefix + secrets.token_hex(3)


@pytest.fixture(scope="session")
def state_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="cl-"))
    previous = os.environ.get(STATE_ROOT_ENV)
    os.environ[STATE_ROOT_ENV] = str(root)  # for teardown() in finalizers, and children
    yield root
    if previous is None:
        os.environ.pop(STATE_ROOT_ENV, None)
    else:
        os.environ[STATE_ROOT_ENV] = previous
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def calico(state_root: Path) -> Run:
    def run(
        *args: str, timeout: float = 180.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, STATE_ROOT_ENV: str(state_root), **(env or {})}
        return subprocess.run(
            [CALICO, *args], capture_output=True, text=True, timeout=timeout, env=full_env
        )

    return run


@pytest.fixture
def lab_names(state_root: Path) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        teardown(name)


@pytest.fixture(scope="module")
def shared_lab(calico: Run, state_root: Path) -> Iterator[str]:
    name = unique("s")
    try:
        up = calico("lab", "up", "--name", name, "--hosts", "2")
        assert up.returncode == 0, up.stderr
        yield name
    finally:
        teardown(name)


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].strip() if lines else ""


def wait_for(check: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Policy reaches the dataplane asynchronously: retry ``check`` until it holds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.3)
