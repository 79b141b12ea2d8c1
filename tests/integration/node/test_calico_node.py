"""The real calico-node in a lab host: start-up, supervision of felix / calico-bgp / BIRD,
restarts after a crash, clean stop on SIGTERM that leaves routes in place, diagnostics."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import tarfile
from pathlib import Path

import pytest

from calico.bgp.birdcl import BirdClient
from calico.ipam import IPAMClient
from calico.lab import netns

from ._node import NodeProcess, is_gone, wait_for
from .conftest import StartNode

pytestmark = pytest.mark.root

FELIX_BUILT = importlib.util.find_spec("calico.felix.main") is not None


def bird_answers(node: NodeProcess) -> bool:
    try:
        with BirdClient(node.socket, timeout=1.0) as bird:
            bird.show_status()
    except OSError:
        return False
    return True


def blackhole_routes(node: NodeProcess) -> list[str]:
    out = node.host.ip_cmd("route", "show", "proto", "bird")
    return [line.split()[1] for line in out.splitlines() if line.startswith("blackhole")]


def kill_child(node: NodeProcess, name: str) -> None:
    """SIGKILL a child (as a crash) and wait for the supervisor to start a new one."""
    before = node.child(name)
    os.kill(before["pid"], signal.SIGKILL)  # a process this test's calico-node started
    node.wait_child(name, lambda c: c["running"] and c["pid"] != before["pid"])
    assert node.child(name)["restarts"] == before["restarts"] + 1


def test_start_supervise_restart_and_stop(start_node: StartNode) -> None:
    node = start_node()
    host = node.host
    # Start-up registered the Node with the fabric address and made the default pool.
    spec = node.client.get("Node", host.name).to_dict()["spec"]
    assert spec["bgp"]["ipv4Address"] == host.cidr
    assert node.client.get("IPPool", "default-ipv4-ippool").to_dict()["spec"]["cidr"] == (
        "192.168.0.0/16"
    )
    assert (node.state_dir / "nodename").read_text() == f"{host.name}\n"
    # calico-bgp wrote a config, BIRD runs on it and answers on its socket.
    node.wait_child("calico-bgp", lambda c: c["ready"])
    node.wait_child("bird", lambda c: c["ready"])
    assert bird_answers(node)
    # A block for this host: calico-bgp renders it, BIRD installs its blackhole.
    IPAMClient(node.store).auto_assign(1, 0, "wl1", {"node": host.name}, host.name)
    wait_for("the block's blackhole route", lambda: len(blackhole_routes(node)) == 1)

    kill_child(node, "calico-bgp")
    kill_child(node, "bird")
    wait_for("BIRD back on its socket", lambda: bird_answers(node))

    pids = [c["pid"] for c in node.status()["children"].values() if c["pid"]]
    routes = blackhole_routes(node)
    assert node.terminate() == 0, node.log()
    for pid in pids:
        assert is_gone(pid), f"child {pid} survived calico-node"
    assert node.status()["children"]["bird"]["running"] is False
    # BIRD left with "graceful restart": its routes stay in the kernel (persist),
    # so restarting calico-node does not cut established traffic.
    assert blackhole_routes(node) == routes
    assert "Shutting down for graceful restart" in node.log("bird")


def test_restart_after_a_crash_keeps_routes_and_replaces_children(start_node: StartNode) -> None:
    node = start_node()
    node.wait_child("bird", lambda c: c["ready"])
    IPAMClient(node.store).auto_assign(1, 0, "wl1", {"node": node.host.name}, node.host.name)
    wait_for("the block's blackhole route", lambda: len(blackhole_routes(node)) == 1)
    routes = blackhole_routes(node)
    old = {name: c["pid"] for name, c in node.status()["children"].items()}

    node.crash()
    assert not is_gone(old["bird"])  # orphaned, still routing
    node.start()  # kills the previous children, then starts its own
    for name, pid in old.items():
        assert is_gone(pid), f"{name} of the crashed calico-node survived"
    node.wait_child("bird", lambda c: c["ready"])
    assert blackhole_routes(node) == routes  # never withdrawn
    assert node.terminate() == 0, node.log()


@pytest.mark.skipif(not FELIX_BUILT, reason="calico-felix (calico.felix.main) is not built yet")
def test_felix_reports_and_is_restarted(start_node: StartNode) -> None:
    node = start_node(FELIX_HEALTHENABLED="true")  # calico-node probes /readiness
    prefix = f"/calico/felix/v2/no-region/host/{node.host.name}/"
    wait_for(
        "felix's status key",
        lambda: node.store.get(prefix + "last_reported_status") is not None,
        timeout=60.0,
    )
    node.wait_child("calico-felix", lambda c: c["ready"])
    kill_child(node, "calico-felix")
    node.wait_child("calico-felix", lambda c: c["ready"])
    assert node.terminate() == 0, node.log()


def test_vxlan_only_node_runs_no_bgp(start_node: StartNode) -> None:
    node = start_node(CALICO_NETWORKING_BACKEND="vxlan", CALICO_IPV4POOL_VXLAN="Always")
    assert set(node.status()["children"]) == {"calico-felix"}
    spec = node.client.get("Node", node.host.name).to_dict()["spec"]
    assert spec["ipv4VXLANTunnelAddr"].startswith("192.168.")
    assert spec["vxlanTunnelMACAddr"]
    assert (node.state_dir / "mtu").read_text() == "1450\n"  # the lab's eth0 has 1500
    assert node.terminate() == 0, node.log()


def test_diags_inside_the_host_namespace(start_node: StartNode) -> None:
    node = start_node()
    node.wait_child("bird", lambda c: c["ready"])
    out = node.dir / "diags.tar.gz"
    code = (
        "import sys; from calico.node.diags import collect_diags; "
        "print(collect_diags(sys.argv[1], [sys.argv[2]], sys.argv[3]))"
    )
    argv = [sys.executable, "-c", code, str(out), str(node.log_dir), node.socket]
    assert netns.run_in_ns(node.host.netns, argv, timeout=120).stdout.strip() == str(out)
    with tarfile.open(out) as tar:
        files = {Path(n).relative_to(Path(n).parts[0]).as_posix(): n for n in tar.getnames()}
        text = {
            k: tar.extractfile(v).read().decode()  # type: ignore[union-attr]
            for k, v in files.items()
            if tar.getmember(v).isfile()
        }
    for member in ("date.txt", "hostname.txt", "ipv4_route.txt", "ipv6_route.txt",
                   "ipv4_addr.txt", "ipv6_addr.txt", "ip_link.txt", "ip_neigh.txt",
                   "iptables_save.txt", "ip6tables_save.txt", "ipset_list.txt",
                   "nft_ruleset.txt", "ss.txt", "bird_protocols.txt", "bird_routes.txt",
                   "index.txt", "logs/logs/bird.log", "logs/logs/calico-bgp.log"):  # fmt: skip
        assert member in text, member
    assert node.host.cidr in text["ipv4_addr.txt"]  # the host's view, not the root's
    assert "device1" in text["bird_protocols.txt"]
    assert node.terminate() == 0, node.log()
