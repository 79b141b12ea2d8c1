"""CNI GC: what the runtime no longer lists goes; everything else stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calico.datastore.keys import resource_key
from calico.datastore.sqlite import SqliteDatastore

from .conftest import NETWORK, Cluster, allocated, endpoints, handles, network_config
from .runtime import PluginError

pytestmark = pytest.mark.root


def test_gc_removes_stale_endpoints_and_addresses_of_this_node_and_network(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    conf1 = network_config(datastore, "host1", tmp_path, version="1.1.0")
    conf2 = network_config(datastore, "host2", tmp_path, version="1.1.0")
    other_net = {**conf1, "name": "othernet"}
    rt1, rt2 = cluster.runtime("host1"), cluster.runtime("host2")
    keep, stale1, stale2 = (cluster.container(n) for n in ("keep", "stale1", "stale2"))
    elsewhere, other = cluster.container("elsewhere"), cluster.container("other")
    for att in (keep, stale1, stale2):
        rt1.add(conf1, att)
    rt2.add(conf2, elsewhere)  # host2's: host1's runtime knows nothing of it
    rt1.add(other_net, other)  # another network on the same host
    foreign_name = "host1-openstack-vm1-tap1"  # an endpoint someone else wrote
    foreign = {"apiVersion": "projectcalico.org/v3", "kind": "WorkloadEndpoint",
               "metadata": {"name": foreign_name, "namespace": "default"},
               "spec": {"orchestrator": "openstack", "node": "host1", "workload": "vm1",
                        "endpoint": "tap1", "interfaceName": "tap1"}}  # fmt: skip
    with SqliteDatastore(str(datastore)) as ds:
        ds.create(resource_key("WorkloadEndpoint", foreign_name, "default"), json.dumps(foreign))

    rt1.gc(conf1, valid=[keep])

    remaining = {w["spec"].get("containerID") for w in endpoints(datastore).values()}
    assert remaining == {keep.container_id, elsewhere.container_id, other.container_id, None}
    assert foreign_name in endpoints(datastore)
    assert handles(datastore) == {
        f"{NETWORK}.{keep.container_id}",
        f"{NETWORK}.{elsewhere.container_id}",
        f"othernet.{other.container_id}",
    }
    links = cluster.host("host1").ip_cmd("-br", "link")
    assert "cali" + stale1.container_id[:11] not in links
    assert "cali" + keep.container_id[:11] in links
    rt1.check(conf1, keep)  # the valid attachment is intact

    rt1.gc(conf1, valid=[])
    assert handles(datastore) == {
        f"{NETWORK}.{elsewhere.container_id}",
        f"othernet.{other.container_id}",
    }
    assert len(allocated(datastore)) == 2


def test_gc_needs_spec_1_1(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    conf = network_config(datastore, "host1", tmp_path, version="1.0.0")
    conf["cniVersion"] = "1.1.0"
    conf["cniVersions"] = ["1.0.0"]  # the runtime picks the highest: 1.1.0
    cluster.runtime("host1").gc(conf, valid=[])
    with pytest.raises(PluginError) as info:
        cluster.runtime("host1").gc({**conf, "cniVersion": "1.0.0", "cniVersions": []}, valid=[])
    assert info.value.code == 1


def test_gc_with_host_local_ipam(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    """host-local predates GC: it is not forwarded there, and the endpoints still go."""
    conf = network_config(datastore, "host1", tmp_path, version="1.0.0")
    conf["ipam"] = {"type": "host-local", "subnet": "10.245.1.0/24", "dataDir": str(tmp_path)}
    runtime = cluster.runtime("host1")
    att = cluster.container("hl")
    runtime.add(conf, att)
    runtime.gc({**conf, "cniVersion": "1.1.0"}, valid=[])
    assert endpoints(datastore) == {}
