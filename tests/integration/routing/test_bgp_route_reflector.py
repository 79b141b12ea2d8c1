"""Route reflector topology, configured the way Calico's documentation does it.

host1 becomes a route reflector (``routeReflectorClusterID`` plus the label
``route-reflector=true``), one BGPPeer peers every node with the reflectors,
and the node-to-node mesh is switched off (REFERENCE 7.2). Every other host
then has exactly one session, to host1, and still learns every block with
its owner as the next hop (a reflector does not change it), so workloads
reach each other as in the mesh.
"""

from __future__ import annotations

import ipaddress

import pytest

from calico.bgp.peers import protocol_name

from ._routing import RoutingLab, status_rows
from .conftest import MakeLab

pytestmark = pytest.mark.root

CLUSTER_ID = "244.0.0.1"
PEERING = """\
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer-with-route-reflectors
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
"""
NO_MESH = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: false
  asNumber: 64512
"""
SPECIFIC = "node specific"


def make_reflector(lab: RoutingLab) -> None:
    patch = f'{{"spec": {{"bgp": {{"routeReflectorClusterID": "{CLUSTER_ID}"}}}}}}'
    lab.calicoctl("patch", "node", "host1", "-p", patch)
    lab.calicoctl("label", "nodes", "host1", "route-reflector=true")
    lab.calicoctl("apply", "-f", "-", stdin=f"{PEERING}---\n{NO_MESH}")


def test_route_reflector_carries_every_block(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=3)
    rr, *clients = lab.hosts
    make_reflector(lab)
    node = lab.resource("Node", "host1")
    assert node["metadata"]["labels"]["route-reflector"] == "true"
    assert node["spec"]["bgp"]["routeReflectorClusterID"] == CLUSTER_ID

    lab.wait_sessions(rr, {c.ip: SPECIFIC for c in clients})
    for client in clients:
        lab.wait_sessions(client, {rr.ip: SPECIFIC})  # no mesh, no client-to-client
    rr_config = lab.bird_config(rr)
    for client in clients:
        name = protocol_name("Node", ipaddress.IPv4Address(client.ip))
        stanza = rr_config.split(f"protocol bgp {name} ", 1)[1].split("\n}\n", 1)[0]
        assert "rr client;" in stanza
        assert f"rr cluster id {CLUSTER_ID};" in stanza
    for host in lab.hosts:
        assert "protocol bgp Mesh_" not in lab.bird_config(host)

    for host in lab.hosts:
        lab.add_workload(host.name, f"w{host.name.removeprefix('host')}")
    lab.wait_reachable()
    # host2 learns host3's block from host1, with host3 still the next hop.
    lab.wait_bird_routes()
    for host in lab.hosts:
        rows = status_rows(lab.node_status(host))
        expected = {c.ip for c in clients} if host == rr else {rr.ip}
        assert set(rows) == expected, rows
        assert all(r[1:3] == [SPECIFIC, "up"] and r[4] == "Established" for r in rows.values())
