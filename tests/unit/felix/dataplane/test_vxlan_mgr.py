"""VXLAN: device, VTEP neighbours and FDB, block routes (Always and CrossSubnet), sweeping."""

from __future__ import annotations

import pytest

from calico.felix.dataplane import Encapsulation, InternalDataplane
from calico.felix.dataplane.netlink import (
    PROTO_FELIX,
    TYPE_BLACKHOLE,
    FdbEntry,
    Neighbour,
    Route,
    VxlanInfo,
)
from calico.felix.messages import (
    DataplaneMessage,
    EncapType,
    InSync,
    RouteRemove,
    RouteType,
    RouteUpdate,
    VXLANTunnelEndpointRemove,
    VXLANTunnelEndpointUpdate,
)
from tests.unit.felix.dataplane.conftest import HOST_IP, FakeHost

DEV = "vxlan.calico"
LOCAL = VXLANTunnelEndpointUpdate("host1", "66:00:00:00:00:01", "10.65.1.0", HOST_IP)
PEER = VXLANTunnelEndpointUpdate("host2", "66:00:00:00:00:02", "10.65.2.0", "10.0.0.2")
FAR = VXLANTunnelEndpointUpdate("host3", "66:00:00:00:00:03", "10.65.3.0", "10.9.0.3")


def block(dst: str, node: str, node_ip: str, *, same_subnet: bool = False) -> RouteUpdate:
    local = node == "host1"
    return RouteUpdate(
        dst,
        frozenset({RouteType.LOCAL_WORKLOAD if local else RouteType.REMOTE_WORKLOAD}),
        ip_pool_type=EncapType.VXLAN,
        dst_node_name=node,
        dst_node_ip=node_ip,
        same_subnet=same_subnet,
    )


BLOCKS = [
    block("10.65.1.0/26", "host1", HOST_IP),
    block("10.65.2.0/26", "host2", "10.0.0.2", same_subnet=True),
    block("10.65.3.0/26", "host3", "10.9.0.3"),
]


def vxlan_dataplane(host: FakeHost, *messages: DataplaneMessage) -> InternalDataplane:
    dp = host.dataplane(encap=Encapsulation(vxlan=True))
    dp.on_messages([LOCAL, PEER, FAR, *BLOCKS, *messages, InSync()])
    dp.tick()
    return dp


def step(host: FakeHost, dp: InternalDataplane, *messages: DataplaneMessage) -> None:
    dp.on_messages(list(messages))
    host.now += 1
    dp.tick()


def test_the_device_is_created_from_the_local_vtep(host: FakeHost) -> None:
    vxlan_dataplane(host)
    link = host.netlink.links_by_name[DEV]
    assert link.vxlan == VxlanInfo(4096, 4789, HOST_IP, "eth0")
    assert (link.mac, link.mtu, link.admin_up) == (LOCAL.mac, 1450, True)
    assert any(a.ifname == DEV and (a.ip, a.prefixlen) == ("10.65.1.0", 32)
               for a in host.netlink.addrs)  # fmt: skip


def test_remote_vteps_get_permanent_neighbour_and_fdb_entries(host: FakeHost) -> None:
    vxlan_dataplane(host)
    assert host.netlink.neighs == {
        Neighbour(DEV, PEER.ipv4_addr, PEER.mac),
        Neighbour(DEV, FAR.ipv4_addr, FAR.mac),
    }
    assert host.netlink.fdb == {
        FdbEntry(DEV, PEER.mac, PEER.parent_device_ip),
        FdbEntry(DEV, FAR.mac, FAR.parent_device_ip),
    }
    assert host.ipset.sets["cali40all-vxlan-net"].members == {HOST_IP, "10.0.0.2", "10.9.0.3"}


def test_block_routes_native_in_subnet_tunnel_across_blackhole_locally(host: FakeHost) -> None:
    vxlan_dataplane(host)
    assert sorted(host.netlink.route_list, key=lambda r: r.dst) == [
        Route("10.65.1.0/26", type=TYPE_BLACKHOLE, proto=PROTO_FELIX),
        Route("10.65.2.0/26", "eth0", gateway="10.0.0.2", proto=PROTO_FELIX),
        Route("10.65.3.0/26", DEV, gateway=FAR.ipv4_addr, onlink=True, proto=PROTO_FELIX),
    ]


def test_vtep_adds_come_before_the_routes_that_use_them(host: FakeHost) -> None:
    vxlan_dataplane(host)
    journal = host.journal
    assert journal.index(f"fdb_replace {FAR.mac}") < journal.index("route_replace 10.65.3.0/26")
    assert journal.index(f"vxlan_add {DEV}") < journal.index("route_replace 10.65.3.0/26")


def test_a_vtep_that_goes_away_takes_its_entries_and_routes(host: FakeHost) -> None:
    dp = vxlan_dataplane(host)
    step(host, dp, RouteRemove("10.65.3.0/26"), VXLANTunnelEndpointRemove("host3"))
    assert FdbEntry(DEV, FAR.mac, FAR.parent_device_ip) not in host.netlink.fdb
    assert all(r.dst != "10.65.3.0/26" for r in host.netlink.route_list)


def test_a_route_waits_for_its_vtep(host: FakeHost) -> None:
    dp = host.dataplane(encap=Encapsulation(vxlan=True))
    dp.on_messages([LOCAL, block("10.65.3.0/26", "host3", "10.9.0.3"), InSync()])
    dp.tick()
    assert host.netlink.route_list == []
    step(host, dp, FAR)
    assert [r.dst for r in host.netlink.route_list] == ["10.65.3.0/26"]


def test_a_device_with_the_wrong_vni_is_re_created(host: FakeHost) -> None:
    host.netlink.vxlan_add(DEV, VxlanInfo(1, 4789, HOST_IP, "eth0"), mac=LOCAL.mac, mtu=1450)
    vxlan_dataplane(host)
    assert host.netlink.links_by_name[DEV].vxlan == VxlanInfo(4096, 4789, HOST_IP, "eth0")
    assert f"link_delete {DEV}" in host.journal


def test_stale_entries_of_a_previous_felix_are_swept(host: FakeHost) -> None:
    host.netlink.vxlan_add(DEV, VxlanInfo(4096, 4789, HOST_IP, "eth0"), mac=LOCAL.mac, mtu=1450)
    host.netlink.link_set(DEV, up=True)
    stale = FdbEntry(DEV, "66:00:00:00:00:99", "10.0.0.99")
    host.netlink.fdb.add(stale)
    host.netlink.neighs.add(Neighbour(DEV, "10.65.99.0", "66:00:00:00:00:99"))
    vxlan_dataplane(host)
    assert stale not in host.netlink.fdb
    assert all(n.ip != "10.65.99.0" for n in host.netlink.neighs)


def test_with_vxlan_off_a_leftover_device_is_deleted(host: FakeHost) -> None:
    host.netlink.vxlan_add(DEV, VxlanInfo(4096, 4789, HOST_IP, "eth0"), mac=LOCAL.mac, mtu=1450)
    dp = host.dataplane()
    dp.on_messages([LOCAL, PEER, *BLOCKS, InSync()])
    dp.tick()
    assert DEV not in host.netlink.links_by_name
    assert host.netlink.route_list == []  # felix programs no VXLAN routes with VXLAN off
    assert "cali40all-vxlan-net" not in host.ipset.sets


@pytest.mark.parametrize("mtu", [0, 1400])
def test_mtu_is_configured_or_the_parent_minus_50(host: FakeHost, mtu: int) -> None:
    dp = host.dataplane(encap=Encapsulation(vxlan=True), vxlan_mtu=mtu)
    dp.on_messages([LOCAL, InSync()])
    dp.tick()
    assert host.netlink.links_by_name[DEV].mtu == (mtu or 1500 - 50)
