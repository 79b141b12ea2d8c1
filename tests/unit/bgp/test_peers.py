"""Which sessions a node opens: confd's peer selection, naming and options."""

from __future__ import annotations

from calico.bgp.peers import BirdPeer, compute_peers

from ._store import Store


def peers(store: Store, node: str) -> dict[str, BirdPeer]:
    return {p.name: p for p in compute_peers(store.inputs(node))}


def test_mesh_peers_every_other_node_with_an_address() -> None:
    store = Store().nodes(3).node("nobgp", None)
    got = peers(store, "node2")
    assert list(got) == ["Mesh_10_0_0_1", "Mesh_10_0_0_3"]
    assert got["Mesh_10_0_0_1"].kind == "mesh"
    assert [p.passive for p in got.values()] == [False, True]
    assert all(str(p.source_address) == "10.0.0.2" for p in got.values())


def test_mesh_off_means_no_mesh_peers() -> None:
    store = Store().nodes(3).bgp_config(nodeToNodeMeshEnabled=False)
    assert peers(store, "node1") == {}


def test_global_peer_to_a_calico_node_uses_its_port_and_the_passive_rule() -> None:
    store = Store().nodes(3).bgp_config(nodeToNodeMeshEnabled=False, listenPort=150)
    store.peer("to-node3", peerIP="10.0.0.3", asNumber=64512)
    store.peer("to-node1-166", peerIP="10.0.0.1:166", asNumber=64512)
    got = peers(store, "node2")
    assert set(got) == {"Global_10_0_0_3_port_150", "Global_10_0_0_1_port_166"}
    assert got["Global_10_0_0_3_port_150"].passive  # "10.0.0.3" > "10.0.0.2"
    assert not got["Global_10_0_0_1_port_166"].passive
    assert "Global_10_0_0_3_port_150" not in peers(store, "node3")  # never itself


def test_global_peer_wins_over_node_specific_duplicate() -> None:
    store = Store().nodes(2)
    store.peer("a-node", node="node1", peerIP="10.0.9.9", asNumber=65000)
    store.peer("b-global", peerIP="10.0.9.9", asNumber=65001)
    got = peers(store, "node1")
    assert "Node_10_0_9_9" not in got
    assert got["Global_10_0_9_9"].as_number == 65001


def test_first_bgppeer_by_name_wins_between_equal_peerings() -> None:
    store = Store().nodes(1)
    store.peer("b", peerIP="10.0.9.9", asNumber=65002)
    store.peer("a", peerIP="10.0.9.9", asNumber=65001)
    assert peers(store, "node1")["Global_10_0_9_9"].as_number == 65001


def test_selector_peering_with_automatic_reverse_peering() -> None:
    store = Store().bgp_config(nodeToNodeMeshEnabled=False)
    store.node("rr1", "10.0.0.1/24", {"rr": "yes"}, routeReflectorClusterID="1.0.0.1")
    store.node("rr2", "10.0.0.2/24", {"rr": "yes"}, routeReflectorClusterID="1.0.0.1")
    store.node("n3", "10.0.0.3/24").node("n4", "10.0.0.4/24")
    store.peer("to-rrs", nodeSelector="!has(rr)", peerSelector="has(rr)")
    client = peers(store, "n3")
    assert set(client) == {"Node_10_0_0_1", "Node_10_0_0_2"}
    assert all(p.rr_cluster_id == "" for p in client.values())
    rr = peers(store, "rr1")
    # Reverse peerings to the clients, which are its RR clients; the other RR
    # (same cluster ID) is not a peer at all: it is not selected by nodeSelector.
    assert set(rr) == {"Node_10_0_0_3", "Node_10_0_0_4"}
    assert all(p.rr_cluster_id == "1.0.0.1" for p in rr.values())
    assert not any(p.passive for p in rr.values())


def test_rr_peers_in_the_same_cluster_are_not_clients() -> None:
    store = Store().bgp_config(nodeToNodeMeshEnabled=False)
    store.node("rr1", "10.0.0.1/24", {"rr": "yes"}, routeReflectorClusterID="1.0.0.1")
    store.node("rr2", "10.0.0.2/24", {"rr": "yes"}, routeReflectorClusterID="1.0.0.1")
    store.node("rr3", "10.0.0.3/24", {"rr": "yes"}, routeReflectorClusterID="2.0.0.2")
    store.peer("rr-mesh", nodeSelector="has(rr)", peerSelector="has(rr)")
    got = peers(store, "rr1")
    assert got["Node_10_0_0_2"].rr_cluster_id == ""
    assert got["Node_10_0_0_3"].rr_cluster_id == "1.0.0.1"


def test_reverse_peering_for_a_peer_ip_that_is_a_node() -> None:
    store = Store().nodes(3).bgp_config(nodeToNodeMeshEnabled=False)
    store.peer("n1-to-n3", node="node1", peerIP="10.0.0.3", asNumber=64512)
    assert set(peers(store, "node1")) == {"Node_10_0_0_3"}
    assert set(peers(store, "node3")) == {"Node_10_0_0_1"}  # automatic reverse
    assert peers(store, "node2") == {}
    store.peer("n1-to-n3", node="node1", peerIP="10.0.0.3", asNumber=64512,
               reversePeering="Manual")  # fmt: skip
    assert peers(store, "node3") == {}


def test_node_specific_ebgp_options() -> None:
    store = Store().nodes(1).node("node2", "10.0.0.2/24", {"edge": "true"})
    store.peer(
        "edge", nodeSelector="edge == 'true'", peerIP="192.0.2.1", asNumber=65001,
        localASNumber=65010, keepOriginalNextHop=True, numAllowedLocalASNumbers=2,
    )  # fmt: skip
    assert "Node_192_0_2_1" not in peers(store, "node1")
    peer = peers(store, "node2")["Node_192_0_2_1"]
    assert (peer.kind, peer.as_number, peer.local_as_number) == ("node", 65001, 65010)
    assert not peer.internal
    assert peer.next_hop_keep
    assert peer.num_allow_local_as == 2


def test_local_as_number_can_make_a_peer_internal() -> None:
    store = Store().nodes(1)
    store.peer("p", peerIP="192.0.2.1", asNumber=65001, localASNumber=65001)
    assert peers(store, "node1")["Global_192_0_2_1"].internal


def test_ipv6_and_bad_selectors_are_ignored() -> None:
    store = Store().nodes(2)
    store.peer("v6", peerIP="fd00::1", asNumber=65001)
    store.peer("bad", peerSelector="rack ==", nodeSelector="all()")
    assert set(peers(store, "node1")) == {"Mesh_10_0_0_2"}
