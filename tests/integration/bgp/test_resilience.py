"""The daemon refuses a config BIRD rejects; BIRD crashes without routes flapping."""

from __future__ import annotations

import functools
import ipaddress

import pytest

from calico.bgp.peers import protocol_name
from calico.lab.hosts import Host
from calico.lab.probe import probe

from ._cluster import BgpCluster, wait_for
from .conftest import MakeCluster

pytestmark = pytest.mark.root


def mesh_names(cluster: BgpCluster, me: str) -> set[str]:
    others = (h for h in cluster.fab.hosts if h.name != me)
    return {protocol_name("Mesh", ipaddress.IPv4Address(h.ip)) for h in others}


def converged(cluster: BgpCluster) -> None:
    for h in cluster.fab.hosts:
        cluster.wait_established(h, mesh_names(cluster, h.name))
    blocks = {h.name: cluster.blocks(h)[0] for h in cluster.fab.hosts}
    for h in cluster.fab.hosts:
        wanted = {f"blackhole {blocks[h.name]}"} | {
            f"unicast {blocks[o.name]} via {o.ip}" for o in cluster.fab.hosts if o is not h
        }
        cluster.wait_routes(h, wanted)


def test_a_render_bird_rejects_never_replaces_the_live_config(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(hosts=2)
    h1, h2 = cluster.fab.hosts
    cluster.add_nodes()
    cluster.add_pool()
    for h in (h1, h2):
        cluster.assign(h, f"wl-{h.name}")
    cluster.start_all()
    converged(cluster)
    live = cluster.config_path(h1).read_text()
    protocols = cluster.protocols(h1)
    routes = cluster.bird_routes(h1)

    # Valid for the datastore, but BIRD refuses "keepalive time 0".
    cluster.put("BGPPeer", "bad", {"peerIP": h1.gateway, "asNumber": 65001, "keepaliveTime": "0s"})
    wait_for("calico-bgp to refuse the render",
             lambda: "BIRD rejected the rendered config" in cluster.agent_log(h1))  # fmt: skip
    assert "Keepalive time must be in range" in cluster.agent_log(h1)
    assert cluster.config_path(h1).read_text() == live
    assert sorted(p.name for p in cluster.config_path(h1).parent.iterdir()) == [
        "bird.cfg", "bird.ctl", "bird.pid"]  # fmt: skip
    assert cluster.protocols(h1) == protocols  # not even reconfigured: same "since"
    assert cluster.bird_routes(h1) == routes

    # The daemon is still alive and applies the next good change.
    cluster.put("BGPPeer", "bad", {"peerIP": h1.gateway, "asNumber": 65001, "keepaliveTime": "9s"})
    tor = protocol_name("Global", ipaddress.IPv4Address(h1.gateway))
    wait_for("the fixed peer to reach BIRD", lambda: tor in cluster.protocols(h1))
    assert "keepalive time 9;" in cluster.config_path(h1).read_text()


def test_bird_crash_keeps_routes_on_peers_and_sessions_come_back(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(hosts=3)
    h1, h2, h3 = cluster.fab.hosts
    cluster.add_nodes()
    cluster.add_pool()
    ips = {h.name: cluster.assign(h, f"wl-{h.name}") for h in (h1, h2, h3)}
    cluster.start_all()
    converged(cluster)
    w1 = cluster.workload(h1, "w1", ips["host1"])
    w2 = cluster.workload(h2, "w2", ips["host2"])
    block2 = cluster.blocks(h2)[0]
    session_to_h2 = protocol_name("Mesh", ipaddress.IPv4Address(h2.ip))

    def session_down(host: Host) -> bool:
        return not cluster.bgp_sessions(host)[session_to_h2].startswith("Established")

    cluster.kill_bird(h2)
    for peer in (h1, h3):
        wait_for(f"{peer.name} to notice the crash", functools.partial(session_down, peer))
        # Graceful restart: the crashed peer's routes are kept (stale) meanwhile.
        assert f"unicast {block2} via {h2.ip}" in cluster.bird_routes(peer)
    assert f"blackhole {block2}" in cluster.bird_routes(h2)  # persist: BIRD's own routes stay
    assert probe(w1.netns, w2.ip, 80)

    cluster.start_bird(h2)
    converged(cluster)
    assert probe(w2.netns, w1.ip, 80)
