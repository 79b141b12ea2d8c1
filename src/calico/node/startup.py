"""calico-node start-up: register this host and make sure the cluster has its defaults.

The steps of calico/node's ``startup.go``, in its order:

1. Register the Node resource: ``spec.bgp.ipv4Address`` from ``IP`` (an
   address or CIDR, ``autodetect``, or ``none``) and
   ``IP_AUTODETECTION_METHOD``; ``spec.bgp.asNumber`` from ``AS``;
   ``spec.bgp.routeReflectorClusterID`` from ``CALICO_RR_CLUSTER_ID`` (our
   addition, handy in labs).  Everything else on an existing Node (labels,
   tunnel addresses, orchRefs) is kept.  The write is compare-and-swap,
   retried from a fresh read.  Another Node with the same address is logged
   as a warning (Calico exits instead; the lab would rather keep going).
2. Create the default IP pools, per IP family, only if that family has no
   pool at all (``default-ipv4-ippool``: ``CALICO_IPV4POOL_CIDR``, default
   192.168.0.0/16, ``_BLOCK_SIZE`` 26, ``_IPIP`` / ``_VXLAN`` never | always
   | cross-subnet, ``_NAT_OUTGOING`` true, ``_NODE_SELECTOR``,
   ``_DISABLE_BGP_EXPORT``; ``NO_DEFAULT_POOLS=true`` or ``CIDR=none``
   skips it).  IPv6 is opt-in here: Calico invents a random ULA pool when
   ``CALICO_IPV6POOL_CIDR`` is unset, we create one only when it is set.
3. Ensure the cluster-wide defaults Calico's ``EnsureInitialized`` and
   ``ensureDefaultConfig`` create: ClusterInformation ``default``, the
   ``default`` Tier, FelixConfiguration ``default`` (logSeverityScreen Info)
   and ``node.<name>`` (defaultEndpointToHostAction Return), BGPConfiguration
   ``default`` and IPAMConfiguration ``default``.  One deliberate difference:
   Calico also sets the global ``reportingInterval`` to 0, which silences
   Felix's status keys; our lab and the OpenStack driver read those keys.

``CALICO_NETWORKING_BACKEND`` is ``bird`` (default), ``vxlan`` (no BGP
daemons) or ``none`` (policy only: step 1 leaves the BGP fields alone, as
Calico does).  ``CLUSTER_TYPE`` is added to ClusterInformation.  Any invalid
value is a one-line ConfigError naming the variable, before anything is
written.  Every function here is idempotent: running
start-up twice changes nothing the second time.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from calico import __version__
from calico.client import Client
from calico.errors import (
    AlreadyExistsError,
    ConfigError,
    ConflictError,
    DatastoreError,
    NotFoundError,
)
from calico.ipam.keys import IPAM_CONFIG_KEY
from calico.node.autodetect import autodetect
from calico.resources import API_VERSION, DEFAULT_TIER, Resource, parse_resource
from calico.selector import parse as parse_selector

_log = logging.getLogger(__name__)

Detector = Callable[[str, int], str]  # autodetect(method, version) -> "10.0.0.5/24"
Document = dict[str, Any]

WRITE_ATTEMPTS = 5
DEFAULT_TIER_ORDER = 1_000_000  # v3.DefaultTierOrder
DEFAULT_LOG_SEVERITY = "Info"  # startup.go defaultLogSeverity
BACKENDS = ("bird", "vxlan", "none")
_ENCAP_MODES = {"": "Never", "off": "Never", "never": "Never", "always": "Always",
                "crosssubnet": "CrossSubnet", "cross-subnet": "CrossSubnet"}  # fmt: skip
_AUTODETECT_KINDS = ("interface", "skip-interface", "cidr", "can-reach")
_BLOCK_SIZES = {4: (20, 32), 6: (116, 128)}  # the IPPool model's ranges
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


# -- configuration from the environment --------------------------------------


@dataclass(frozen=True, slots=True)
class DefaultPool:
    """A default IP pool, as ``CALICO_IPV<n>POOL_*`` describe it."""

    name: str
    cidr: str
    block_size: int
    ipip_mode: str = "Never"
    vxlan_mode: str = "Never"
    nat_outgoing: bool = False
    node_selector: str = ""
    disable_bgp_export: bool = False

    @property
    def version(self) -> int:
        return ipaddress.ip_network(self.cidr).version

    def document(self) -> Document:
        spec = {
            "cidr": self.cidr, "blockSize": self.block_size, "ipipMode": self.ipip_mode,
            "vxlanMode": self.vxlan_mode, "natOutgoing": self.nat_outgoing,
            "nodeSelector": self.node_selector, "disableBGPExport": self.disable_bgp_export,
        }  # fmt: skip
        return _new_doc("IPPool", self.name, spec)


@dataclass(frozen=True, slots=True)
class NodeEnv:
    """calico-node's environment variables, parsed and checked."""

    ip: str = ""  # "" (unset), "autodetect", "none", or an IPv4 address / CIDR
    ip_autodetection_method: str = "first-found"
    as_number: int | None = None
    rr_cluster_id: str = ""
    backend: str = "bird"
    default_pools: tuple[DefaultPool, ...] = ()
    cluster_type: str = ""

    @property
    def networking(self) -> bool:
        """False in policy-only mode: then the Node carries no BGP data."""
        return self.backend != "none"

    @property
    def runs_bgp(self) -> bool:
        return self.backend == "bird"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NodeEnv:
        """ConfigError naming the variable and its value for anything invalid."""
        backend = _get_env(env, "CALICO_NETWORKING_BACKEND") or "bird"
        if backend not in BACKENDS:
            raise ConfigError(
                f"CALICO_NETWORKING_BACKEND={backend}: must be one of {', '.join(BACKENDS)}"
            )
        return cls(
            ip=_ip_env(env),
            ip_autodetection_method=_autodetection_env(env),
            as_number=_as_env(env),
            rr_cluster_id=_rr_env(env),
            backend=backend,
            default_pools=_pools_env(env),
            cluster_type=_get_env(env, "CLUSTER_TYPE"),
        )


def _get_env(env: Mapping[str, str], var: str) -> str:
    return env.get(var, "").strip()


def _ip_env(env: Mapping[str, str]) -> str:
    value = _get_env(env, "IP")
    if value in ("", "autodetect", "none"):
        return value
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        iface = None
    if iface is None or iface.version != 4:
        raise ConfigError(f"IP={value}: not an IPv4 address or CIDR (or autodetect, none)")
    return value


def _autodetection_env(env: Mapping[str, str]) -> str:
    """``IP_AUTODETECTION_METHOD``, checked now although it is used only if detecting."""
    method = _get_env(env, "IP_AUTODETECTION_METHOD") or "first-found"
    if method == "first-found":
        return method
    kind, sep, arg = method.partition("=")
    items = [item.strip() for item in arg.split(",") if item.strip()]
    if kind not in _AUTODETECT_KINDS or not sep or not items:
        raise ConfigError(
            f"IP_AUTODETECTION_METHOD={method}: must be first-found, interface=REGEX, "
            "skip-interface=REGEX, cidr=CIDR or can-reach=DEST"
        )
    for item in items:
        try:
            if kind == "cidr":
                ipaddress.ip_network(item, strict=False)
            elif kind != "can-reach":
                re.compile(item)
        except (ValueError, re.error):
            what = "CIDR" if kind == "cidr" else "regex"
            raise ConfigError(
                f"IP_AUTODETECTION_METHOD={method}: invalid {what} {item!r}"
            ) from None
    return method


def _as_env(env: Mapping[str, str]) -> int | None:
    value = _get_env(env, "AS")
    if not value:
        return None
    high, dot, low = value.partition(".")
    try:
        number = (int(high) << 16) + int(low) if dot else int(value)
        ok = (not dot or max(int(high), int(low)) <= 0xFFFF) and 0 < number <= 2**32 - 1
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"AS={value}: not an AS number (1-4294967295 or dotted a.b)")
    return number


def _rr_env(env: Mapping[str, str]) -> str:
    value = _get_env(env, "CALICO_RR_CLUSTER_ID")
    if value:
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ConfigError(f"CALICO_RR_CLUSTER_ID={value}: not an IPv4 dotted quad") from None
    return value


def _bool_env(env: Mapping[str, str], var: str, default: bool) -> bool:
    value = _get_env(env, var).lower()
    if not value:
        return default
    if value not in _TRUE + _FALSE:
        raise ConfigError(f"{var}={env[var]}: not a boolean (true or false)")
    return value in _TRUE


def _pools_env(env: Mapping[str, str]) -> tuple[DefaultPool, ...]:
    v4, v6 = _get_env(env, "CALICO_IPV4POOL_CIDR"), _get_env(env, "CALICO_IPV6POOL_CIDR")
    if _bool_env(env, "NO_DEFAULT_POOLS", False):
        if v4 or v6:
            raise ConfigError(
                "NO_DEFAULT_POOLS=true cannot be combined with CALICO_IPV4POOL_CIDR "
                "or CALICO_IPV6POOL_CIDR"
            )
        return ()
    pools = []
    if v4 != "none":
        pools.append(_pool_env(env, 4, v4 or "192.168.0.0/16"))
    if v6 and v6 != "none":
        pools.append(_pool_env(env, 6, v6))
    return tuple(pools)


def _pool_env(env: Mapping[str, str], version: int, cidr_text: str) -> DefaultPool:
    prefix = f"CALICO_IPV{version}POOL_"
    try:
        network = ipaddress.ip_network(cidr_text, strict=False)
    except ValueError:
        network = None
    if network is None or network.version != version or "/" not in cidr_text:
        raise ConfigError(f"{prefix}CIDR={cidr_text}: not an IPv{version} CIDR")
    block_text = _get_env(env, f"{prefix}BLOCK_SIZE") or ("26" if version == 4 else "122")
    if not block_text.isdigit():
        raise ConfigError(f"{prefix}BLOCK_SIZE={block_text}: not a number")
    low, high = _BLOCK_SIZES[version]
    if not low <= int(block_text) <= high:
        raise ConfigError(
            f"{prefix}BLOCK_SIZE={block_text}: blockSize must be between {low} and {high} "
            f"for IPv{version} pools"
        )
    ipip = _encap_env(env, f"{prefix}IPIP") if version == 4 else "Never"
    vxlan = _encap_env(env, f"{prefix}VXLAN")
    if ipip != "Never" and vxlan != "Never":
        raise ConfigError(f"{prefix}IPIP and {prefix}VXLAN cannot both be enabled")
    selector = _get_env(env, f"{prefix}NODE_SELECTOR")
    try:
        parse_selector(selector)
    except ValueError as exc:
        raise ConfigError(f"{prefix}NODE_SELECTOR={selector}: {exc}") from None
    pool = DefaultPool(
        name=f"default-ipv{version}-ippool",
        cidr=str(network),
        block_size=int(block_text),
        ipip_mode=ipip,
        vxlan_mode=vxlan,
        nat_outgoing=_bool_env(env, f"{prefix}NAT_OUTGOING", version == 4),
        node_selector=selector,
        disable_bgp_export=_bool_env(env, f"{prefix}DISABLE_BGP_EXPORT", False),
    )
    try:  # the IPPool model's own rules: block size range, link-local, size
        parse_resource(pool.document())
    except ValueError as exc:
        raise ConfigError(f"default IPv{version} pool from {prefix}*: {exc}") from None
    return pool


def _encap_env(env: Mapping[str, str], var: str) -> str:
    value = _get_env(env, var)
    mode = _ENCAP_MODES.get(value.lower())
    if mode is None:
        raise ConfigError(f"{var}={value}: must be one of never, always, cross-subnet")
    return mode


# -- start-up -------------------------------------------------------------------


def run_startup(client: Client, name: str, env: NodeEnv, detect: Detector = autodetect) -> Resource:
    """All start-up steps; returns the registered Node."""
    node = register_node(client, name, env, detect)
    for pool in ensure_default_pools(client, env):
        _log.info("Created default IP pool %s", pool)
    ensure_cluster_defaults(client, name, env.cluster_type)
    return node


# -- 1. the Node -----------------------------------------------------------


def register_node(client: Client, name: str, env: NodeEnv, detect: Detector) -> Resource:
    """Create or update this host's Node resource (compare-and-swap, retried)."""
    detected: dict[str, str] = {}  # detect once, however often the write is retried
    for _ in range(WRITE_ATTEMPTS):
        current = _get(client, "Node", name)
        doc = current.to_dict() if current else _new_doc("Node", name)
        old_ip = doc.get("spec", {}).get("bgp", {}).get("ipv4Address", "")
        if env.networking:
            if "ip" not in detected:
                detected["ip"] = choose_ipv4(env, old_ip, detect)
            _set_bgp(doc, env, detected["ip"])
        if current is not None and doc == current.to_dict():
            return current
        if doc.get("spec", {}).get("bgp", {}).get("ipv4Address", "") != old_ip:
            warn_address_conflicts(client, name, detected["ip"])
        try:
            res = parse_resource(doc)
            return client.update(res) if current else client.create(res)
        except (ConflictError, AlreadyExistsError, NotFoundError):
            continue  # someone else wrote the Node meanwhile: read it again
    raise DatastoreError(f"could not write Node {name}: it kept changing underneath us")


def choose_ipv4(env: NodeEnv, existing: str, detect: Detector) -> str:
    """The IPv4 address (CIDR form) the Node should carry; "" for none.

    ``IP`` unset keeps an existing address and detects one only when there
    is none; ``autodetect`` always detects; ``none`` keeps what is there; an
    explicit address without a prefix takes the prefix of the interface that
    holds it (``GetLocalCIDR``), so CrossSubnet knows the host's subnet.
    """
    if env.ip == "none":
        return existing
    if env.ip == "autodetect" or (env.ip == "" and not existing):
        try:
            return detect(env.ip_autodetection_method, 4)
        except ConfigError:
            if not existing:
                raise
            _log.warning("IPv4 autodetection failed; keeping %s", existing)
            return existing
    if env.ip == "":
        return existing
    if "/" in env.ip:
        return env.ip
    try:
        return detect(f"cidr={env.ip}/32", 4)
    except ConfigError:
        _log.warning("Unable to confirm IPv4 address %s is assigned to this host", env.ip)
        return f"{env.ip}/32"


def _set_bgp(doc: Document, env: NodeEnv, ipv4: str) -> None:
    spec = doc.setdefault("spec", {})
    bgp = dict(spec.get("bgp") or {})
    if ipv4:
        bgp["ipv4Address"] = ipv4
    if env.as_number is not None:
        bgp["asNumber"] = env.as_number
    if env.rr_cluster_id:
        bgp["routeReflectorClusterID"] = env.rr_cluster_id
    if not bgp.get("ipv4Address") and not bgp.get("ipv6Address"):
        raise ConfigError(
            "no IPv4 address configured or detected, required for Calico networking "
            "(set IP, or CALICO_NETWORKING_BACKEND=none for policy only)"
        )
    spec["bgp"] = bgp


def warn_address_conflicts(client: Client, name: str, cidr: str) -> list[str]:
    """Log (and return) the other Nodes that already use ``cidr``'s address."""
    if not cidr:
        return []
    ours = ipaddress.ip_interface(cidr).ip
    clashes = []
    for node in client.list("Node"):
        theirs = (node.to_dict().get("spec", {}).get("bgp") or {}).get("ipv4Address", "")
        if node.name != name and theirs and ipaddress.ip_interface(theirs).ip == ours:
            _log.warning("Calico node %r is already using the IPv4 address %s", node.name, ours)
            clashes.append(node.name)
    return clashes


# -- 2. default pools -------------------------------------------------------


def ensure_default_pools(client: Client, env: NodeEnv) -> list[str]:
    """Create each default pool whose IP family has no pool yet; returns the created names."""
    families = {
        ipaddress.ip_network(pool.to_dict()["spec"]["cidr"]).version
        for pool in client.list("IPPool")
    }
    created = []
    for pool in env.default_pools:
        if pool.version in families:
            continue
        if _create_if_missing(client, pool.document()):
            created.append(pool.name)
    return created


# -- 3. cluster defaults ------------------------------------------------------


def ensure_cluster_defaults(client: Client, name: str, cluster_type: str = "") -> None:
    ensure_cluster_information(client, cluster_type)
    _create_if_missing(
        client,
        _new_doc("Tier", DEFAULT_TIER, {"order": DEFAULT_TIER_ORDER, "defaultAction": "Deny"}),
    )
    felix_default = {"logSeverityScreen": DEFAULT_LOG_SEVERITY}
    _create_if_missing(client, _new_doc("FelixConfiguration", "default", felix_default))
    # Workloads may talk to their own host unless policy says otherwise
    # (Calico's per-node default outside Kubernetes).
    _create_if_missing(
        client,
        _new_doc("FelixConfiguration", f"node.{name}", {"defaultEndpointToHostAction": "Return"}),
    )
    _create_if_missing(client, _new_doc("BGPConfiguration", "default"))
    # IPAM falls back to Calico's legacy config key when the resource is
    # absent; creating the resource would silently override that key.
    if client.datastore.get(IPAM_CONFIG_KEY) is None:
        spec = {"strictAffinity": False, "autoAllocateBlocks": True, "maxBlocksPerHost": 0}
        _create_if_missing(client, _new_doc("IPAMConfiguration", "default", spec))


def ensure_cluster_information(client: Client, cluster_type: str = "") -> Resource:
    """ClusterInformation ``default``: a GUID, our version, datastoreReady (CAS, retried)."""
    for _ in range(WRITE_ATTEMPTS):
        current = _get(client, "ClusterInformation", "default")
        doc = current.to_dict() if current else _new_doc("ClusterInformation", "default")
        _fill_cluster_information(doc["spec"], cluster_type)
        if current is not None and doc == current.to_dict():
            return current
        try:
            res = parse_resource(doc)
            return client.update(res) if current else client.create(res)
        except (ConflictError, AlreadyExistsError, NotFoundError):
            continue
    raise DatastoreError("could not write ClusterInformation default: it kept changing")


def _fill_cluster_information(spec: Document, cluster_type: str) -> None:
    spec["calicoVersion"] = __version__
    spec.setdefault("clusterGUID", uuid.uuid4().hex)
    # An explicit false is an operator's "not ready" switch: leave it alone.
    spec.setdefault("datastoreReady", True)
    have = [t for t in spec.get("clusterType", "").split(",") if t]
    for wanted in (t for t in cluster_type.split(",") if t):
        if wanted not in have:
            have.append(wanted)
    if have:
        spec["clusterType"] = ",".join(have)


# -- helpers -------------------------------------------------------------------


def _new_doc(kind: str, name: str, spec: Document | None = None) -> Document:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec or {}}


def _get(client: Client, kind: str, name: str) -> Resource | None:
    try:
        return client.get(kind, name)
    except NotFoundError:
        return None


def _create_if_missing(client: Client, doc: Document) -> bool:
    """Create ``doc`` unless its resource exists; True if we created it."""
    if _get(client, doc["kind"], doc["metadata"]["name"]) is not None:
        return False
    try:
        client.create(parse_resource(doc))
    except AlreadyExistsError:
        return False  # another node got there first
    return True
