"""Route reflector instead of the mesh, and an external ToR router as a global peer."""

from __future__ import annotations

import functools
import ipaddress
import textwrap

import pytest

from calico.bgp.bird_process import bird_argv, wait_ready
from calico.bgp.birdcl import BirdClient, BirdError
from calico.bgp.peers import protocol_name
from calico.lab.probe import probe

from ._cluster import BgpCluster, wait_for
from .conftest import MakeCluster

pytestmark = pytest.mark.root

TOR_AS = 65001


def node_name(prefix: str, ip: str) -> str:
    return protocol_name(prefix, ipaddress.IPv4Address(ip))


def test_route_reflector_topology_gives_the_same_reachability(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(hosts=3)
    h1, h2, h3 = cluster.fab.hosts
    cluster.put("BGPConfiguration", "default", {"nodeToNodeMeshEnabled": False})
    cluster.add_nodes(
        labels={"host1": {"route-reflector": "true"}},
        host1={"routeReflectorClusterID": "244.0.0.1"},
    )
    cluster.put("BGPPeer", "peer-with-rrs",
                {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'"})  # fmt: skip
    cluster.add_pool()
    ips = {h.name: cluster.assign(h, f"wl-{h.name}") for h in (h1, h2, h3)}
    cluster.start_all()

    # Clients peer with the RR only; the RR peers back with each (reverse peering).
    cluster.wait_established(h1, {node_name("Node", h2.ip), node_name("Node", h3.ip)})
    cluster.wait_established(h2, {node_name("Node", h1.ip)})
    cluster.wait_established(h3, {node_name("Node", h1.ip)})
    rr_config = cluster.config_path(h1).read_text()
    assert rr_config.count("rr client;") == 2
    assert "rr cluster id 244.0.0.1;" in rr_config
    assert "rr client" not in cluster.config_path(h2).read_text()

    # Reflected routes keep the originating host as next hop.
    block3 = cluster.blocks(h3)[0]
    wait_for("host2 learns host3's block via the RR",
             lambda: f"unicast {block3} via {h3.ip}" in cluster.bird_routes(h2))  # fmt: skip
    w2 = cluster.workload(h2, "w2", ips["host2"])
    w3 = cluster.workload(h3, "w3", ips["host3"])
    w1 = cluster.workload(h1, "w1", ips["host1"])
    for src, dst in ((w2, w3), (w3, w2), (w1, w3), (w2, w1)):
        assert probe(src.netns, dst.ip, 80), f"{src.name} -> {dst.name}"


def test_external_tor_receives_exactly_the_blocks(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(hosts=3)
    hosts = cluster.fab.hosts
    gateway_ip = hosts[0].gateway
    cluster.add_nodes()
    cluster.add_pool()
    cluster.put("BGPPeer", "tor", {"peerIP": gateway_ip, "asNumber": TOR_AS})
    for h in hosts:
        cluster.assign(h, f"wl-{h.name}")
    blocks = {b for h in hosts for b in cluster.blocks(h)}
    ips: dict[str, str] = {}
    cluster.start_all()
    # Workloads make /32 routes and the fabric a connected route on every host:
    # none of them may leave the cluster.
    for h in hosts:
        ips[h.name] = cluster.assign(h, f"more-{h.name}")
        cluster.workload(h, f"w{h.name[-1]}", ips[h.name])
        wait_for(f"{h.name}'s BIRD to learn its workload's /32",
                 functools.partial(bird_knows, cluster.socket(h), f"{ips[h.name]}/32"))  # fmt: skip

    tor_socket = start_tor(cluster, gateway_ip, [h.ip for h in hosts])
    for h in hosts:
        cluster.wait_established(
            h,
            {node_name("Global", gateway_ip)}
            | {node_name("Mesh", o.ip) for o in hosts if o is not h},
        )

    def tor_prefixes() -> set[str]:
        with BirdClient(tor_socket) as bird:
            lines = bird.show_route().texts()
        return {line.split()[0] for line in lines if line[:1].isdigit()}

    wait_for("the ToR to learn every block", lambda: tor_prefixes() >= blocks)
    assert tor_prefixes() == blocks
    for n, h in enumerate(hosts, start=1):  # and every host advertised its own block itself

        def from_host(n: int = n, block: str = cluster.blocks(h)[0]) -> bool:
            with BirdClient(tor_socket) as bird:
                learned = bird.show_route(f"protocol host{n}").texts()
            return any(line.startswith(block) for line in learned)

        wait_for(f"the ToR to learn {h.name}'s block from {h.name}", from_host)


def bird_knows(socket: str, prefix: str) -> bool:
    try:
        with BirdClient(socket) as bird:
            bird.show_route(prefix)
    except BirdError:  # 8001 Network not found
        return False
    return True


def start_tor(cluster: BgpCluster, router_id: str, host_ips: list[str]) -> str:
    """Plain BIRD in the lab's gateway namespace, configured by hand like a ToR.

    No kernel protocol: it only learns and shows routes, so the gateway keeps
    its job of never carrying workload routes.
    """
    neighbours = "\n".join(
        f"protocol bgp host{n} from hosts {{ neighbor {ip} as 64512; }}"
        for n, ip in enumerate(host_ips, start=1)
    )
    config = (
        textwrap.dedent(f"""\
        router id {router_id};
        log stderr all;
        protocol device {{ scan time 1; }}
        template bgp hosts {{
          local as {TOR_AS};
          ipv4 {{ import all; export none; }};
          connect delay time 1;
        }}
        """)
        + neighbours
        + "\n"
    )
    tor_dir = cluster.dir / "tor"
    tor_dir.mkdir()
    (tor_dir / "bird.cfg").write_text(config)
    socket = str(tor_dir / "bird.ctl")
    argv = bird_argv(tor_dir / "bird.cfg", socket, tor_dir / "bird.pid", recovery=False)
    cluster.pm.start("bird-tor", cluster.fab.gateway_netns, argv)
    wait_ready(socket)
    return socket
