"""The route table driver: ownership, minimal changes, grace period, missing interfaces."""

from __future__ import annotations

import errno

import pytest

from calico.errors import DataplaneError
from calico.felix.dataplane.fakes import FakeNetlink
from calico.felix.dataplane.netlink import (
    PROTO_BOOT,
    PROTO_FELIX,
    PROTO_KERNEL,
    TYPE_BLACKHOLE,
    Route,
)
from calico.felix.dataplane.routetable import RouteTable

WL = "cali1111111111a"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def netlink() -> FakeNetlink:
    nl = FakeNetlink()
    nl.add_link("eth0")
    nl.add_link(WL, "veth")
    return nl


def table(netlink: FakeNetlink, clock: Clock | None = None, **kw: object) -> RouteTable:
    return RouteTable(
        netlink,
        4,
        workload_prefixes=("cali", "tap"),
        device_route_protocol=kw.pop("device_route_protocol", PROTO_FELIX),  # type: ignore[arg-type]
        clock=clock or Clock(),
        **kw,  # type: ignore[arg-type]
    )


def links(netlink: FakeNetlink) -> set[str]:
    return set(netlink.links_by_name)


def test_adds_desired_routes_and_skips_what_is_already_there(netlink: FakeNetlink) -> None:
    rt = table(netlink)
    wanted = Route("10.65.0.2/32", WL, scope="link")
    rt.set_routes("endpoints", [wanted])
    assert rt.apply(links(netlink)).replaced == ("10.65.0.2/32",)
    netlink.calls.clear()
    assert rt.apply(links(netlink)).replaced == ()
    assert netlink.calls == []
    assert netlink.route_list == [wanted]


def test_replaces_a_route_that_differs(netlink: FakeNetlink) -> None:
    netlink.route_list.append(Route("10.65.0.2/32", WL, scope="link", proto=PROTO_BOOT))  # from CNI
    rt = table(netlink)
    rt.set_routes("endpoints", [Route("10.65.0.2/32", WL, scope="link")])
    rt.apply(links(netlink))
    assert netlink.route_list == [Route("10.65.0.2/32", WL, scope="link")]


def test_owns_only_its_protocol_and_interfaces(netlink: FakeNetlink) -> None:
    foreign = [
        Route("0.0.0.0/0", "eth0", gateway="10.0.0.254", proto=PROTO_BOOT),
        Route("10.0.0.0/24", "eth0", scope="link", proto=PROTO_KERNEL),
        Route("192.168.0.0/16", "eth0", gateway="10.0.0.9", proto=12),  # BIRD's
        Route("10.99.0.0/16", type=TYPE_BLACKHOLE, proto=PROTO_BOOT),
    ]
    ours = [
        Route("10.65.3.0/26", "eth0", gateway="10.0.0.3", proto=PROTO_FELIX),
        Route("10.65.1.0/26", type=TYPE_BLACKHOLE, proto=PROTO_FELIX),
    ]
    netlink.route_list += foreign + ours
    rt = table(netlink, device_route_protocol=PROTO_BOOT)  # Calico's default: boot
    assert sorted(rt.apply(links(netlink)).deleted) == sorted(r.dst for r in ours)
    assert netlink.route_list == foreign


def test_unclaimed_workload_routes_wait_out_the_grace_period(netlink: FakeNetlink) -> None:
    clock = Clock()
    cni_route = Route("10.65.0.9/32", WL, scope="link", proto=PROTO_BOOT)
    netlink.route_list.append(cni_route)
    rt = table(netlink, clock, grace=10.0)
    rt.apply(links(netlink))
    assert rt.next_deadline() == 10.0
    clock.now = 9.9
    rt.apply(links(netlink))
    assert netlink.route_list == [cni_route]
    clock.now = 10.0
    rt.apply(links(netlink))
    assert netlink.route_list == []
    assert rt.next_deadline() is None


def test_a_stale_route_of_a_known_interface_goes_at_once(netlink: FakeNetlink) -> None:
    netlink.route_list.append(Route("10.65.0.9/32", WL, scope="link"))  # the endpoint's old IP
    rt = table(netlink, grace=10.0)
    rt.set_routes("endpoints", [Route("10.65.0.2/32", WL, scope="link")])
    rt.apply(links(netlink))
    assert [r.dst for r in netlink.route_list] == ["10.65.0.2/32"]


def test_external_routes_on_our_interfaces_stay_when_configured(netlink: FakeNetlink) -> None:
    external = Route("10.77.0.0/24", WL, scope="link", proto=PROTO_BOOT)
    netlink.route_list.append(external)
    rt = table(netlink, remove_external_routes=False, grace=0.0)
    rt.apply(links(netlink))
    assert netlink.route_list == [external]


def test_routes_wait_for_their_interface(netlink: FakeNetlink) -> None:
    rt = table(netlink)
    rt.set_routes("endpoints", [Route("10.65.0.5/32", "cali5555555555e", scope="link")])
    assert rt.apply(links(netlink)).pending == ("10.65.0.5/32",)
    netlink.add_link("cali5555555555e", "veth")
    assert rt.apply(links(netlink)).replaced == ("10.65.0.5/32",)


def test_the_first_owner_wins_a_conflict(netlink: FakeNetlink) -> None:
    rt = table(netlink)
    rt.set_routes("endpoints", [Route("10.65.0.2/32", WL, scope="link")])
    rt.set_routes("vxlan", [Route("10.65.0.2/32", type=TYPE_BLACKHOLE)])
    rt.apply(links(netlink))
    assert netlink.route_list == [Route("10.65.0.2/32", WL, scope="link")]


def test_ipv6_routes_get_the_kernel_default_metric() -> None:
    nl = FakeNetlink()
    nl.add_link(WL, "veth")
    rt = RouteTable(nl, 6, workload_prefixes=("cali",), device_route_protocol=PROTO_FELIX)
    rt.set_routes("endpoints", [Route("fd00::2/128", WL, scope="link"), Route("10.0.0.1/32", WL)])
    rt.apply(links(nl))
    assert nl.route_list == [Route("fd00::2/128", WL, scope="link", metric=1024)]


def test_a_failure_is_reported_and_the_kernel_re_read(netlink: FakeNetlink) -> None:
    rt = table(netlink)
    rt.set_routes("endpoints", [Route("10.65.0.2/32", WL, scope="link")])
    netlink.fail_next("route_replace", errno.EINVAL)
    with pytest.raises(DataplaneError, match="IPv4 routes"):
        rt.apply(links(netlink))
    reads = rt.reads
    rt.apply(links(netlink))
    assert rt.reads == reads + 1
    assert [r.dst for r in netlink.route_list] == ["10.65.0.2/32"]
