"""A failed ADD leaves nothing behind: no address, no veth, no route, no endpoint.

Each test makes one step of ADD fail for a real reason (the kernel refuses an
MTU, the pool is full, a route or interface is in the way, the endpoint's
name is taken) and then looks at the kernel and the datastore.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calico.datastore.keys import resource_key
from calico.datastore.sqlite import SqliteDatastore
from calico.lab import netns

from .conftest import (
    NETWORK,
    Cluster,
    allocated,
    endpoints,
    handles,
    network_config,
    ns_of,
    pool_doc,
    seed_datastore,
)
from .runtime import Attachment, PluginError

pytestmark = pytest.mark.root


def assert_nothing_left(cluster: Cluster, datastore: Path, att: Attachment) -> None:
    host = cluster.host("host1")
    assert "cali" + att.container_id[:11] not in host.ip_cmd("-br", "link")
    assert f"{NETWORK}.{att.container_id}" not in handles(datastore)
    assert att.container_id not in {a.split(".")[-1] for a in allocated(datastore).values()}
    assert not [
        w for w in endpoints(datastore).values() if att.container_id in w["metadata"]["name"]
    ]


def add_fails(cluster: Cluster, conf: dict[str, object], att: Attachment) -> PluginError:
    with pytest.raises(PluginError) as info:
        cluster.runtime("host1").add(conf, att)
    return info.value


def test_kernel_refuses_the_mtu(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    att = cluster.container("mtu")
    error = add_fails(cluster, network_config(datastore, "host1", tmp_path, mtu=70000), att)
    assert error.code == 101
    assert "mtu" in error.details.lower()
    assert_nothing_left(cluster, datastore, att)


def test_exhausted_pool(cluster: Cluster, tmp_path: Path) -> None:
    datastore = tmp_path / "small.db"
    seed_datastore(datastore, ["host1"], [pool_doc("tiny", "10.246.0.0/30", 30)])
    conf = network_config(datastore, "host1", tmp_path)
    runtime = cluster.runtime("host1")
    for i in range(4):
        runtime.add(conf, cluster.container(f"f{i}"))
    att = cluster.container("full")
    error = add_fails(cluster, conf, att)
    assert error.code == 100
    assert "Assigned 0 out of 1 requested IPv4 addresses" in error.details
    assert_nothing_left(cluster, datastore, att)
    assert len(allocated(datastore)) == 4


def test_missing_ipv6_pool_gives_the_ipv4_address_back(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    with SqliteDatastore(str(datastore)) as ds:
        ds.delete(resource_key("IPPool", "default-ipv6"))
    att = cluster.container("v6")
    conf = network_config(datastore, "host1", tmp_path, ipam={"assign_ipv6": "true"})
    assert add_fails(cluster, conf, att).code == 100
    assert_nothing_left(cluster, datastore, att)
    assert allocated(datastore) == {}


def test_host_route_conflict_removes_the_veth(cluster: Cluster, tmp_path: Path) -> None:
    """Another interface already routes the address: refused, veth and address undone."""
    datastore = tmp_path / "conflict.db"
    seed_datastore(datastore, ["host1"], [pool_doc("tiny", "10.247.0.0/30", 30)])
    host = cluster.host("host1")
    taken = [f"10.247.0.{i}/32" for i in range(4)]
    for prefix in taken:
        host.ip_cmd("route", "add", prefix, "dev", "eth0")
    try:
        att = cluster.container("rc")
        error = add_fails(cluster, network_config(datastore, "host1", tmp_path), att)
    finally:
        for prefix in taken:
            host.ip_cmd("route", "del", prefix, "dev", "eth0")
    assert error.code == 101
    assert "already exists via eth0" in error.details
    assert "another workload on this host has this address" in error.details
    assert_nothing_left(cluster, datastore, att)
    assert allocated(datastore) == {}


def test_interface_already_in_the_container(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    att = cluster.container("ex")
    netns.ip(ns_of(att), "link", "add", "eth0", "type", "veth", "peer", "name", "other")
    error = add_fails(cluster, network_config(datastore, "host1", tmp_path), att)
    assert error.code == 101
    assert_nothing_left(cluster, datastore, att)
    assert "eth0" in netns.ip(ns_of(att), "-br", "link")  # theirs, untouched


def test_endpoint_write_conflict_undoes_veth_and_address(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    """The endpoint's name is held by an object that is not ours: the create
    fails after the veth exists, and everything is rolled back."""
    att = cluster.container("wc")
    name = f"host1-cni-{att.container_id}-eth0"
    foreign = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "WorkloadEndpoint",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"orchestrator": "cni", "node": "host1", "containerID": "someone-else",
                 "endpoint": "eth0", "interfaceName": "califoreign"},
    }  # fmt: skip
    with SqliteDatastore(str(datastore)) as ds:
        ds.create(resource_key("WorkloadEndpoint", name, "default"), json.dumps(foreign))
    error = add_fails(cluster, network_config(datastore, "host1", tmp_path), att)
    assert error.code == 102
    assert "already exists" in error.details
    host = cluster.host("host1")
    assert "cali" + att.container_id[:11] not in host.ip_cmd("-br", "link")
    assert allocated(datastore) == {}
    assert endpoints(datastore) == {name: foreign}  # untouched
    assert "eth0" not in netns.ip(ns_of(att), "-br", "link")
