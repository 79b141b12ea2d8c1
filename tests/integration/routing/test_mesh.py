"""Three hosts on one L2 fabric, full BGP mesh, real calico-node and CNI workloads.

What a Calico user checks after installing: every workload reaches every
other, ``calicoctl node status`` shows the mesh Established, and each host's
routing table has the other hosts' blocks ``proto bird`` via their fabric
address and its own blocks as ``blackhole`` (REFERENCE 6.4, 7.1, 7.7). Then the
aggregation promise: a new workload in a block that exists needs no BGP change.
"""

from __future__ import annotations

import ipaddress

import pytest

from calico.bgp.peers import protocol_name

from ._routing import MESH, RoutingLab, in_network, status_rows, wait_for

pytestmark = pytest.mark.root


def test_all_pairs_reach_each_other(mesh: RoutingLab) -> None:
    assert len(mesh.workloads) == 3
    assert {w.host for w in mesh.workloads.values()} == {h.name for h in mesh.hosts}
    assert mesh.unreachable() == []


def test_node_status_shows_every_mesh_peer_established(mesh: RoutingLab) -> None:
    mesh.wait_mesh()
    for host in mesh.hosts:
        out = mesh.node_status(host)
        assert out.startswith("Calico process is running.\n"), out
        rows = status_rows(out)
        assert set(rows) == {o.ip for o in mesh.others(host)}, out
        for cells in rows.values():
            assert cells[1:3] == [MESH, "up"], out
            assert cells[4] == "Established", out
        assert "IPv6 BGP status\nNo IPv6 peers found." in out


def test_kernel_routes_are_the_blocks_via_bird(mesh: RoutingLab) -> None:
    mesh.wait_bird_routes()
    for host in mesh.hosts:
        own = mesh.blocks(host)
        assert len(own) == 1, own  # one workload: one /26
        routes = mesh.bird_routes(host)
        assert {f"blackhole {b} proto bird" for b in own} <= routes
        for other in mesh.others(host):
            for block in mesh.blocks(other):
                assert f"{block} via {other.ip} dev eth0 proto bird" in routes
        # Nothing narrower than a block comes from BIRD: no /32 per workload.
        assert all("/26 " in r for r in routes), routes
        # The local workload is a device route (felix/CNI), not a BGP one.
        local = next(w for w in mesh.workloads.values() if w.host == host.name)
        [route] = mesh.routes(host, f"{local.ip}/32")
        assert route.startswith(f"{local.ip} dev {local.host_ifname} proto "), route
        assert "proto bird" not in route


def test_new_workload_in_existing_block_needs_no_bgp_change(mesh: RoutingLab) -> None:
    host1 = mesh.host("host1")
    configs = {h.name: (mesh.lab.host_dir(h) / "bird" / "bird.cfg") for h in mesh.hosts}
    before = {name: (path.read_text(), path.stat().st_mtime_ns) for name, path in configs.items()}
    routes = {h.name: mesh.bird_routes(h) for h in mesh.hosts}
    writes = {h.name: mesh.log(h, "calico-bgp").count("Wrote new BIRD config") for h in mesh.hosts}
    blocks = mesh.blocks(host1)

    extra = mesh.add_workload("host1", "w1b")
    assert in_network(extra.ip, blocks), (extra.ip, blocks)
    assert mesh.blocks(host1) == blocks
    mesh.wait_reachable([extra, mesh.workloads["w2"], mesh.workloads["w3"]])
    # Barrier: host1's BIRD has learned the workload's /32 from the kernel (it
    # scans every 2 s), so its export filter has already decided about it.
    wait_for("host1's BIRD to learn the new /32", lambda: mesh.bird_knows(host1, f"{extra.ip}/32"))
    for peer in mesh.others(host1):
        session = protocol_name("Mesh", ipaddress.IPv4Address(peer.ip))
        assert mesh.bird_exports(host1, session) == blocks, session  # the block, no /32
        assert not mesh.bird_knows(peer, f"{extra.ip}/32"), peer.name

    for host in mesh.hosts:
        path = configs[host.name]
        assert (path.read_text(), path.stat().st_mtime_ns) == before[host.name], host.name
        assert mesh.log(host, "calico-bgp").count("Wrote new BIRD config") == writes[host.name]
        assert mesh.bird_routes(host) == routes[host.name], host.name
    # On the peers the new address is covered by the block route: no /32 arrived.
    for peer in mesh.others(host1):
        got = mesh.route_get(peer, extra.ip)
        assert f"via {host1.ip} dev eth0" in got, got
