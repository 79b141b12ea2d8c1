"""The dataplane loop against a fake host: InSync gating, apply order, throttling,
failure handling, refreshes, mark-and-sweep and restarts."""

from __future__ import annotations

import copy
import errno
import time
from collections.abc import Callable

import pytest

from calico.felix.dataplane import DataplaneLoop, Encapsulation, InternalDataplane
from calico.felix.dataplane.netlink import PROTO_BOOT, PROTO_FELIX, PROTO_KERNEL, Route
from calico.felix.iptables import CommandResult
from calico.felix.iptables.fakes import FakeSet
from calico.felix.messages import (
    DataplaneMessage,
    InSync,
    IPAMPool,
    IPAMPoolUpdate,
    IPSetDeltaUpdate,
    IPSetRemove,
    IPSetUpdate,
    PolicyID,
    RouteType,
    RouteUpdate,
    Rule,
    WorkloadEndpointRemove,
)
from tests.unit.felix.dataplane.conftest import (
    ALLOW_ALL,
    IFACE_A,
    IFACE_B,
    FakeHost,
    policy,
    workload,
)

WEB = policy("web", Rule(action="allow", src_ip_set_ids=("s:web",)))
WEB_SET = IPSetUpdate("s:web", frozenset({"10.65.0.2/32"}))


def ready(dp: InternalDataplane) -> bool:
    return dp.ready  # a call, so that mypy does not narrow the property between steps


def snapshot(host: FakeHost) -> object:
    return (
        copy.deepcopy(host.iptables.tables),
        {n: (s.type, frozenset(s.members)) for n, s in host.ipset.sets.items()},
        sorted(host.netlink.route_list, key=str),
    )


def test_nothing_touches_the_kernel_before_in_sync(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    dp = host.dataplane()
    dp.on_messages([WEB_SET, WEB, ALLOW_ALL, workload("a", IFACE_A, "10.65.0.2")])
    for _ in range(5):
        host.now += 10
        dp.tick()
    assert host.kernel_writes() == []
    assert host.runner.calls == []  # not even reads
    assert not ready(dp)


def test_first_apply_after_in_sync_programs_everything_in_order(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    dp = host.dataplane(ip_versions=(4, 6))
    dp.on_messages([WEB_SET, WEB, ALLOW_ALL, workload("a", IFACE_A, "10.65.0.2"), InSync()])
    dp.tick()
    assert ready(dp)
    writes = host.kernel_writes()
    first_iptables = writes.index("iptables-restore --noflush")
    assert writes.index("ipset restore") < first_iptables  # sets before the rules using them
    assert writes.index("route_replace 10.65.0.2/32") < first_iptables
    assert "cali40s:web" in host.ipset.sets
    assert "cali60s:web" in host.ipset.sets
    assert any("cali-fw-" + IFACE_A in r for r in host.rules("cali-from-wl-dispatch"))
    assert host.rules("cali-from-wl-dispatch", ip_version=6)  # IPv6 programmed as well
    assert Route("10.65.0.2/32", IFACE_A, scope="link", proto=80) in host.netlink.route_list
    assert ("net/ipv4/conf/" + IFACE_A + "/proxy_arp", "1") in host.procsys.writes
    assert ("net/ipv4/ip_forward", "1") in host.procsys.writes


def test_ip_sets_are_deleted_only_after_the_rules_stop_using_them(host: FakeHost) -> None:
    dp = host.dataplane()
    a = workload("a", IFACE_A, "10.65.0.2", policies=(PolicyID("web"),))
    dp.on_messages([WEB_SET, WEB, ALLOW_ALL, a, InSync()])
    dp.tick()
    host.journal.clear()
    dp.on_messages([policy("web", Rule(action="allow")), IPSetRemove("s:web")])
    host.now += 1
    dp.tick()
    writes = host.kernel_writes()
    assert writes.index("iptables-restore --noflush") < writes.index("ipset restore")
    assert "cali40s:web" not in host.ipset.sets


def test_applies_are_throttled_and_coalesced(host: FakeHost) -> None:
    dp = host.dataplane(min_apply_interval=0.5)
    dp.on_messages([ALLOW_ALL, InSync()])
    dp.tick()
    assert len(host.reports) == 1
    dp.on_messages([WEB_SET])
    host.now += 0.2
    wake = dp.tick()
    dp.on_messages([WEB])
    assert len(host.reports) == 1
    assert wake == pytest.approx(host.now + 0.3)
    host.now += 0.3
    dp.tick()
    assert len(host.reports) == 2  # both batches in one apply
    assert host.reports[-1].ok
    assert host.reports[-1].policies == 1


def test_a_transient_iptables_failure_is_retried_with_backoff(host: FakeHost) -> None:
    dp = host.dataplane()
    dp.on_messages([ALLOW_ALL, InSync()])
    for _ in range(4):  # the Table driver's own retries are exhausted too
        host.runner.fail_next("iptables-restore", CommandResult(1, "", "boom"))
    dp.tick()
    assert not ready(dp)
    assert not host.reports[-1].ok
    host.now += 0.05
    dp.tick()
    assert len(host.reports) == 1  # still backing off
    host.now += 0.1
    dp.tick()
    assert ready(dp)
    assert host.fatal == []


def test_a_persistent_iptables_failure_is_fatal(host: FakeHost) -> None:
    dp = host.dataplane(max_iptables_failures=3)
    dp.on_messages([ALLOW_ALL, InSync()])
    host.runner.register(
        lambda argv, stdin: CommandResult(1, "", "iptables: broken"), "iptables-restore"
    )
    for _ in range(3):
        dp.tick()
        host.now += 20
    assert len(host.fatal) == 1
    assert "3 dataplane applies failed in a row" in str(host.fatal[0])


def test_route_problems_do_not_stop_policy_programming(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    host.netlink.fail_next("route_replace", errno.EINVAL)
    dp = host.dataplane()
    dp.on_messages([ALLOW_ALL, workload("a", IFACE_A, "10.65.0.2"), InSync()])
    dp.tick()
    assert not ready(dp)  # routes incomplete: not ready, retried
    assert host.rules("cali-tw-" + IFACE_A)  # but the endpoint is policed
    host.now += 1
    dp.tick()
    assert ready(dp)
    assert any(r.dst == "10.65.0.2/32" for r in host.netlink.route_list)


def test_ipip_on_a_kernel_without_ipip_is_fatal(host: FakeHost) -> None:
    dp = host.dataplane(encap=Encapsulation(ipip=True))
    dp.on_messages([InSync()])
    dp.tick()
    assert [str(e) for e in host.fatal] == ["kernel has no IPIP support (cannot create tunl0)"]


def test_periodic_refresh_repairs_iptables_and_ipset_drift(host: FakeHost) -> None:
    dp = host.dataplane(iptables_refresh_interval=2.0, ipsets_refresh_interval=3.0)
    dp.on_messages([WEB_SET, WEB, ALLOW_ALL, InSync()])
    dp.tick()
    good = snapshot(host)
    host.iptables.tables[(4, "filter")]["FORWARD"].clear()
    host.ipset.sets["cali40s:web"].members.clear()
    host.now += 2.0
    dp.tick()
    assert host.iptables.tables[(4, "filter")]["FORWARD"]
    assert not host.ipset.sets["cali40s:web"].members  # not due yet
    host.now += 1.0
    dp.tick()
    assert snapshot(host) == good


def test_first_apply_sweeps_what_a_previous_felix_left(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_B, "veth")
    host.iptables.tables[(4, "filter")]["cali-stale"] = ["-j ACCEPT"]
    host.ipset.sets["cali40s:stale"] = FakeSet("hash:ip", "inet", 1048576, {"10.1.1.1"})
    host.ipset.sets["other-set"] = FakeSet("hash:ip", "inet", 1024)
    keep = [
        Route("0.0.0.0/0", "eth0", gateway="10.0.0.254", proto=PROTO_BOOT),
        Route("10.0.0.0/24", "eth0", scope="link", proto=PROTO_KERNEL),
    ]
    stale_block = Route("10.65.9.0/26", type="blackhole", proto=PROTO_FELIX)
    stale_workload = Route("10.65.0.9/32", IFACE_B, scope="link", proto=PROTO_BOOT)
    host.netlink.route_list += [*keep, stale_block, stale_workload]
    dp = host.dataplane(route_cleanup_grace=5.0)
    dp.on_messages([InSync()])
    dp.tick()
    assert "cali-stale" not in host.chains()
    assert set(host.ipset.sets) >= {"other-set"}
    assert "cali40s:stale" not in host.ipset.sets
    assert host.netlink.route_list == [*keep, stale_workload]  # grace for the CNI race
    host.now += 5.0
    dp.tick()
    assert host.netlink.route_list == keep


def test_a_restarted_dataplane_changes_nothing(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    messages: list[DataplaneMessage] = [
        WEB_SET, WEB, ALLOW_ALL, workload("a", IFACE_A, "10.65.0.2", policies=(PolicyID("web"),)),
        IPAMPoolUpdate("p", IPAMPool("10.65.0.0/16", masquerade=True)), InSync(),
    ]  # fmt: skip
    first = host.dataplane()
    first.on_messages(messages)
    first.tick()
    before = snapshot(host)
    host.journal.clear()
    second = host.dataplane()
    second.on_messages(messages)
    second.tick()
    assert ready(second)
    assert snapshot(host) == before
    assert [w for w in host.kernel_writes() if not w.startswith("net/")] == []


def test_endpoint_statuses_are_reported_after_apply(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    dp = host.dataplane()
    a, b = workload("a", IFACE_A, "10.65.0.2"), workload("b", IFACE_B, "10.65.0.3")
    dp.on_messages([ALLOW_ALL, a, b, InSync()])
    dp.tick()
    assert host.statuses[-1] == {a.id: "up", b.id: "down"}  # b's interface does not exist
    dp.on_messages([WorkloadEndpointRemove(b.id)])
    host.now += 1
    dp.tick()
    assert host.statuses[-1] == {a.id: "up"}


def test_vxlan_tunnel_address_reaches_the_nat_rules(host: FakeHost) -> None:
    from calico.felix.messages import VXLANTunnelEndpointUpdate

    dp = host.dataplane(encap=Encapsulation(vxlan=True))
    dp.on_messages(
        [
            VXLANTunnelEndpointUpdate("host1", "66:00:00:00:00:01", "10.65.0.1", "10.0.0.1"),
            InSync(),
        ]
    )
    dp.tick()
    assert any("vxlan.calico" in r for r in host.rules("cali-POSTROUTING", "nat"))
    assert "vxlan.calico" in host.netlink.links_by_name


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_loop_feeds_messages_and_stop_leaves_the_kernel_alone(host: FakeHost) -> None:
    dp = host.dataplane()
    loop = DataplaneLoop(dp, clock=lambda: host.now)
    loop.start()
    local_block = RouteUpdate("10.65.5.0/26", frozenset({RouteType.LOCAL_WORKLOAD}))
    loop.send([ALLOW_ALL, local_block, InSync()])
    wait_until(lambda: ready(dp))
    before = snapshot(host)
    loop.stop()
    assert snapshot(host) == before
    assert host.fatal == []


def test_a_message_that_contradicts_the_dataplane_is_fatal(host: FakeHost) -> None:
    loop = DataplaneLoop(host.dataplane(), clock=lambda: host.now)
    loop.start()
    loop.send([IPSetDeltaUpdate("never-created", frozenset({"10.0.0.9"}), frozenset())])
    wait_until(lambda: bool(host.fatal))
    loop.stop()
    assert isinstance(host.fatal[0], KeyError)
