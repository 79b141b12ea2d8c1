"""IPIP: desired routes and sets (rendered with the fakes), and the no-IPIP kernel error."""

from __future__ import annotations

from calico.felix.dataplane import Encapsulation, InternalDataplane
from calico.felix.dataplane.netlink import PROTO_FELIX, TYPE_BLACKHOLE, Address, Route
from calico.felix.messages import (
    DataplaneMessage,
    EncapType,
    HostMetadataUpdate,
    InSync,
    RouteType,
    RouteUpdate,
)
from tests.unit.felix.dataplane.conftest import HOST_IP, FakeHost

HOSTS = [
    HostMetadataUpdate("host1", f"{HOST_IP}/24"),
    HostMetadataUpdate("host2", "10.0.0.2/24"),
    HostMetadataUpdate("host3", "10.9.0.3/24"),
]


def block(dst: str, node: str, node_ip: str, same_subnet: bool = False) -> RouteUpdate:
    kind = RouteType.LOCAL_WORKLOAD if node == "host1" else RouteType.REMOTE_WORKLOAD
    return RouteUpdate(dst, frozenset({kind}), EncapType.IPIP, node, node_ip, same_subnet)


BLOCKS = [
    block("10.65.1.0/26", "host1", HOST_IP),
    block("10.65.2.0/26", "host2", "10.0.0.2", same_subnet=True),
    block("10.65.3.0/26", "host3", "10.9.0.3"),
]


def ipip_dataplane(host: FakeHost, *messages: DataplaneMessage) -> InternalDataplane:
    dp = host.dataplane(encap=Encapsulation(ipip=True), ipip_tunnel_address="10.65.1.0")
    dp.on_messages([*HOSTS, *BLOCKS, *messages, InSync()])
    dp.tick()
    return dp


def test_without_kernel_support_felix_stops_with_a_clear_error(host: FakeHost) -> None:
    ipip_dataplane(host)
    assert [str(e) for e in host.fatal] == ["kernel has no IPIP support (cannot create tunl0)"]
    assert "tunl0" not in host.netlink.links_by_name


def test_with_kernel_support_tunl0_is_configured(host: FakeHost) -> None:
    host.netlink.ipip_supported = True
    ipip_dataplane(host)
    assert host.fatal == []
    tunl0 = host.netlink.links_by_name["tunl0"]
    assert (tunl0.admin_up, tunl0.mtu) == (True, 1500 - 20)
    assert Address("tunl0", "10.65.1.0", 32) in host.netlink.addrs


def test_routes_and_host_set(host: FakeHost) -> None:
    host.netlink.ipip_supported = True
    ipip_dataplane(host)
    assert sorted(host.netlink.route_list, key=lambda r: r.dst) == [
        Route("10.65.1.0/26", type=TYPE_BLACKHOLE, proto=PROTO_FELIX),
        Route("10.65.2.0/26", "eth0", gateway="10.0.0.2", proto=PROTO_FELIX),
        Route("10.65.3.0/26", "tunl0", gateway="10.9.0.3", onlink=True, proto=PROTO_FELIX),
    ]
    assert host.ipset.sets["cali40all-hosts-net"].members == {HOST_IP, "10.0.0.2", "10.9.0.3"}
    assert any("all-hosts-net" in r for r in host.rules("cali-INPUT"))


def test_ipip_off_touches_neither_tunl0_nor_routes(host: FakeHost) -> None:
    host.netlink.add_link("tunl0", "ipip")
    dp = host.dataplane()
    dp.on_messages([*HOSTS, *BLOCKS, InSync()])
    dp.tick()
    assert "tunl0" in host.netlink.links_by_name  # the kernel's device, never deleted
    assert host.netlink.route_list == []
