"""An external BGP router (ToR, AS 64513) peered with every host by one global BGPPeer.

Calico advertises to the outside world exactly its IPAM blocks: never a
workload /32 inside a block, never the hosts' own networks (REFERENCE 6.4, 7.3).
The router is plain BIRD with a hand-written config (``_tor``).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator

import pytest

from calico.bgp.peers import protocol_name

from ._routing import MESH, RoutingLab, status_rows, wait_for
from ._tor import TOR_AS, TopOfRack

pytestmark = pytest.mark.root

PEER = "tor"
GLOBAL_PEER = """\
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: {name}
spec:
  peerIP: {ip}
  asNumber: {asn}
"""


@pytest.fixture
def tor(mesh: RoutingLab) -> Iterator[TopOfRack]:
    router = TopOfRack(mesh)
    router.start()
    try:
        yield router
    finally:
        # Leave the shared lab a plain mesh again.
        mesh.calicoctl("delete", "bgppeer", PEER)
        for host in mesh.hosts:
            mesh.wait_sessions(host, {o.ip: MESH for o in mesh.others(host)})
        router.stop()


def test_tor_receives_exactly_the_blocks(mesh: RoutingLab, tor: TopOfRack) -> None:
    mesh.calicoctl("apply", "-f", "-", stdin=GLOBAL_PEER.format(name=PEER, ip=tor.ip, asn=TOR_AS))
    for host in mesh.hosts:
        mesh.wait_sessions(host, {tor.ip: "global"} | {o.ip: MESH for o in mesh.others(host)})
        wait_for(f"the ToR's session with {host.name}", functools.partial(tor.established, host))
        rendered = mesh.bird_config(host)
        name = protocol_name("Global", ipaddress.IPv4Address(tor.ip))
        assert f"protocol bgp {name} from bgp_template" in rendered
        assert f"neighbor {tor.ip} as {TOR_AS};" in rendered

    owner = {block: host for host in mesh.hosts for block in mesh.blocks(host)}
    assert len(owner) == len(mesh.hosts)

    # Every host announces its own blocks, and (as Calico's export filter accepts
    # any route in a pool) re-announces those it learned over the mesh: the ToR
    # ends with each block from every host.  Sessions come up one by one, so
    # wait for all of those paths, not just for one path per block.
    expected_paths = {(b, h.name) for b in owner for h in mesh.hosts}

    def received() -> set[tuple[str, str]]:
        return {(r.net, r.protocol) for r in tor.routes()}

    wait_for("every host's paths at the ToR", lambda: received() >= expected_paths, seen=received)
    routes = tor.routes()
    # Exactly the blocks: no workload /32 (w1 and w1b share host1's block), no
    # fabric subnet, no tunnel or host address.
    assert {r.net for r in routes} == set(owner)
    assert all(r.net.endswith("/26") for r in routes), routes
    # Each path's next hop is the host that sent it.
    assert {(r.net, r.protocol) for r in routes} == expected_paths
    assert all(r.via == mesh.host(r.protocol).ip for r in routes), routes
    assert all(sum(r.best for r in routes if r.net == block) == 1 for block in owner), routes
    for host in mesh.hosts:
        rows = status_rows(mesh.node_status(host))
        assert rows[tor.ip][1:3] == ["global", "up"], rows
        assert rows[tor.ip][4] == "Established", rows
