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
written (``calico.node.env`` parses them all).  Every function here is
idempotent: running start-up twice changes nothing the second time.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Callable

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
from calico.node._docs import Document, create_if_missing, get_resource, new_doc
from calico.node.autodetect import autodetect
from calico.node.env import BACKENDS, DefaultPool, NodeEnv
from calico.resources import DEFAULT_TIER, Resource, parse_resource

# Parsing the environment moved to calico.node.env; its names stay importable here.
__all__ = [
    "BACKENDS",
    "DEFAULT_LOG_SEVERITY",
    "DEFAULT_TIER_ORDER",
    "WRITE_ATTEMPTS",
    "DefaultPool",
    "Detector",
    "NodeEnv",
    "choose_ipv4",
    "ensure_cluster_defaults",
    "ensure_cluster_information",
    "ensure_default_pools",
    "register_node",
    "run_startup",
    "warn_address_conflicts",
]

_log = logging.getLogger(__name__)

Detector = Callable[[str, int], str]  # autodetect(method, version) -> "10.0.0.5/24"

WRITE_ATTEMPTS = 5
DEFAULT_TIER_ORDER = 1_000_000  # v3.DefaultTierOrder
DEFAULT_LOG_SEVERITY = "Info"  # startup.go defaultLogSeverity


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
        current = get_resource(client, "Node", name)
        doc = current.to_dict() if current else new_doc("Node", name)
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
        if create_if_missing(client, pool.document()):
            created.append(pool.name)
    return created


# -- 3. cluster defaults ------------------------------------------------------


def ensure_cluster_defaults(client: Client, name: str, cluster_type: str = "") -> None:
    ensure_cluster_information(client, cluster_type)
    create_if_missing(
        client,
        new_doc("Tier", DEFAULT_TIER, {"order": DEFAULT_TIER_ORDER, "defaultAction": "Deny"}),
    )
    felix_default = {"logSeverityScreen": DEFAULT_LOG_SEVERITY}
    create_if_missing(client, new_doc("FelixConfiguration", "default", felix_default))
    # Workloads may talk to their own host unless policy says otherwise
    # (Calico's per-node default outside Kubernetes).
    create_if_missing(
        client,
        new_doc("FelixConfiguration", f"node.{name}", {"defaultEndpointToHostAction": "Return"}),
    )
    create_if_missing(client, new_doc("BGPConfiguration", "default"))
    # IPAM falls back to Calico's legacy config key when the resource is
    # absent; creating the resource would silently override that key.
    if client.datastore.get(IPAM_CONFIG_KEY) is None:
        spec = {"strictAffinity": False, "autoAllocateBlocks": True, "maxBlocksPerHost": 0}
        create_if_missing(client, new_doc("IPAMConfiguration", "default", spec))


def ensure_cluster_information(client: Client, cluster_type: str = "") -> Resource:
    """ClusterInformation ``default``: a GUID, our version, datastoreReady (CAS, retried)."""
    for _ in range(WRITE_ATTEMPTS):
        current = get_resource(client, "ClusterInformation", "default")
        doc = current.to_dict() if current else new_doc("ClusterInformation", "default")
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
