"""calico-felix against a real etcd (in the lab's gateway namespace, reached over the fabric)."""

from __future__ import annotations

import shutil

import pytest

from tests.integration.felix.conftest import FelixLab, eventually, resource

pytestmark = [pytest.mark.root, pytest.mark.etcd]

DENY_B = resource(
    "GlobalNetworkPolicy",
    "deny-to-b",
    {"selector": "app == 'b'", "types": ["Ingress"], "ingress": [{"action": "Deny"}]},
)


@pytest.fixture(scope="module")
def lab(felix_lab_factory) -> FelixLab:  # type: ignore[no-untyped-def]
    if shutil.which("etcd") is None:
        pytest.skip("needs the etcd binary (etcd-server)")
    lab: FelixLab = felix_lab_factory(datastore="etcdv3")
    host = lab.hosts["host1"]
    host.add_workload("a", labels={"app": "a"})
    host.add_workload("b", labels={"app": "b"})
    host.start_felix()
    return lab


def test_policy_from_etcd_is_enforced(lab: FelixLab) -> None:
    host = lab.hosts["host1"]
    a, b = host.workloads["a"], host.workloads["b"]
    eventually(lambda: host.probe(a, b), "a -> b allowed by the profile")
    lab.apply(DENY_B)
    eventually(lambda: not host.probe(a, b), "a -> b denied by policy")
    assert host.probe(b, a)
    lab.delete("GlobalNetworkPolicy", "deny-to-b")
    eventually(lambda: host.probe(a, b), "a -> b allowed again")


def test_liveness_written_to_etcd(lab: FelixLab) -> None:
    prefix = "/calico/felix/v2/no-region/host/host1/"
    eventually(lambda: lab.get_raw(prefix + "status") is not None, "felix status in etcd")
    assert lab.get_raw(prefix + "last_reported_status") is not None
