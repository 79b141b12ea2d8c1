"""Three hosts, full mesh: sessions, kernel routes, workload reachability."""

from __future__ import annotations

import ipaddress

import pytest

from calico.bgp.peers import protocol_name
from calico.lab.probe import probe

from ._cluster import BgpCluster
from .conftest import MakeCluster

pytestmark = pytest.mark.root


def mesh_names(cluster: BgpCluster, me: str) -> set[str]:
    return {
        protocol_name("Mesh", ipaddress.IPv4Address(h.ip))
        for h in cluster.fab.hosts
        if h.name != me
    }


def test_mesh_routes_blocks_and_workloads_reach_each_other(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(hosts=3)
    hosts = cluster.fab.hosts
    cluster.add_nodes()
    cluster.add_pool()
    ips = {h.name: cluster.assign(h, f"wl-{h.name}") for h in hosts}
    blocks = {h.name: cluster.blocks(h) for h in hosts}
    assert all(len(b) == 1 for b in blocks.values())
    cluster.start_all()

    for h in hosts:
        cluster.wait_established(h, mesh_names(cluster, h.name))
    for h in hosts:
        wanted = {f"blackhole {blocks[h.name][0]}"} | {
            f"unicast {blocks[o.name][0]} via {o.ip}" for o in hosts if o is not h
        }
        cluster.wait_routes(h, wanted)

    workloads = {h.name: cluster.workload(h, f"w{h.name[-1]}", ips[h.name]) for h in hosts}
    for src in workloads.values():
        for dst in workloads.values():
            if src is not dst:
                assert probe(src.netns, dst.ip, 80), f"{src.name} -> {dst.name}"

    # A second workload in host2's existing block needs no BGP change at all.
    configs = {h.name: cluster.config_path(h).read_text() for h in hosts}
    routes = {h.name: cluster.bird_routes(h) for h in hosts}
    extra_ip = cluster.assign(hosts[1], "wl-extra")
    assert ipaddress.ip_address(extra_ip) in ipaddress.ip_network(blocks["host2"][0])
    extra = cluster.workload(hosts[1], "extra", extra_ip)
    assert probe(workloads["host1"].netns, extra.ip, 80)
    assert probe(extra.netns, workloads["host3"].ip, 80)
    assert {h.name: cluster.config_path(h).read_text() for h in hosts} == configs
    assert {h.name: cluster.bird_routes(h) for h in hosts} == routes
