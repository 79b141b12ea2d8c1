"""Which BGP sessions this node opens, and with what options.

A port of confd's peer logic: ``updatePeersV1`` in
``confd/pkg/backends/calico/client.go`` (which BGPPeers apply to which node,
reverse peerings, duplicate suppression) and ``bgp_processor.go`` (mesh peers,
protocol names, passive mode, route-reflector clients, next hop).

Three sources, named as calicoctl's ``node status`` expects (REFERENCE 7.2):

* the node-to-node mesh, ``Mesh_<ip>``: every other node with an IPv4 BGP
  address, unless the mesh is off, this node is a route reflector, or the
  other node is one.  To avoid two TCP connections racing, a node is passive
  toward peers whose address *string* is greater than its own;
* BGPPeers without ``node``/``nodeSelector``, ``Global_<ip>[_port_<p>]``;
* BGPPeers whose ``node``/``nodeSelector`` picks this node, plus automatic
  reverse peerings (this node matches a peer's ``peerSelector`` or is its
  ``peerIP``), ``Node_<ip>[_port_<p>]``.

Emission order matters for duplicates, as in confd: all global peerings
first, then node-specific ones, then reverse ones; the first peering to an
address and port wins, and a node-specific one is dropped when a global one
to the same address and port exists.  BGPPeers are taken in name order (confd
iterates a Go map, so its choice between true duplicates is arbitrary).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from calico.bgp.model import BGPInputs, NodeBGP, PeerResource
from calico.errors import SelectorError
from calico.selector import parse as parse_selector

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BirdPeer:
    """One ``protocol bgp`` of the rendered config."""

    name: str
    kind: str  # mesh, global or node
    ip: ipaddress.IPv4Address
    as_number: int
    port: int = 0  # 0: BIRD's default, 179
    local_as_number: int | None = None
    internal: bool = True  # same AS as ours (after localASNumber): iBGP
    source_address: ipaddress.IPv4Address | None = None
    ttl_security: int = 0  # 0 = off
    password: str | None = None
    passive: bool = False
    graceful_restart_time: int | None = None
    keepalive_time: int | None = None
    rr_cluster_id: str = ""  # set: the peer is our route-reflector client
    next_hop_self: bool = False
    next_hop_keep: bool = False
    num_allow_local_as: int = 0


@dataclass(frozen=True)
class _Candidate:
    """confd's ``backends.BGPPeer``: a peering before it is named and finished."""

    ip: ipaddress.IPv4Address
    port: int
    as_number: int
    source: PeerResource  # the BGPPeer it comes from: its session options
    calico_node: bool = False  # peerIP belongs to a Calico node (passive rule applies)
    rr_cluster_id: str = ""  # the peer node's cluster ID (selector peerings only)
    local_as_number: int | None = None
    num_allow_local_as: int = 0


def compute_peers(inputs: BGPInputs) -> list[BirdPeer]:
    """This node's BGP sessions, sorted by protocol name like confd's output."""
    me = inputs.node
    peers = [*_mesh_peers(inputs, me), *_explicit_peers(inputs, me)]
    return sorted(peers, key=lambda p: p.name)


def protocol_name(prefix: str, ip: ipaddress.IPv4Address, port: int = 0) -> str:
    """``Mesh_10_0_0_2``, ``Global_10_0_0_9_port_1790``: calicoctl recovers the IP from it."""
    name = f"{prefix}_{str(ip).replace('.', '_')}"
    return f"{name}_port_{port}" if port else name


# -- the mesh ----------------------------------------------------------------


def _mesh_peers(inputs: BGPInputs, me: NodeBGP) -> Iterator[BirdPeer]:
    settings = inputs.settings
    if me.rr_cluster_id or not settings.mesh_enabled:
        return
    assert me.ipv4 is not None
    for other in sorted(inputs.nodes.values(), key=lambda n: n.name):
        if other.ipv4 is None or other.ipv4 == me.ipv4 or other.rr_cluster_id:
            continue
        as_number = inputs.as_of(other)
        yield BirdPeer(
            name=protocol_name("Mesh", other.ipv4),
            kind="mesh",
            ip=other.ipv4,
            as_number=as_number,
            port=settings.listen_port_of(other.name),
            internal=as_number == inputs.local_as,
            source_address=me.ipv4,
            password=settings.mesh_password,
            graceful_restart_time=settings.mesh_max_restart_time,
            passive=str(other.ipv4) > str(me.ipv4),
        )


# -- BGPPeer resources -------------------------------------------------------


def _explicit_peers(inputs: BGPInputs, me: NodeBGP) -> Iterator[BirdPeer]:
    emitted: dict[tuple[str, ipaddress.IPv4Address, int], _Candidate] = {}

    def emit(scope: str, cand: _Candidate) -> None:
        key = (scope, cand.ip, cand.port)
        if key in emitted or (scope == "Node" and ("Global", cand.ip, cand.port) in emitted):
            return
        emitted[key] = cand

    resources = sorted(inputs.peers, key=lambda r: r.name)
    for res in resources:
        if res.is_global:
            for cand in _forward_candidates(inputs, res):
                emit("Global", cand)
    for res in resources:
        if not res.is_global and _selects_local_node(inputs, res, me):
            for cand in _forward_candidates(inputs, res):
                emit("Node", cand)
    for res in resources:
        for cand in _reverse_candidates(inputs, res, me):
            emit("Node", cand)
    for (scope, ip, _), cand in emitted.items():
        if ip != me.ipv4:  # never peer with ourselves
            yield _finish(inputs, me, scope, cand)


def _selects_local_node(inputs: BGPInputs, res: PeerResource, me: NodeBGP) -> bool:
    if res.node:
        return res.node == me.name
    return me in _nodes_matching(inputs, res.node_selector, res.name)


def _forward_candidates(inputs: BGPInputs, res: PeerResource) -> Iterator[_Candidate]:
    """The peers a BGPPeer names: the nodes of its peerSelector, or its peerIP."""
    if res.peer_selector:
        for node in _nodes_matching(inputs, res.peer_selector, res.name):
            yield from _node_candidate(inputs, node, res)
        return
    try:
        ip = ipaddress.IPv4Address(res.peer_ip)
    except ValueError:
        return  # no peerIP, or an IPv6 one: this renderer is IPv4 only
    port = res.port
    if port == 0:
        # A peerIP that is a Calico node (same AS) is reached on that node's listen port.
        nodes = _nodes_with_ip_port_as(inputs, ip, res.as_number, 0)
        if nodes:
            port = inputs.settings.listen_port_of(nodes[0].name)
    yield _Candidate(
        ip=ip,
        port=port,
        as_number=res.as_number,
        source=res,
        calico_node=any(n.ipv4 == ip for n in inputs.nodes.values()),
        local_as_number=res.local_as_number,
        num_allow_local_as=res.num_allowed_local_as,
    )


def _reverse_candidates(inputs: BGPInputs, res: PeerResource, me: NodeBGP) -> Iterator[_Candidate]:
    """Automatic reverse peering: if this node is the *target* of a BGPPeer, it
    peers back with the nodes on the BGPPeer's local side."""
    if res.reverse_peering == "Manual":
        return
    if res.peer_selector:
        targets = _nodes_matching(inputs, res.peer_selector, res.name)
    else:
        try:
            ip = ipaddress.IPv4Address(res.peer_ip)
        except ValueError:
            return
        targets = _nodes_with_ip_port_as(inputs, ip, res.as_number, res.port)
    if me not in targets:
        return
    if res.node_selector:
        sources = _nodes_matching(inputs, res.node_selector, res.name)
    elif res.node:
        sources = [n for n in inputs.nodes.values() if n.name == res.node]
    else:
        sources = sorted(inputs.nodes.values(), key=lambda n: n.name)
    for node in sources:
        yield from _node_candidate(inputs, node, res)


def _node_candidate(inputs: BGPInputs, node: NodeBGP, res: PeerResource) -> Iterator[_Candidate]:
    """confd's ``nodeAsBGPPeers``: a Calico node as the far end of a peering."""
    if node.ipv4 is None:
        return
    yield _Candidate(
        ip=node.ipv4,
        port=inputs.settings.listen_port_of(node.name),
        as_number=inputs.as_of(node),
        source=res,
        rr_cluster_id=node.rr_cluster_id,
    )


def _finish(inputs: BGPInputs, me: NodeBGP, scope: str, cand: _Candidate) -> BirdPeer:
    """confd's ``buildPeerFromData``."""
    res = cand.source
    local_as = cand.local_as_number or inputs.local_as
    internal = cand.as_number == local_as
    rr_cluster_id = ""
    if internal and me.rr_cluster_id and cand.rr_cluster_id != me.rr_cluster_id:
        rr_cluster_id = me.rr_cluster_id  # we reflect routes to this iBGP peer
    assert me.ipv4 is not None
    return BirdPeer(
        name=protocol_name(scope, cand.ip, cand.port),
        kind=scope.lower(),
        ip=cand.ip,
        as_number=cand.as_number,
        port=cand.port,
        local_as_number=cand.local_as_number,
        internal=internal,
        source_address=me.ipv4 if res.source_address == "UseNodeIP" else None,
        ttl_security=res.ttl_security,
        password=res.password,
        passive=scope == "Global" and cand.calico_node and str(cand.ip) > str(me.ipv4),
        graceful_restart_time=res.max_restart_time,
        keepalive_time=res.keepalive_time,
        rr_cluster_id=rr_cluster_id,
        next_hop_self=res.next_hop_mode == "Self",
        # keepOriginalNextHop predates nextHopMode and only ever applied to eBGP.
        next_hop_keep=res.next_hop_mode == "Keep" or (res.keep_original_next_hop and not internal),
        num_allow_local_as=cand.num_allow_local_as,
    )


# -- node lookups ------------------------------------------------------------


def _nodes_matching(inputs: BGPInputs, selector: str, owner: str) -> list[NodeBGP]:
    try:
        sel = parse_selector(selector)
    except SelectorError as exc:
        _log.warning("BGPPeer %s: bad selector %r: %s", owner, selector, exc)
        return []
    nodes = sorted(inputs.nodes.values(), key=lambda n: n.name)
    return [n for n in nodes if sel.evaluate(dict(n.labels))]


def _nodes_with_ip_port_as(
    inputs: BGPInputs, ip: ipaddress.IPv4Address, as_number: int, port: int
) -> list[NodeBGP]:
    """Calico nodes that a ``peerIP`` (and AS, and port when given) designates."""
    wanted_as = as_number or inputs.settings.as_number
    found = []
    for node in sorted(inputs.nodes.values(), key=lambda n: n.name):
        node_port = inputs.settings.listen_port_of(node.name) or 179
        if node.ipv4 != ip or inputs.as_of(node) != wanted_as:
            continue
        if port and port != node_port:
            continue
        found.append(node)
    return found
