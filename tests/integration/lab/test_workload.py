"""Workloads wired Calico-style, the workload server, probes, and the proxy-ARP quirk."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import pytest

from calico.errors import ConfigError, KernelUnsupportedError
from calico.lab import _pids, netns
from calico.lab.fabric import Fabric
from calico.lab.probe import probe, probe_result, sctp_supported
from calico.lab.procs import ProcessManager
from calico.lab.workload import (
    Workload,
    create_workload,
    delete_workload,
    load_workloads,
    start_server,
)

from .conftest import BuildLab

pytestmark = pytest.mark.root

A_IP, B_IP = "10.65.0.1", "10.65.1.1"
NOBODY_IP = "10.65.9.9"  # routed towards the gateway, which drops it


@dataclass
class Pair:
    fab: Fabric
    pm: ProcessManager
    a: Workload
    b: Workload


@pytest.fixture
def pair(build_lab: BuildLab) -> Pair:
    """Workload a on host1 and b on host2, static routes between the hosts, servers running."""
    fab = build_lab(hosts=2)
    h1, h2 = fab.hosts
    pm = ProcessManager(fab.state)
    a = create_workload(fab.state, h1, "a", A_IP)
    b = create_workload(fab.state, h2, "b", B_IP)
    # What BGP will do later: each host routes the other's workload via that host.
    h1.add_route(f"{B_IP}/32", h2.ip)
    h2.add_route(f"{A_IP}/32", h1.ip)
    start_server(pm, a)
    start_server(pm, b)
    return Pair(fab, pm, a, b)


def test_workload_is_wired_like_the_cni_plugin_does(pair: Pair) -> None:
    wl = pair.a
    assert load_workloads(pair.fab.state) == {"a": pair.a, "b": pair.b}
    host = pair.fab.host(wl.host)
    assert wl.host_ifname.startswith("cali")
    assert len(wl.host_ifname) == 15
    link = json.loads(netns.ip(host.netns, "-j", "link", "show", wl.host_ifname))[0]
    assert link["address"] == "ee:ee:ee:ee:ee:ee"
    assert "UP" in link["flags"]
    addrs = json.loads(netns.ip(host.netns, "-j", "addr", "show", wl.host_ifname))[0]
    assert [a["family"] for a in addrs["addr_info"]] == ["inet6"]  # link-local only
    wanted = {
        f"net.ipv4.conf.{wl.host_ifname}.proxy_arp": "1",
        f"net.ipv4.neigh.{wl.host_ifname}.proxy_delay": "0",
        f"net.ipv4.conf.{wl.host_ifname}.forwarding": "1",
    }
    assert netns.read_sysctls(host.netns, wanted) == wanted
    host_route = json.loads(netns.ip(host.netns, "-j", "route", "show", f"{wl.ip}/32"))
    assert host_route == [{"dst": wl.ip, "dev": wl.host_ifname, "scope": "link", "flags": []}]
    inside = {(r["dst"], r.get("gateway")) for r in json.loads(netns.ip(wl.netns, "-j", "route"))}
    assert inside == {("default", "169.254.1.1"), ("169.254.1.1", None)}
    assert f"{wl.ip}/32" in netns.ip(wl.netns, "-br", "addr", "show", "eth0")


def test_tcp_udp_icmp_reach_the_workload_server_across_hosts(pair: Pair) -> None:
    for proto, port in [("tcp", 80), ("tcp", 81), ("udp", 80), ("udp", 81)]:
        result = probe_result(pair.a.netns, B_IP, port, proto, timeout=2)
        assert result.reachable, result
        assert result.reply == f"b {proto}/{port}"
    assert probe(pair.b.netns, A_IP, 80, "tcp", timeout=2)
    assert probe(pair.a.netns, B_IP, protocol="icmp", timeout=2)
    # A host reaches its local workload over the cali interface.
    assert probe(pair.fab.hosts[0].netns, A_IP, 81, "udp", timeout=2)


@pytest.mark.parametrize(
    ("dst", "port", "proto"),
    [
        (B_IP, 9, "tcp"),  # closed port: RST
        (B_IP, 9, "udp"),  # closed port: ICMP port unreachable
        (NOBODY_IP, 80, "tcp"),  # nobody: silently dropped at the gateway
        (NOBODY_IP, 80, "udp"),
        (NOBODY_IP, 0, "icmp"),
    ],
)
def test_probes_fail_within_the_timeout(pair: Pair, dst: str, port: int, proto: str) -> None:
    timeout = 0.5
    started = time.monotonic()
    result = probe_result(pair.a.netns, dst, port, proto, timeout=timeout)
    elapsed = time.monotonic() - started
    assert not result.reachable
    assert elapsed < timeout + 0.5, (elapsed, result)
    if dst == B_IP:
        assert "refused" in result.detail  # answered at once, not timed out
        assert elapsed < timeout


def test_sctp_probe_needs_kernel_support(pair: Pair) -> None:
    src = pair.a.netns
    if sctp_supported():
        pair.pm.stop("server-b")
        start_server(pair.pm, pair.b, tcp=(), udp=(), sctp=(80,))
        assert probe(src, B_IP, 80, "sctp", timeout=2)
    else:
        with pytest.raises(KernelUnsupportedError, match="no SCTP support"):
            probe(src, B_IP, 80, "sctp")
        server = [sys.executable, "-m", "calico.lab.server", "--name", "x", "--sctp", "80"]
        out = netns.run_in_ns(src, server, check=False)
        assert out.returncode == 2
        assert "kernel has no SCTP support" in out.stderr


def test_proxy_arp_for_the_gateway_needs_a_route_out_of_another_interface(
    build_lab: BuildLab,
) -> None:
    """The kernel quirk every lab host's default route exists for.

    A workload's only next hop is 169.254.1.1, which nobody owns: the host
    answers the ARP request by proxy ARP on the cali interface. The kernel
    (``arp_process`` → ``arp_fwd_proxy``) only proxies for a target it can
    route, and out of a *different* interface than the request arrived on.
    So on a host with no route covering 169.254.1.1 (no default route) the
    workload never resolves its gateway and cannot send a single packet.
    Real hosts always have a default route; lab hosts get one to the
    gateway namespace for exactly this reason.
    """
    fab = build_lab(hosts=1)
    host = fab.hosts[0]
    wl = create_workload(fab.state, host, "q", "10.65.3.3")

    def gateway_neighbour() -> dict[str, object]:
        entries = json.loads(netns.ip(wl.netns, "-j", "neigh", "show", "169.254.1.1"))
        return entries[0] if entries else {}

    assert probe(wl.netns, host.ip, protocol="icmp", timeout=1)
    assert gateway_neighbour().get("lladdr") == "ee:ee:ee:ee:ee:ee"

    host.ip_cmd("route", "del", "default")
    netns.ip(wl.netns, "neigh", "flush", "dev", "eth0")
    assert not probe(wl.netns, host.ip, protocol="icmp", timeout=0.5)
    assert "lladdr" not in gateway_neighbour()  # INCOMPLETE or FAILED: nobody answered

    # Any route to 169.254.1.1 out of the fabric interface is enough.
    host.ip_cmd("route", "add", "169.254.1.1/32", "via", host.gateway, "dev", "eth0")
    netns.ip(wl.netns, "neigh", "flush", "dev", "eth0")
    assert probe(wl.netns, host.ip, protocol="icmp", timeout=1)


def test_vm_variant_uses_a_tap_named_interface(build_lab: BuildLab) -> None:
    fab = build_lab(hosts=1)
    host = fab.hosts[0]
    vm = create_workload(fab.state, host, "vm1", "10.65.4.4", vm=True)
    assert vm.host_ifname.startswith("tap")
    assert len(vm.host_ifname) == 14  # "tap" + port_id[:11], as networking-calico names it
    assert probe(host.netns, vm.ip, protocol="icmp", timeout=1)
    bare = create_workload(fab.state, host, "vm2", "10.65.4.5", vm=True, configure=False)
    assert "10.65.4.5" not in netns.ip(bare.netns, "addr", "show", "eth0")
    assert "UP" in netns.ip(bare.netns, "-br", "link", "show", "eth0")


def test_delete_workload_removes_everything_and_the_name_can_be_reused(pair: Pair) -> None:
    state, wl = pair.fab.state, pair.b
    host = pair.fab.host(wl.host)
    server = pair.pm.get("server-b")
    assert server is not None
    delete_workload(state, wl)
    assert not _pids.is_alive(server.pid, server.start_time)
    assert not netns.exists(wl.netns)
    assert wl.host_ifname not in netns.ip(host.netns, "-br", "link")
    assert B_IP not in netns.ip(host.netns, "route")
    assert "b" not in load_workloads(state)
    assert pair.pm.get("server-b") is None
    again = create_workload(state, host, "b", B_IP)
    start_server(pair.pm, again)
    assert probe(pair.a.netns, B_IP, 80, "tcp", timeout=2)


def test_workload_names_are_validated_and_unique(pair: Pair) -> None:
    host = pair.fab.hosts[0]
    with pytest.raises(ConfigError, match="already exists"):
        create_workload(pair.fab.state, host, "a", "10.65.5.5")
    with pytest.raises(ConfigError, match="workload name"):
        create_workload(pair.fab.state, host, "Bad_Name", "10.65.5.5")
