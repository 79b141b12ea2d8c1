"""Crashes and restarts on a running host never cut established connections.

Each test holds one TCP connection open between two workloads (``_echo``,
one round trip every 50 ms) while it breaks something on the host of the
server workload:

* BIRD killed with SIGKILL: the kernel keeps BIRD's routes (``persist``), the
  peers keep the crashed speaker's routes as stale (graceful restart) while
  calico-node starts a new BIRD, and the sessions come back Established;
* felix killed with SIGKILL: felix owns no state the kernel needs, so every
  route stays while calico-node starts a new felix, which changes nothing;
* calico-node stopped with SIGTERM (BIRD leaves by "graceful restart") and
  started again: nothing is withdrawn, not even while nothing runs.

"Never cut" is measured: the connection is the same socket afterwards and the
longest pause between two round trips stays below ``MAX_GAP`` -- a route
missing for a moment would show up as TCP retransmissions, 200 ms at least.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calico.lab.cluster import node_process

from ._routing import EchoConnection, RoutingLab, start_echo_server, wait_for

pytestmark = pytest.mark.root

MAX_GAP = 0.5  # seconds without a round trip (typically 0.06); a route gone that long shows


def withdrawals(mesh: RoutingLab, logs: dict[str, int], block: str) -> list[str]:
    """Lines, logged by peers' BIRDs since ``logs`` (offsets), where ``block`` was removed.

    ``> removed [replaced]`` is not one: it is the stale copy giving way to the
    copy the restarted speaker sent again (the end of a graceful restart).
    """
    found = []
    for name, offset in logs.items():
        for line in mesh.log(mesh.host(name), "bird")[offset:].splitlines():
            removed = " > removed " in line and "[replaced]" not in line
            if removed and f" {block} " in line:
                found.append(f"{name}: {line}")
    return found


@pytest.fixture(scope="module")
def server(mesh: RoutingLab) -> str:
    """The echo server runs in w2, on host2: the host every test breaks."""
    start_echo_server(mesh, mesh.workloads["w2"])
    return "host2"


@pytest.fixture
def connection(mesh: RoutingLab, server: str) -> Iterator[EchoConnection]:
    conn = EchoConnection(mesh.workloads["w1"], mesh.workloads["w2"])
    try:
        yield conn
    finally:
        conn.close()


def test_bird_sigkill(mesh: RoutingLab, server: str, connection: EchoConnection) -> None:
    host = mesh.host(server)
    routes = {h.name: mesh.bird_routes(h) for h in mesh.hosts}
    restarts = mesh.child(host, "bird")["restarts"]
    logs = {h.name: len(mesh.log(h, "bird")) for h in mesh.hosts}
    peer_logs = {p.name: logs[p.name] for p in mesh.others(host)}

    new = mesh.kill_child(host, "bird")
    assert new["restarts"] == restarts + 1
    # The crash withdrew nothing: not from host2's kernel (persist), not from
    # the peers' (graceful restart keeps host2's routes while it comes back).
    for h in mesh.hosts:
        assert mesh.bird_routes(h) == routes[h.name], h.name
    connection.assert_alive(MAX_GAP)

    mesh.wait_child_ready(host, "bird")
    mesh.wait_mesh()
    mesh.wait_bird_routes()
    # It was a graceful restart on both sides (BIRD's own words).
    for peer in mesh.others(host):
        assert "Neighbor graceful restart detected" in mesh.log(peer, "bird")[logs[peer.name] :]

    def new_log() -> str:
        return mesh.log(host, "bird")[logs[host.name] :]

    assert "Graceful restart started" in new_log()
    wait_for("BIRD to finish its graceful restart", lambda: "Graceful restart done" in new_log())
    # The peers refreshed host2's block from the new session; never removed it.
    [block] = mesh.blocks(host)
    assert withdrawals(mesh, peer_logs, block) == []
    connection.assert_alive(MAX_GAP)
    mesh.wait_reachable()


def test_felix_sigkill(mesh: RoutingLab, server: str, connection: EchoConnection) -> None:
    host = mesh.host(server)
    before = mesh.routes(host)

    old = mesh.child(host, "calico-felix")
    mesh.kill_child(host, "calico-felix")
    assert mesh.routes(host) == before  # a dead felix takes no route with it
    connection.assert_alive(MAX_GAP)

    mesh.wait_child_ready(host, "calico-felix")
    assert mesh.child(host, "calico-felix")["pid"] != old["pid"]
    assert mesh.routes(host) == before  # nor does the new one change any
    connection.assert_alive(MAX_GAP)
    mesh.wait_reachable()


def test_calico_node_restart(mesh: RoutingLab, server: str, connection: EchoConnection) -> None:
    host = mesh.host(server)
    routes = {h.name: mesh.bird_routes(h) for h in mesh.hosts}
    old = mesh.node_status_file(host)
    logs = {h.name: len(mesh.log(h, "bird")) for h in mesh.hosts}

    assert mesh.lab.pm.stop(node_process(host), timeout=30.0)  # SIGTERM, then it waits
    stopped = mesh.node_status_file(host)["children"]
    assert not any(c["running"] for c in stopped.values()), stopped
    assert "Shutting down for graceful restart" in mesh.log(host, "bird")[logs[host.name] :]
    # Nothing of Calico runs on host2 now, and nothing was withdrawn anywhere.
    for h in mesh.hosts:
        assert mesh.bird_routes(h) == routes[h.name], h.name
    connection.assert_alive(MAX_GAP)

    mesh.lab.start_node(host)
    wait_for(
        "the new calico-node to be ready",
        lambda: (s := mesh.node_status_file(host))["pid"] != old["pid"] and s["ready"],
        seen=lambda: mesh.node_status_file(host),
    )
    mesh.wait_mesh()
    mesh.wait_bird_routes()
    peer_logs = {p.name: logs[p.name] for p in mesh.others(host)}
    for name, offset in peer_logs.items():
        assert "Neighbor graceful restart detected" in mesh.log(mesh.host(name), "bird")[offset:]
    [block] = mesh.blocks(host)
    assert withdrawals(mesh, peer_logs, block) == []
    connection.assert_alive(MAX_GAP)
    mesh.wait_reachable()
