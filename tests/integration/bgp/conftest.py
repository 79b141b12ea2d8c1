"""Fixtures: lab clusters (random names, torn down whatever happens) running calico-bgp + BIRD."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from calico.lab.fabric import Fabric

from ..lab.conftest import lab_names, lab_root, unique_lab_name
from ._cluster import BgpCluster

__all__ = ["lab_names", "lab_root"]

MakeCluster = Callable[..., BgpCluster]


@pytest.fixture
def make_cluster(lab_names: list[str]) -> Iterator[MakeCluster]:
    if shutil.which("bird") is None:
        pytest.skip("needs BIRD 2 (Debian bird2)")
    clusters: list[BgpCluster] = []

    def make(hosts: int = 3) -> BgpCluster:
        name = unique_lab_name()
        lab_names.append(name)  # torn down by lab_names even if BgpCluster() fails
        cluster = BgpCluster(Fabric.create(name, hosts))
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.close()
