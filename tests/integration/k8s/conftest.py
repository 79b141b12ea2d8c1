"""Fixtures for the Kubernetes network-policy suite: one cluster per test module.

``cluster`` is a :class:`K8sCluster` on the module-wide felix host (the lab
and Felix are built once per module, which keeps the suite fast); after
every test, whatever it applied or relabelled is put back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.felix.conftest import FelixHost, felix_host, felix_lab_factory
from tests.integration.k8s.cluster import K8sCluster

__all__ = ["cluster", "felix_host", "felix_lab_factory"]


@pytest.fixture(scope="module")
def k8s_cluster(felix_host: FelixHost) -> K8sCluster:
    cluster = K8sCluster(felix_host)
    cluster.start()
    return cluster


@pytest.fixture
def cluster(k8s_cluster: K8sCluster) -> Iterator[K8sCluster]:
    yield k8s_cluster
    k8s_cluster.reset()
