"""felix's VXLAN dataplane across three lab hosts on two subnets (pool vxlanMode CrossSubnet).

host1 and host2 share a subnet; host3 sits behind the lab's router, which
does not know workload routes.  So host1 <-> host2 traffic must be routed
natively (``<block> via <host2> dev eth0``) and host1 <-> host3 traffic must
be encapsulated (``<block> via <host3's VTEP> dev vxlan.calico onlink``).
No BGP runs: every route here is felix's.
"""

from __future__ import annotations

import itertools
import json
from functools import partial

import pytest

from tests.integration.felix.conftest import POOL_CIDR, FelixLab, eventually, resource

pytestmark = pytest.mark.root

BLOCK_PREFIX = "/calico/ipam/v2/assignment/ipv4/block/"


def node_doc(lab: FelixLab, name: str, with_vtep: bool = True) -> dict[str, object]:
    host = lab.hosts[name]
    spec: dict[str, object] = {"bgp": {"ipv4Address": host.host.cidr}}
    if with_vtep:
        spec["ipv4VXLANTunnelAddr"] = f"10.65.{host.number}.1"
    return resource("Node", name, spec)


@pytest.fixture(scope="module")
def lab(felix_lab_factory) -> FelixLab:  # type: ignore[no-untyped-def]
    lab: FelixLab = felix_lab_factory(hosts=3, subnets=2)
    lab.apply(resource("IPPool", "pool", {"cidr": POOL_CIDR, "vxlanMode": "CrossSubnet"}))
    for name, host in lab.hosts.items():
        lab.apply(node_doc(lab, name))
        block = {"cidr": host.block, "affinity": f"host:{name}", "allocations": [None] * 64,
                 "unallocated": list(range(64)), "attributes": [], "deleted": False}  # fmt: skip
        lab.put_raw(BLOCK_PREFIX + host.block.replace("/", "-"), block)
        host.add_workload(f"w{host.number}")
    for host in lab.hosts.values():
        host.start_felix(wait=False)
    for host in lab.hosts.values():
        eventually(host.ready, f"felix on {host.name} ready", timeout=30)
    return lab


def test_every_workload_reaches_every_other(lab: FelixLab) -> None:
    workloads = [(h, w) for h in lab.hosts.values() for w in h.workloads.values()]
    for (src_host, src), (_, dst) in itertools.permutations(workloads, 2):
        eventually(partial(src_host.probe, src, dst), f"{src.name} -> {dst.name}")


def test_routes_native_within_the_subnet_and_vxlan_across(lab: FelixLab) -> None:
    host1, host2 = lab.hosts["host1"], lab.hosts["host2"]
    routes = host1.run("ip", "route")
    assert f"10.65.2.0/26 via {host2.host.ip} dev eth0 proto 80" in routes
    assert "10.65.3.0/26 via 10.65.3.1 dev vxlan.calico proto 80 onlink" in routes
    assert "blackhole 10.65.1.0/26 proto 80" in routes


def test_vxlan_device_and_remote_vteps(lab: FelixLab) -> None:
    host1, host3 = lab.hosts["host1"], lab.hosts["host3"]
    link = json.loads(host1.run("ip", "-d", "-j", "link", "show", "vxlan.calico"))[0]
    data = link["linkinfo"]["info_data"]
    assert (data["id"], data["port"], data["local"], data["link"]) == (
        4096, 4789, host1.host.ip, "eth0"
    )  # fmt: skip
    assert link["mtu"] == 1500 - 50
    assert "10.65.1.1/32" in host1.run("ip", "-4", "addr", "show", "vxlan.calico")
    fdb = host1.run("bridge", "fdb", "show", "dev", "vxlan.calico")
    assert f"dst {host3.host.ip} self permanent" in fdb
    neigh = host1.run("ip", "neigh", "show", "dev", "vxlan.calico")
    assert "10.65.3.1 lladdr" in neigh
    assert "PERMANENT" in neigh


def test_a_vtep_that_goes_away_takes_its_routes_and_fdb_entry(lab: FelixLab) -> None:
    host1, host3 = lab.hosts["host1"], lab.hosts["host3"]
    lab.apply(node_doc(lab, "host3", with_vtep=False))
    eventually(lambda: "10.65.3.0/26" not in host1.run("ip", "route"), "route to host3 removed")
    eventually(
        lambda: host3.host.ip not in host1.run("bridge", "fdb", "show", "dev", "vxlan.calico"),
        "host3's FDB entry removed",
    )
    lab.apply(node_doc(lab, "host3"))
    w1, w3 = host1.workloads["w1"], host3.workloads["w3"]
    eventually(lambda: host1.probe(w1, w3), "w1 -> w3 again once the VTEP is back")
