"""Fixtures for lab tests: a private state root and labs torn down on exit.

Every lab gets a random name (``t`` + 6 hex digits) so parallel runs and
leftovers never collide, and is torn down by name in the finalizer even when
the test, or the build itself, failed half-way.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from calico.lab.fabric import Fabric
from calico.lab.state import STATE_ROOT_ENV, teardown

BuildLab = Callable[..., Fabric]


def unique_lab_name() -> str:
    return "t" + secrets.token_hex(3)


@pytest.fixture
def lab_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state root for this test only; child processes inherit it via the env."""
    root = tmp_path / "labs"
    monkeypatch.setenv(STATE_ROOT_ENV, str(root))
    return root


@pytest.fixture
def lab_names(lab_root: Path) -> Iterator[list[str]]:
    """Names appended here are torn down after the test, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        teardown(name)


@pytest.fixture
def build_lab(lab_names: list[str]) -> BuildLab:
    def build(hosts: int = 2, subnets: int = 1) -> Fabric:
        name = unique_lab_name()
        lab_names.append(name)
        return Fabric.create(name, hosts, subnets)

    return build
