"""What calico-bgp reads from the datastore, as typed values.

confd's calico backend first turns the v3 resources into the old
``/calico/bgp/v1/...`` keys (``confd/pkg/backends/calico/client.go``) and the
templates then read those.  We skip the intermediate keys: ``load_inputs``
reads the v3 JSON straight into the dataclasses below, applying the defaults
confd applies when a value is *read* (AS 64512, mesh on, port 179).

Reading is forgiving on purpose.  The datastore may hold an object written by
another tool or an older version; one malformed Node, peer or pool is logged
and skipped so that the rest of the cluster keeps its routing.  Values that
parse but that BIRD would refuse (a keepalive of 0 s, say) are passed on: the
``bird -p`` check in the daemon is what keeps such a config out of BIRD.

Passwords come from Secret references; ``passwords`` says where those live.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from calico.bgp._values import as_number, seconds_or_none, split_peer_ip
from calico.bgp.passwords import SecretReader, no_secrets, read_password
from calico.datastore import Datastore
from calico.datastore.keys import kind_prefix
from calico.errors import ConfigError

_log = logging.getLogger(__name__)

DEFAULT_AS_NUMBER = 64512
DEFAULT_NORMAL_ROUTE_PRIORITY = 1024
GLOBAL_CONFIG_NAME = "default"
NODE_CONFIG_PREFIX = "node."
AFFINITY_PREFIX = "/calico/ipam/v2/host/"

Document = dict[str, Any]
_T = TypeVar("_T")


@dataclass(frozen=True)
class NodeBGP:
    """A Node's BGP identity.  ``ipv4`` is None for nodes without an IPv4 BGP address."""

    name: str
    ipv4: ipaddress.IPv4Address | None = None
    ipv4_network: ipaddress.IPv4Network | None = None  # the subnet the address was found on
    as_number: int | None = None  # None: the cluster's AS
    rr_cluster_id: str = ""  # non-empty: this node is a route reflector
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BGPSettings:
    """The ``default`` BGPConfiguration merged with ``node.<name>`` ones, with read defaults."""

    as_number: int = DEFAULT_AS_NUMBER
    mesh_enabled: bool = True
    listen_port: int = 0  # cluster-wide; 0 = BIRD's default (179)
    node_listen_ports: Mapping[str, int] = field(default_factory=dict)
    node_log_severity: Mapping[str, str] = field(default_factory=dict)
    log_severity: str = "Info"
    mesh_password: str | None = None
    mesh_max_restart_time: int | None = None  # seconds
    bind_mode: str = "None"
    ignored_interfaces: tuple[str, ...] = ()
    program_cluster_routes: str = "EnabledNoEncapOnly"
    normal_route_priority: int = DEFAULT_NORMAL_ROUTE_PRIORITY

    def listen_port_of(self, node: str) -> int:
        """The port ``node`` listens on: its own setting, else the cluster's (0 = 179)."""
        return self.node_listen_ports.get(node) or self.listen_port

    def log_severity_of(self, node: str) -> str:
        return self.node_log_severity.get(node) or self.log_severity


@dataclass(frozen=True)
class PeerResource:
    """One BGPPeer, parsed.  ``peer_ip`` is the bare address; ``port`` 0 when absent."""

    name: str
    node: str = ""
    node_selector: str = ""
    peer_ip: str = ""
    port: int = 0
    peer_selector: str = ""
    as_number: int = 0
    local_as_number: int | None = None
    keep_original_next_hop: bool = False
    next_hop_mode: str = ""  # "", Auto, Self or Keep
    password: str | None = None
    source_address: str = "UseNodeIP"
    max_restart_time: int | None = None  # seconds
    keepalive_time: int | None = None  # seconds
    num_allowed_local_as: int = 0
    ttl_security: int = 0
    reverse_peering: str = "Auto"

    @property
    def is_global(self) -> bool:
        """No ``node`` and no ``nodeSelector``: the peering applies to every node."""
        return not self.node and not self.node_selector


@dataclass(frozen=True)
class Pool:
    cidr: ipaddress.IPv4Network
    disabled: bool = False
    disable_bgp_export: bool = False
    ipip_mode: str = "Never"
    vxlan_mode: str = "Never"

    @property
    def uses_vxlan(self) -> bool:
        return self.vxlan_mode in ("Always", "CrossSubnet")

    @property
    def uses_ipip(self) -> bool:
        return self.ipip_mode in ("Always", "CrossSubnet")


@dataclass(frozen=True)
class BGPInputs:
    """Everything one node's BIRD configuration is rendered from."""

    node_name: str
    nodes: Mapping[str, NodeBGP]
    settings: BGPSettings
    peers: tuple[PeerResource, ...]
    pools: tuple[Pool, ...]
    blocks: tuple[ipaddress.IPv4Network, ...]  # this node's confirmed affine blocks, sorted

    @property
    def node(self) -> NodeBGP:
        """This node; ConfigError if it is missing or has no IPv4 BGP address."""
        node = self.nodes.get(self.node_name)
        if node is None:
            raise ConfigError(f"node {self.node_name!r} does not exist in the datastore")
        if node.ipv4 is None:
            raise ConfigError(f"node {self.node_name!r} has no spec.bgp.ipv4Address")
        return node

    @property
    def local_as(self) -> int:
        node = self.nodes.get(self.node_name)
        return node.as_number if node and node.as_number else self.settings.as_number

    def as_of(self, node: NodeBGP) -> int:
        return node.as_number or self.settings.as_number


def load_inputs(ds: Datastore, node_name: str, secrets: SecretReader = no_secrets) -> BGPInputs:
    """Read this node's BGP inputs from ``ds`` (one list per kind, no watches)."""
    return BGPInputs(
        node_name=node_name,
        nodes={n.name: n for n in _each(ds, "Node", parse_node)},
        settings=parse_settings(_docs(ds, "BGPConfiguration"), secrets),
        peers=tuple(_each(ds, "BGPPeer", lambda doc: parse_peer(doc, secrets))),
        pools=tuple(p for p in _each(ds, "IPPool", parse_pool) if p is not None),
        blocks=confirmed_blocks(ds, node_name),
    )


def watched_prefixes(node_name: str) -> tuple[str, ...]:
    """Every datastore prefix a change under which may change this node's config."""
    kinds = ("Node", "BGPConfiguration", "BGPPeer", "IPPool")
    return (*(kind_prefix(k) for k in kinds), f"{AFFINITY_PREFIX}{node_name}/")


# -- per kind ----------------------------------------------------------------


def parse_node(doc: Document) -> NodeBGP:
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    bgp = spec.get("bgp") or {}
    ipv4, network = None, None
    if bgp.get("ipv4Address"):
        iface = ipaddress.IPv4Interface(bgp["ipv4Address"])
        ipv4, network = iface.ip, iface.network
    return NodeBGP(
        name=str(meta["name"]),
        ipv4=ipv4,
        ipv4_network=network,
        as_number=as_number(bgp.get("asNumber")) or None,
        rr_cluster_id=str(bgp.get("routeReflectorClusterID") or ""),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
    )


def parse_settings(docs: list[Document], secrets: SecretReader) -> BGPSettings:
    by_name = {(d.get("metadata") or {}).get("name", ""): d.get("spec") or {} for d in docs}
    spec = by_name.get(GLOBAL_CONFIG_NAME, {})
    ports, severities = {}, {}
    for name, node_spec in by_name.items():
        if name.startswith(NODE_CONFIG_PREFIX):
            node = name[len(NODE_CONFIG_PREFIX) :]
            if node_spec.get("listenPort"):
                ports[node] = int(node_spec["listenPort"])
            if node_spec.get("logSeverityScreen"):
                severities[node] = str(node_spec["logSeverityScreen"])
    mesh = spec.get("nodeToNodeMeshEnabled")
    return BGPSettings(
        as_number=as_number(spec.get("asNumber")) or DEFAULT_AS_NUMBER,
        mesh_enabled=True if mesh is None else bool(mesh),
        listen_port=int(spec.get("listenPort") or 0),
        node_listen_ports=ports,
        node_log_severity=severities,
        log_severity=str(spec.get("logSeverityScreen") or "Info"),
        mesh_password=read_password(spec.get("nodeMeshPassword"), secrets, "BGPConfiguration"),
        mesh_max_restart_time=seconds_or_none(spec.get("nodeMeshMaxRestartTime")),
        bind_mode=str(spec.get("bindMode") or "None"),
        ignored_interfaces=tuple(str(i) for i in spec.get("ignoredInterfaces") or ()),
        program_cluster_routes=str(spec.get("programClusterRoutes") or "EnabledNoEncapOnly"),
        normal_route_priority=int(
            spec.get("ipv4NormalRoutePriority") or DEFAULT_NORMAL_ROUTE_PRIORITY
        ),
    )


def parse_peer(doc: Document, secrets: SecretReader) -> PeerResource:
    name = str((doc.get("metadata") or {})["name"])
    spec = doc.get("spec") or {}
    peer_ip, port = split_peer_ip(str(spec.get("peerIP") or ""))
    if spec.get("localWorkloadSelector"):
        raise ValueError("localWorkloadSelector peerings are not supported")
    if peer_ip and not as_number(spec.get("asNumber")):
        raise ValueError("asNumber is required with peerIP")
    return PeerResource(
        name=name,
        node=str(spec.get("node") or ""),
        node_selector=str(spec.get("nodeSelector") or ""),
        peer_ip=peer_ip,
        port=port,
        peer_selector=str(spec.get("peerSelector") or ""),
        as_number=as_number(spec.get("asNumber")),
        local_as_number=as_number(spec.get("localASNumber")) or None,
        keep_original_next_hop=bool(spec.get("keepOriginalNextHop")),
        next_hop_mode=str(spec.get("nextHopMode") or ""),
        password=read_password(spec.get("password"), secrets, f"BGPPeer {name}"),
        source_address=str(spec.get("sourceAddress") or "UseNodeIP"),
        max_restart_time=seconds_or_none(spec.get("maxRestartTime")),
        keepalive_time=seconds_or_none(spec.get("keepaliveTime")),
        num_allowed_local_as=int(spec.get("numAllowedLocalASNumbers") or 0),
        ttl_security=int(spec.get("ttlSecurity") or 0),
        reverse_peering=str(spec.get("reversePeering") or "Auto"),
    )


def parse_pool(doc: Document) -> Pool | None:
    """The pool, or None for an IPv6 pool (this renderer is IPv4 only)."""
    spec = doc.get("spec") or {}
    cidr = ipaddress.ip_network(spec["cidr"])
    if not isinstance(cidr, ipaddress.IPv4Network):
        return None
    return Pool(
        cidr=cidr,
        disabled=bool(spec.get("disabled")),
        disable_bgp_export=bool(spec.get("disableBGPExport")),
        ipip_mode=str(spec.get("ipipMode") or "Never"),
        vxlan_mode=str(spec.get("vxlanMode") or "Never"),
    )


def confirmed_blocks(ds: Datastore, node_name: str) -> tuple[ipaddress.IPv4Network, ...]:
    """This node's IPv4 block affinities in state ``confirmed``.

    confd ignores pending affinities (``client.go`` treats them as deleted):
    a block is only advertised once IPAM has finished claiming it.  An
    affinity without a state predates the field and counts as confirmed.
    """
    items, _ = ds.list(f"{AFFINITY_PREFIX}{node_name}/ipv4/block/")
    blocks = []
    for kv in items:
        try:
            value = json.loads(kv.value) if kv.value else {}
            cidr = ipaddress.IPv4Network(kv.key.rsplit("/", 1)[1].replace("-", "/", 1))
        except ValueError as exc:
            _log.warning("Ignoring malformed block affinity %s: %s", kv.key, exc)
            continue
        if value.get("state", "confirmed") == "confirmed" and not value.get("deleted"):
            blocks.append(cidr)
    return tuple(sorted(blocks))


# -- reading -----------------------------------------------------------------


def _docs(ds: Datastore, kind: str) -> list[Document]:
    items, _ = ds.list(kind_prefix(kind))
    docs = []
    for kv in items:
        try:
            docs.append(dict(json.loads(kv.value)))
        except (ValueError, TypeError) as exc:
            _log.warning("Ignoring malformed %s %s: %s", kind, kv.key, exc)
    return docs


def _each(ds: Datastore, kind: str, parse: Callable[[Document], _T]) -> list[_T]:
    out: list[_T] = []
    for doc in _docs(ds, kind):
        try:
            out.append(parse(doc))
        except (ValueError, KeyError, TypeError) as exc:
            name = (doc.get("metadata") or {}).get("name", "?")
            _log.warning("Ignoring %s %s: %s", kind, name, exc)
    return out
