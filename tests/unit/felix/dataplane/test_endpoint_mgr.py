"""Workload endpoints: chains, dispatch, routes, sysctls, anti-spoofing chain, status."""

from __future__ import annotations

from calico.felix.dataplane import InternalDataplane
from calico.felix.dataplane.netlink import Route
from calico.felix.messages import DataplaneMessage, InSync, NatInfo, WorkloadEndpointRemove
from tests.unit.felix.dataplane.conftest import ALLOW_ALL, IFACE_A, IFACE_B, FakeHost, workload

SYSCTLS_A = {
    f"net/ipv4/conf/{IFACE_A}/proxy_arp": "1",
    f"net/ipv4/neigh/{IFACE_A}/proxy_delay": "0",
    f"net/ipv4/conf/{IFACE_A}/forwarding": "1",
    f"net/ipv4/conf/{IFACE_A}/route_localnet": "1",
    f"net/ipv6/conf/{IFACE_A}/accept_ra": "0",
}


def started(host: FakeHost, *messages: DataplaneMessage) -> InternalDataplane:
    dp = host.dataplane()
    dp.on_messages([ALLOW_ALL, *messages, InSync()])
    dp.tick()
    return dp


def step(host: FakeHost, dp: InternalDataplane, *messages: DataplaneMessage) -> None:
    dp.on_messages(messages)
    host.now += 1
    dp.tick()


def test_an_endpoint_gets_chains_dispatch_route_and_sysctls(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    started(host, workload("a", IFACE_A, "10.65.0.2"))
    assert {f"cali-tw-{IFACE_A}", f"cali-fw-{IFACE_A}"} <= host.chains()
    assert any(f"-g cali-tw-{IFACE_A}" in r for r in host.rules("cali-to-wl-dispatch"))
    assert host.rules("cali-to-wl-dispatch")[-1].endswith("-j DROP")  # unknown interfaces
    assert Route("10.65.0.2/32", IFACE_A, scope="link", proto=80) in host.netlink.route_list
    for key, value in SYSCTLS_A.items():
        assert host.procsys.values[key] == value
    assert host.procsys.values[f"net/ipv4/conf/{IFACE_A}/rp_filter"] == "1"  # the default's


def test_spoofing_exceptions_turn_rp_filter_off_and_fill_rpf_skip(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    started(
        host,
        workload("a", IFACE_A, "10.65.0.2", allow_spoofed_source_prefixes=("192.168.7.0/24",)),
    )
    assert host.procsys.values[f"net/ipv4/conf/{IFACE_A}/rp_filter"] == "0"
    rules = host.rules("cali-rpf-skip", "raw")
    assert any(IFACE_A in r and "192.168.7.0/24" in r and r.endswith("-j ACCEPT") for r in rules)


def test_floating_ips_become_nat_rules(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    started(
        host, workload("a", IFACE_A, "10.65.0.2", ipv4_nat=(NatInfo("172.16.0.9", "10.65.0.2"),))
    )
    # External → internal on the way in; a workload reaching its own external IP
    # gets that IP as its source.  (The leading hash comment is position-dependent.)
    assert [_without_hash(r) for r in host.rules("cali-fip-dnat", "nat")] == [
        "--destination 172.16.0.9 -j DNAT --to-destination 10.65.0.2"
    ]
    assert [_without_hash(r) for r in host.rules("cali-fip-snat", "nat")] == [
        "--destination 10.65.0.2 --source 10.65.0.2 -j SNAT --to-source 172.16.0.9"
    ]


def _without_hash(rule: str) -> str:
    prefix, _, rest = rule.partition('" ')
    assert prefix.startswith('-m comment --comment "cali:'), rule
    return rest


def test_removal_takes_chains_dispatch_and_route_away(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    a = workload("a", IFACE_A, "10.65.0.2")
    dp = started(host, a)
    step(host, dp, WorkloadEndpointRemove(a.id))
    assert f"cali-tw-{IFACE_A}" not in host.chains()
    assert not any(IFACE_A in r for r in host.rules("cali-to-wl-dispatch"))
    host.now += 60  # past the grace period: the route is no endpoint's any more
    dp.tick()
    assert host.netlink.route_list == []


def test_two_endpoints_on_one_interface_keep_it_policed(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    a = workload("a", IFACE_A, "10.65.0.2")
    b = workload("b", IFACE_A, "10.65.0.3")  # a stale claim, as during a pod re-create
    dp = started(host, a, b)
    step(host, dp, WorkloadEndpointRemove(b.id))
    assert f"cali-tw-{IFACE_A}" in host.chains()
    assert [r.dst for r in host.netlink.route_list] == ["10.65.0.2/32"]


def test_an_interface_that_appears_later_is_configured_then(host: FakeHost) -> None:
    dp = started(host, workload("b", IFACE_B, "10.65.0.3"))
    assert host.netlink.route_list == []
    assert list(host.statuses[-1].values()) == ["down"]
    host.netlink.add_link(IFACE_B, "veth")
    dp.on_links_changed()  # as the link monitor does
    host.now += 1
    dp.tick()
    assert [r.dst for r in host.netlink.route_list] == ["10.65.0.3/32"]
    assert host.procsys.values[f"net/ipv4/conf/{IFACE_B}/proxy_arp"] == "1"
    assert list(host.statuses[-1].values()) == ["up"]


def test_a_failed_sysctl_marks_the_endpoint_down_and_is_retried(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    host.procsys.read_only.add(f"net/ipv4/conf/{IFACE_A}/proxy_arp")
    dp = started(host, workload("a", IFACE_A, "10.65.0.2"))
    assert list(host.statuses[-1].values()) == ["down"]
    host.procsys.read_only.clear()
    step(host, dp)
    assert list(host.statuses[-1].values()) == ["up"]


def test_an_admin_down_endpoint_drops_everything(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    started(host, workload("a", IFACE_A, "10.65.0.2", state="inactive"))
    assert host.rules(f"cali-tw-{IFACE_A}")[-1].endswith("-j DROP")
    assert len(host.rules(f"cali-tw-{IFACE_A}")) == 1
    assert list(host.statuses[-1].values()) == ["down"]
