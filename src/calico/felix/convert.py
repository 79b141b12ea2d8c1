"""Stored v3 resource JSON -> felix's internal model (``calc.model``).

The part of libcalico-go's syncer "update processors" that felix relies on
(``libcalico-go/lib/backend/syncersv1/updateprocessors``), applied to the
JSON dicts the datastore holds (full v3 objects, Calico defaults applied):

* every object gets an identity from its key alone (see ``resource_id``), so
  a deletion names what the previous update created;
* a value that does not convert (bad selector, bad CIDR, wrong type) is
  logged and treated as deleted, as Calico's validation filter does: felix
  must keep running on whatever is valid;
* selectors come out scoped and canonical (``calc.rules_convert`` has the
  rule-level details; the policy-level scoping is here).

Kinds felix ignores (BGP, IPAM config, staged policies...) give None.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from calico.datastore.keys import ResourceKey, parse_resource_key
from calico.errors import ValidationError
from calico.felix.calc.model import (
    BlockModel,
    ConfigModel,
    EndpointModel,
    NamedPort,
    NetworkSetID,
    NetworkSetModel,
    NodeModel,
    PolicyModel,
    PoolModel,
    ProfileModel,
    TierModel,
    WorkloadEndpointKey,
)
from calico.felix.calc.rules_convert import (
    NAMESPACE_LABEL,
    SERVICE_ACCOUNT_LABEL,
    canonical,
    cidr,
    prefixed,
    rules,
)
from calico.felix.messages import (
    HostEndpoint,
    HostEndpointID,
    NatInfo,
    PolicyID,
    WorkloadEndpoint,
)

_log = logging.getLogger(__name__)

IPAM_BLOCK_PREFIXES = (
    "/calico/ipam/v2/assignment/ipv4/block/",
    "/calico/ipam/v2/assignment/ipv6/block/",
)
ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"
_FOREIGN_LABEL_PREFIXES = ("pcns.", "pcsa.")  # only profiles may supply these
_KNP_PREFIX = "knp.default."


@dataclass(frozen=True, slots=True, order=True)
class NamedID:
    """Identity of a cluster-scoped object known by name: Tier, Profile,
    IPPool, Node, FelixConfiguration, or an IPAM block (its CIDR key)."""

    kind: str
    name: str


ResourceID: TypeAlias = PolicyID | WorkloadEndpointKey | HostEndpointID | NetworkSetID | NamedID
Model: TypeAlias = (
    PolicyModel
    | TierModel
    | ProfileModel
    | EndpointModel
    | NetworkSetModel
    | PoolModel
    | NodeModel
    | BlockModel
    | ConfigModel
)
Spec: TypeAlias = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Converted:
    id: ResourceID
    model: Model | None  # None: deleted, or invalid


def convert_kv(key: str, value: Mapping[str, Any] | None) -> Converted | None:
    """Convert one datastore KV; None if felix does not care about the key."""
    rkey = _resource_key(key)
    if rkey is None or rkey.kind not in _CONVERTERS:
        return None
    ident = resource_id(rkey)
    if value is None:
        return Converted(ident, None)
    try:
        return Converted(ident, _CONVERTERS[rkey.kind](rkey, value))
    except (ValidationError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        _log.warning("Ignoring invalid %s %s: %s", rkey.kind, key, exc)
        return Converted(ident, None)


def resource_id(rkey: ResourceKey) -> ResourceID:
    kind, name, namespace = rkey.kind, rkey.name, rkey.namespace
    if kind == "NetworkPolicy":
        return PolicyID(name, namespace, "knp" if name.startswith(_KNP_PREFIX) else "np")
    if kind == "GlobalNetworkPolicy":
        return PolicyID(name, "", "gnp")
    if kind == "WorkloadEndpoint":
        return workload_endpoint_key(namespace, name)
    if kind == "HostEndpoint":
        return HostEndpointID(name)
    if kind in ("NetworkSet", "GlobalNetworkSet"):
        return NetworkSetID(f"{namespace}/{name}" if namespace else name)
    return NamedID(kind, name)


def workload_endpoint_key(namespace: str, name: str) -> WorkloadEndpointKey:
    """From the WEP name ``<node>-<orch>-<workload>-<endpoint>`` (dashes inside a
    segment doubled), as Calico's ``ConvertWorkloadEndpointV3KeyToV1Key``."""
    parts = [part.replace("--", "-") for part in re.split(r"(?<!-)-(?!-)", name)]
    if len(parts) == 4:
        return WorkloadEndpointKey(parts[0], parts[1], f"{namespace}/{parts[2]}", parts[3])
    return WorkloadEndpointKey("", "", f"{namespace}/{name}", "")  # not Calico-named


def _resource_key(key: str) -> ResourceKey | None:
    for prefix in IPAM_BLOCK_PREFIXES:
        if key.startswith(prefix):
            return ResourceKey("IPAMBlock", key[len(prefix) :])
    return parse_resource_key(key)


def _spec(obj: Spec) -> Spec:
    return obj.get("spec") or {}


def _labels(obj: Spec) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


# -- policy and friends --------------------------------------------------------


def _policy(rkey: ResourceKey, obj: Spec) -> PolicyModel:
    spec = _spec(obj)
    types = [str(t).lower() for t in spec.get("types") or ()]
    order = spec.get("order")
    policy_id = resource_id(rkey)
    assert isinstance(policy_id, PolicyID)
    return PolicyModel(
        id=policy_id,
        tier=spec.get("tier") or "default",
        order=None if order is None else float(order),
        selector=_policy_selector(rkey, spec),
        inbound_rules=rules(spec.get("ingress"), rkey.namespace),
        outbound_rules=rules(spec.get("egress"), rkey.namespace),
        ingress=not types or "ingress" in types,  # empty types: both (Calico back-compat)
        egress=not types or "egress" in types,
        untracked=bool(spec.get("doNotTrack")),
        pre_dnat=bool(spec.get("preDNAT")),
        apply_on_forward=bool(spec.get("applyOnForward")),
        always_programmed="AssumeNeededOnEveryNode" in (spec.get("performanceHints") or ()),
    )


def _policy_selector(rkey: ResourceKey, spec: Spec) -> str:
    """As Calico's network(GlobalNetwork)PolicyProcessor: a NetworkPolicy is
    ANDed with its namespace; a GlobalNetworkPolicy's namespaceSelector and
    serviceAccountSelector are ANDed in with prefixed labels, ``all()`` in
    the result then standing for "has a namespace" / "has a service account"."""
    selector: str = spec.get("selector") or ""
    sa_selector: str = spec.get("serviceAccountSelector") or ""
    if rkey.kind == "NetworkPolicy":
        ns_term = f"{NAMESPACE_LABEL} == '{rkey.namespace}'"
        selector = f"({selector}) && {ns_term}" if selector.strip() else ns_term
        return canonical(_append_prefixed(selector, sa_selector, "pcsa.")) or "all()"
    ns_selector: str = spec.get("namespaceSelector") or ""
    if ns_selector.strip():
        selector = _append_prefixed(selector, ns_selector, "pcns.")
        selector = canonical(selector, all_means=f"has({NAMESPACE_LABEL})")
    if sa_selector.strip():
        selector = _append_prefixed(selector, sa_selector, "pcsa.")
        selector = canonical(selector, all_means=f"has({SERVICE_ACCOUNT_LABEL})")
    return canonical(selector) or "all()"


def _append_prefixed(selector: str, extra: str, prefix: str) -> str:
    """Calico's ``prefixAndAppendSelector``: AND in ``extra`` with its labels prefixed."""
    if not extra.strip():
        return selector
    extra = prefixed(extra, prefix)
    return f"({selector}) && {extra}" if selector.strip() else extra


def _tier(rkey: ResourceKey, obj: Spec) -> TierModel:
    spec = _spec(obj)
    order = spec.get("order")
    action = spec.get("defaultAction") or "Deny"
    if action not in ("Deny", "Pass"):
        raise ValidationError("must be Deny or Pass", field="spec.defaultAction", value=action)
    return TierModel(rkey.name, None if order is None else float(order), action)


def _profile(rkey: ResourceKey, obj: Spec) -> ProfileModel:
    spec = _spec(obj)
    return ProfileModel(
        name=rkey.name,
        inbound_rules=rules(spec.get("ingress"), ""),
        outbound_rules=rules(spec.get("egress"), ""),
        labels=dict(spec.get("labelsToApply") or {}),
    )


# -- endpoints and network sets ------------------------------------------------------


def _workload(rkey: ResourceKey, obj: Spec) -> EndpointModel | None:
    spec, ns = _spec(obj), rkey.namespace
    nets = tuple(cidr(n) for n in spec.get("ipNetworks") or ())
    if not nets:
        return None  # Calico filters these out: no rules can be rendered yet
    labels = {k: v for k, v in _labels(obj).items() if not k.startswith(_FOREIGN_LABEL_PREFIXES)}
    labels[NAMESPACE_LABEL] = ns
    if spec.get("orchestrator"):
        labels[ORCHESTRATOR_LABEL] = spec["orchestrator"]
    if spec.get("serviceAccountName"):
        labels[SERVICE_ACCOUNT_LABEL] = spec["serviceAccountName"]
    nats = [
        NatInfo(ext_ip=n["externalIP"], int_ip=n["internalIP"]) for n in spec.get("ipNATs") or ()
    ]
    profiles = tuple(spec.get("profiles") or ())
    payload = WorkloadEndpoint(
        name=spec.get("interfaceName") or "",
        mac=spec.get("mac") or "",
        profile_ids=profiles,
        ipv4_nets=tuple(n for n in nets if ":" not in n),
        ipv6_nets=tuple(n for n in nets if ":" in n),
        ipv4_nat=tuple(n for n in nats if ":" not in n.int_ip),
        ipv6_nat=tuple(n for n in nats if ":" in n.int_ip),
        allow_spoofed_source_prefixes=tuple(
            cidr(p) for p in spec.get("allowSpoofedSourcePrefixes") or ()
        ),
        annotations=tuple(sorted(((obj.get("metadata") or {}).get("annotations") or {}).items())),
    )
    endpoint_id = workload_endpoint_key(ns, rkey.name)
    node = spec.get("node") or ""
    return EndpointModel(endpoint_id, node, labels, profiles, nets, _ports(spec), payload)


def _host_endpoint(rkey: ResourceKey, obj: Spec) -> EndpointModel:
    spec = _spec(obj)
    addrs = tuple(str(ipaddress.ip_address(ip)) for ip in spec.get("expectedIPs") or ())
    profiles = tuple(spec.get("profiles") or ())
    payload = HostEndpoint(
        name=spec.get("interfaceName") or "",
        profile_ids=profiles,
        expected_ipv4_addrs=tuple(a for a in addrs if ":" not in a),
        expected_ipv6_addrs=tuple(a for a in addrs if ":" in a),
    )
    nets = tuple(cidr(a) for a in addrs)
    return EndpointModel(
        HostEndpointID(rkey.name),
        spec.get("node") or "",
        _labels(obj),
        profiles,
        nets,
        _ports(spec),
        payload,
    )


def _ports(spec: Spec) -> tuple[NamedPort, ...]:
    # Unnamed ports (allowed in v3, used by CNI) mean nothing to felix.
    return tuple(
        NamedPort(p["name"], str(p.get("protocol") or "TCP").lower(), int(p["port"]))
        for p in spec.get("ports") or ()
        if p.get("name")
    )


def _network_set(rkey: ResourceKey, obj: Spec) -> NetworkSetModel:
    nets = []
    for net in _spec(obj).get("nets") or ():
        try:
            nets.append(cidr(net))
        except ValueError:
            _log.warning("Ignoring invalid CIDR %r in %s %s", net, rkey.kind, rkey.name)
    labels, parents = _labels(obj), tuple[str, ...]()
    if rkey.namespace:
        # Namespaced sets see their namespace's labels, as pods do.
        labels[NAMESPACE_LABEL] = rkey.namespace
        parents = (f"kns.{rkey.namespace}",)
    set_id = NetworkSetID(f"{rkey.namespace}/{rkey.name}" if rkey.namespace else rkey.name)
    return NetworkSetModel(set_id, labels, tuple(nets), parents)


# -- pools, nodes, blocks, config ------------------------------------------------------


def _pool(rkey: ResourceKey, obj: Spec) -> PoolModel:
    spec = _spec(obj)
    return PoolModel(
        name=rkey.name,
        cidr=str(ipaddress.ip_network(spec["cidr"])),
        ipip_mode=spec.get("ipipMode") or "Never",
        vxlan_mode=spec.get("vxlanMode") or "Never",
        nat_outgoing=bool(spec.get("natOutgoing")),
        disabled=bool(spec.get("disabled")),
        load_balancer_only=list(spec.get("allowedUses") or ()) == ["LoadBalancer"],
    )


def _node(rkey: ResourceKey, obj: Spec) -> NodeModel:
    spec = _spec(obj)
    address = (spec.get("bgp") or {}).get("ipv4Address") or ""
    if address:
        ipaddress.ip_interface(address)  # validate: a bad address is an invalid Node
    return NodeModel(
        name=rkey.name,
        ipv4_address=address,
        ipv4_vxlan_tunnel_addr=spec.get("ipv4VXLANTunnelAddr") or "",
        vxlan_tunnel_mac=spec.get("vxlanTunnelMACAddr") or "",
    )


def _block(rkey: ResourceKey, obj: Spec) -> BlockModel | None:
    if obj.get("deleted"):
        return None
    network = ipaddress.ip_network(obj["cidr"])
    affinity: str = obj.get("affinity") or ""
    host = affinity[len("host:") :] if affinity.startswith("host:") else ""
    attributes = obj.get("attributes") or []
    borrowed = []
    for ordinal, index in enumerate(obj.get("allocations") or ()):
        if index is None:
            continue
        node = (attributes[index].get("secondary") or {}).get("node") or ""
        if node and node != host:
            borrowed.append((f"{network[ordinal]}/{network.max_prefixlen}", node))
    return BlockModel(str(network), host, tuple(borrowed))


def _felix_config(rkey: ResourceKey, obj: Spec) -> ConfigModel:
    return ConfigModel(rkey.name, dict(_spec(obj)))


_CONVERTERS: dict[str, Callable[[ResourceKey, Spec], Model | None]] = {
    "NetworkPolicy": _policy,
    "GlobalNetworkPolicy": _policy,
    "Tier": _tier,
    "Profile": _profile,
    "WorkloadEndpoint": _workload,
    "HostEndpoint": _host_endpoint,
    "NetworkSet": _network_set,
    "GlobalNetworkSet": _network_set,
    "IPPool": _pool,
    "Node": _node,
    "IPAMBlock": _block,
    "FelixConfiguration": _felix_config,
}
