"""Fixtures: lab clusters with a real calico-node on every host, torn down whatever happens.

* ``state_root``: one short private lab state directory for this package
  (BIRD's control socket path must fit in 108 bytes, which pytest's
  ``tmp_path`` may not), exported as ``CALICO_LAB_STATE_DIR`` so that the
  lab library and every process it starts find it.
* ``make_lab(hosts=, subnets=, encap=)``: a lab that is up -- every host's
  calico-node ready and, when BGP runs, a full mesh Established -- with a
  random name, torn down at the end of the test even when bring-up failed
  half-way.
* ``mesh``: one 3-host BGP lab with a CNI workload per host, shared by the
  mesh, external-peer and resilience tests (about 5 s saved per test).
  Tests on it must leave it as they found it: a full mesh, converged.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from calico.lab import cluster
from calico.lab.state import STATE_ROOT_ENV, teardown

from ._routing import RoutingLab

MakeLab = Callable[..., RoutingLab]


def _usable() -> str | None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "needs root and iproute2"
    if shutil.which("bird") is None:
        return "needs BIRD 2 (Debian bird2)"
    return None


@pytest.fixture(scope="package")
def state_root() -> Iterator[Path]:
    reason = _usable()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="rt-"))
    previous = os.environ.get(STATE_ROOT_ENV)
    os.environ[STATE_ROOT_ENV] = str(root)
    try:
        yield root
    finally:
        if previous is None:
            os.environ.pop(STATE_ROOT_ENV, None)
        else:
            os.environ[STATE_ROOT_ENV] = previous
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_labs(root: Path) -> Iterator[MakeLab]:
    """``make(...)`` brings a lab up; every lab made is torn down on exit."""
    names: list[str] = []

    def make(hosts: int = 3, subnets: int = 1, encap: str = "none") -> RoutingLab:
        name = "r" + secrets.token_hex(3)
        names.append(name)  # before up(): a crash half-way is torn down too
        config = cluster.LabConfig(name=name, hosts=hosts, subnets=subnets, encap=encap)
        return RoutingLab(cluster.up(config, timeout=60.0))

    try:
        yield make
    finally:
        for name in names:
            teardown(name, root)


@pytest.fixture
def make_lab(state_root: Path) -> Iterator[MakeLab]:
    with running_labs(state_root) as make:
        yield make


@pytest.fixture(scope="package")
def mesh(state_root: Path) -> Iterator[RoutingLab]:
    """Three hosts, full mesh, workloads w1..w3 (one per host), all reachable."""
    with running_labs(state_root) as make:
        lab = make(hosts=3)
        for host in lab.hosts:
            lab.add_workload(host.name, f"w{host.name.removeprefix('host')}")
        lab.wait_reachable()
        yield lab
