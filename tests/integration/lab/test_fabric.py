"""The lab fabric in real namespaces: hosts, switch, gateway, router, several labs."""

from __future__ import annotations

import json
import re
import threading

import pytest

from calico.errors import ConfigError, DataplaneError
from calico.lab import netns
from calico.lab.fabric import Fabric
from calico.lab.probe import probe
from calico.lab.state import teardown

from .conftest import BuildLab

pytestmark = pytest.mark.root


def _ping_ttl(ns: str, dst: str) -> int:
    out = netns.run_in_ns(ns, ["ping", "-c1", "-W1", "-n", dst]).stdout
    match = re.search(r"ttl=(\d+)", out)
    assert match, out
    return int(match.group(1))


def _gateway_routes(fab: Fabric) -> list[str]:
    routes = json.loads(netns.ip(fab.gateway_netns, "-j", "route", "show"))
    return sorted(r["dst"] for r in routes)


def test_three_hosts_reach_each_other_over_the_fabric(build_lab: BuildLab) -> None:
    fab = build_lab(hosts=3)
    assert [h.name for h in fab.hosts] == ["host1", "host2", "host3"]
    for src in fab.hosts:
        for dst in fab.hosts:
            if src is not dst:
                assert probe(src.netns, dst.ip, protocol="icmp", timeout=1), (src.name, dst.name)


def test_hosts_look_like_calico_nodes(build_lab: BuildLab) -> None:
    fab = build_lab(hosts=2)
    h = fab.host("host1")
    assert "UP" in netns.ip(h.netns, "-br", "link", "show", "lo")
    assert h.cidr in netns.ip(h.netns, "-br", "addr", "show", "eth0")
    default = [(r["gateway"], r["dev"]) for r in h.routes() if r["dst"] == "default"]
    assert default == [(h.gateway, "eth0")]
    values = netns.read_sysctls(h.netns, ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"])
    assert values == {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"}
    # The gateway is a dead end: it answers for itself but forwards nothing.
    assert probe(h.netns, h.gateway, protocol="icmp", timeout=1)
    assert netns.read_sysctls(fab.gateway_netns, ["net.ipv4.ip_forward"]) == {
        "net.ipv4.ip_forward": "0"
    }
    assert _gateway_routes(fab) == [str(fab.plan.subnets[0])]


def test_two_subnets_are_joined_by_a_router(build_lab: BuildLab) -> None:
    fab = build_lab(hosts=4, subnets=2)
    h1, h2, h3, h4 = fab.hosts
    assert (h1.subnet, h2.subnet, h3.subnet, h4.subnet) == (0, 0, 1, 1)
    assert h1.network != h3.network
    assert h1.gateway != h3.gateway
    # Same subnet: direct (TTL untouched). Across: one routed hop (TTL - 1).
    assert _ping_ttl(h1.netns, h2.ip) == 64
    assert _ping_ttl(h1.netns, h3.ip) == 63
    assert _ping_ttl(h4.netns, h2.ip) == 63
    # The router knows the host subnets and nothing else.
    assert _gateway_routes(fab) == sorted(str(s) for s in fab.plan.subnets)


def test_two_labs_coexist_and_tear_down_independently(
    lab_names: list[str], build_lab: BuildLab
) -> None:
    built: list[Fabric] = []
    threads = [threading.Thread(target=lambda: built.append(build_lab(hosts=2))) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = built
    assert a.name != b.name
    ours = [ns for ns in netns.list_netns() if ns.startswith((f"{a.name}-", f"{b.name}-"))]
    assert len(ours) == 8  # fabric, gw, host1, host2 per lab
    for fab in (a, b):
        assert probe(fab.hosts[0].netns, fab.hosts[1].ip, protocol="icmp", timeout=1)

    report = teardown(a.name)
    assert sorted(report.namespaces) == sorted(ns for ns in ours if ns.startswith(a.name))
    assert not [ns for ns in netns.list_netns() if ns.startswith(f"{a.name}-")]
    assert probe(b.hosts[0].netns, b.hosts[1].ip, protocol="icmp", timeout=1)


def test_load_finds_an_existing_lab_and_create_refuses_to_clobber_it(
    build_lab: BuildLab,
) -> None:
    fab = build_lab(hosts=2)
    loaded = Fabric.load(fab.name)
    assert loaded.hosts == fab.hosts
    assert loaded.plan == fab.plan
    with pytest.raises(ConfigError, match="already exists"):
        Fabric.create(fab.name, hosts=2)
    assert probe(fab.hosts[0].netns, fab.hosts[1].ip, protocol="icmp", timeout=1)


def test_load_of_unknown_lab_is_a_clear_error(lab_root: object) -> None:
    with pytest.raises(ConfigError, match="no lab named 'nosuchlab'"):
        Fabric.load("nosuchlab")


def test_sysctl_writes_are_verified(build_lab: BuildLab) -> None:
    """``sysctl -w`` exits 0 on a read-only key in a netns; we read back and raise."""
    h = build_lab(hosts=1).hosts[0]
    with pytest.raises(DataplaneError, match=r"net.core.rmem_max .* reads back"):
        netns.set_sysctls(h.netns, {"net.core.rmem_max": 12345})
    with pytest.raises(DataplaneError, match="no such key"):
        netns.set_sysctls(h.netns, {"net.ipv4.neigh.default.proxy_delay": 0})
