"""Routes from blocks/pools/nodes; pools, host metadata and VTEPs passed through."""

from __future__ import annotations

from typing import Any

from calico.felix.calc.hosts import HostResolver, vtep_mac
from calico.felix.calc.model import BlockModel, NodeModel, PoolModel
from calico.felix.calc.routes import RouteResolver
from calico.felix.messages import (
    EncapType,
    HostMetadataUpdate,
    IPAMPool,
    IPAMPoolUpdate,
    RouteType,
    RouteUpdate,
    VXLANTunnelEndpointUpdate,
)

ME, OTHER, FAR = "host1", "host2", "host3"


class Routes:
    def __init__(self) -> None:
        self.routes: dict[str, RouteUpdate] = {}
        self.resolver = RouteResolver(ME, self)

    def on_route_update(self, update: RouteUpdate) -> None:
        self.routes[update.dst] = update

    def on_route_remove(self, dst: str) -> None:
        del self.routes[dst]


def setup_cluster(r: Routes, mode: str = "CrossSubnet") -> None:
    r.resolver.on_node(ME, NodeModel(ME, "192.168.1.1/24"))
    r.resolver.on_node(OTHER, NodeModel(OTHER, "192.168.1.2/24"))
    r.resolver.on_node(FAR, NodeModel(FAR, "192.168.2.3/24"))
    r.resolver.on_pool("p", PoolModel("p", "10.65.0.0/16", vxlan_mode=mode, nat_outgoing=True))


def test_remote_and_local_block_routes() -> None:
    r = Routes()
    setup_cluster(r)
    r.resolver.on_block("10.65.0.0-26", BlockModel("10.65.0.0/26", ME))
    r.resolver.on_block("10.65.0.64-26", BlockModel("10.65.0.64/26", OTHER))
    r.resolver.on_block("10.65.0.128-26", BlockModel("10.65.0.128/26", FAR))
    common: dict[str, Any] = {"ip_pool_type": EncapType.VXLAN, "nat_outgoing": True}
    assert r.routes == {
        "10.65.0.0/26": RouteUpdate(
            "10.65.0.0/26",
            frozenset({RouteType.LOCAL_WORKLOAD}),
            dst_node_name=ME,
            dst_node_ip="192.168.1.1",
            same_subnet=True,
            **common,
        ),
        "10.65.0.64/26": RouteUpdate(
            "10.65.0.64/26",
            frozenset({RouteType.REMOTE_WORKLOAD}),
            dst_node_name=OTHER,
            dst_node_ip="192.168.1.2",
            same_subnet=True,  # CrossSubnet and in our /24: routed natively
            **common,
        ),
        "10.65.0.128/26": RouteUpdate(
            "10.65.0.128/26",
            frozenset({RouteType.REMOTE_WORKLOAD}),
            dst_node_name=FAR,
            dst_node_ip="192.168.2.3",
            same_subnet=False,
            **common,
        ),
    }


def test_same_subnet_needs_cross_subnet_mode_and_follows_node_changes() -> None:
    r = Routes()
    setup_cluster(r, mode="Always")
    r.resolver.on_block("b", BlockModel("10.65.0.64/26", OTHER))

    def route() -> RouteUpdate:
        return r.routes["10.65.0.64/26"]

    assert not route().same_subnet
    r.resolver.on_pool("p", PoolModel("p", "10.65.0.0/16", ipip_mode="CrossSubnet"))
    assert route().same_subnet
    assert route().ip_pool_type is EncapType.IPIP
    r.resolver.on_node(ME, NodeModel(ME, "192.168.9.1/24"))  # we moved subnet
    assert not route().same_subnet
    r.resolver.on_node(OTHER, None)
    assert route().dst_node_ip == ""
    r.resolver.on_pool("p", None)
    assert route().ip_pool_type is EncapType.NONE


def test_borrowed_addresses_and_block_removal() -> None:
    r = Routes()
    setup_cluster(r)
    r.resolver.on_block(
        "b", BlockModel("10.65.0.64/26", OTHER, (("10.65.0.70/32", ME), ("10.65.0.71/32", FAR)))
    )
    mine = r.routes["10.65.0.70/32"]
    assert (mine.dst_node_name, mine.borrowed, mine.local_workload) == (ME, True, True)
    assert mine.types == frozenset({RouteType.LOCAL_WORKLOAD})
    far = r.routes["10.65.0.71/32"]
    assert (far.dst_node_name, far.borrowed, far.local_workload, far.dst_node_ip) == (
        FAR,
        True,
        False,
        "192.168.2.3",
    )
    r.resolver.on_block("b", BlockModel("10.65.0.64/26", OTHER))
    assert set(r.routes) == {"10.65.0.64/26"}
    r.resolver.on_block("b", None)
    assert r.routes == {}


class Hosts:
    def __init__(self) -> None:
        self.pools: dict[str, IPAMPoolUpdate] = {}
        self.hosts: dict[str, HostMetadataUpdate] = {}
        self.vteps: dict[str, VXLANTunnelEndpointUpdate] = {}
        self.resolver = HostResolver(self)

    def on_pool_update(self, update: IPAMPoolUpdate) -> None:
        self.pools[update.id] = update

    def on_pool_remove(self, pool_id: str) -> None:
        del self.pools[pool_id]

    def on_host_update(self, update: HostMetadataUpdate) -> None:
        self.hosts[update.hostname] = update

    def on_host_remove(self, hostname: str) -> None:
        del self.hosts[hostname]

    def on_vtep_update(self, update: VXLANTunnelEndpointUpdate) -> None:
        self.vteps[update.node] = update

    def on_vtep_remove(self, node: str) -> None:
        del self.vteps[node]


def test_vtep_mac_matches_calico() -> None:
    # Calico: net.HardwareAddr(append([]byte("f"), sha1(name)[0:5]...));
    # sha1("node1") starts f9 37 c3 7e 94.
    assert vtep_mac("node1") == "66:f9:37:c3:7e:94"


def test_pools_hosts_and_vteps() -> None:
    h = Hosts()
    h.resolver.on_pool("p", PoolModel("p", "10.65.0.0/16", vxlan_mode="Always", nat_outgoing=True))
    assert h.pools == {
        "p": IPAMPoolUpdate("p", IPAMPool("10.65.0.0/16", True, "Never", "Always", False))
    }
    h.resolver.on_node(OTHER, NodeModel(OTHER, "192.168.1.2/24"))
    assert h.hosts == {OTHER: HostMetadataUpdate(OTHER, "192.168.1.2/24")}
    assert h.vteps == {}  # no tunnel address yet
    h.resolver.on_node(OTHER, NodeModel(OTHER, "192.168.1.2/24", "10.65.0.1"))
    assert h.vteps == {
        OTHER: VXLANTunnelEndpointUpdate(OTHER, vtep_mac(OTHER), "10.65.0.1", "192.168.1.2")
    }
    h.resolver.on_node(OTHER, NodeModel(OTHER, "192.168.1.2/24", "10.65.0.1", "66:aa:bb:cc:dd:ee"))
    assert h.vteps[OTHER].mac == "66:aa:bb:cc:dd:ee"
    h.resolver.on_node(OTHER, None)
    h.resolver.on_pool("p", None)
    assert (h.pools, h.hosts, h.vteps) == ({}, {}, {})
