"""Kubernetes ``networking.k8s.io/v1 NetworkPolicy`` -> Calico NetworkPolicy.

Source: libcalico-go ``conversion.go`` ``K8sNetworkPolicyToCalico`` and
``k8sRuleToCalico`` (what Calico's Kubernetes datastore shows for every
k8s policy), with its test table as the acceptance list:

* name ``knp.default.<name>`` in the same namespace, tier ``default``,
  order 1000 (before any unordered Calico policy, after ordered ones);
* selector: the pod selector, always ANDed with
  ``projectcalico.org/orchestrator == 'k8s'`` (see :mod:`.labelselector`);
* every k8s rule becomes Allow rules: one per (protocol group, peer), the
  protocols in sorted order, the peers as written, so "any peer OR any other
  peer" and "any listed port" are kept exactly.  Within one peer, a
  podSelector and a namespaceSelector are both on the same Calico rule (AND);
* no ``from``/``to`` means any peer, no ``ports`` means any traffic, and a
  direction listed in the types with no rules at all allows nothing: once a
  policy selects a pod, the default tier drops what no rule allowed;
* ``ipBlock`` becomes ``nets`` (the CIDR, masked as Go's ParseCIDR does) and
  ``notNets`` (the ``except`` list).

Types: those in ``policyTypes``, in Calico's order (Ingress, Egress).  When
``policyTypes`` is absent we first apply the API server's defaulting, as the
object would be stored in a cluster: ``Ingress``, plus ``Egress`` when there
are egress rules.

Deliberate difference: Calico's watcher drops a rule it cannot convert and
keeps the rest; calicoctl is an admission point instead, so an invalid
policy (anything the API server's validation refuses) fails as a whole with
the field path and value, and nothing is written.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from calico.k8s import _names
from calico.k8s._raw import (
    Raw,
    fail,
    join,
    mapping,
    object_meta,
    only_fields,
    required_name,
    sequence,
    string,
)
from calico.k8s.constants import (
    CALICO_API_VERSION,
    POLICY_NAME_PREFIX,
    POLICY_ORDER,
    POLICY_TIER,
)
from calico.k8s.labelselector import (
    LabelSelector,
    SelectorKind,
    parse_label_selector,
    selector_to_calico,
)
from calico.k8s.ports import PortMatch, parse_port, port_matches

_TOP_LEVEL_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
_SPEC_FIELDS = ("podSelector", "ingress", "egress", "policyTypes")
_POLICY_TYPES = ("Ingress", "Egress")
_PEER_FIELDS = ("podSelector", "namespaceSelector", "ipBlock")

CalicoRule = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Peer:
    """One NetworkPolicyPeer as Calico EntityRule fields (all empty = anyone)."""

    selector: str = ""
    namespace_selector: str = ""
    nets: tuple[str, ...] = ()
    not_nets: tuple[str, ...] = ()

    def entity_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "selector": self.selector,
            "namespaceSelector": self.namespace_selector,
            "nets": list(self.nets),
            "notNets": list(self.not_nets),
        }
        return {key: value for key, value in fields.items() if value}


def policy_name(name: str) -> str:
    """``knp.default.<name>``: the Calico name of a Kubernetes NetworkPolicy."""
    return POLICY_NAME_PREFIX + name


def network_policy_to_calico(raw: Raw) -> dict[str, Any]:
    """The Calico NetworkPolicy document (``projectcalico.org/v3``) for a k8s one.

    An unset ``metadata.namespace`` stays unset (calicoctl then applies
    ``-n`` or ``default``).  Raises ValidationError naming the field.
    """
    only_fields(raw, _TOP_LEVEL_FIELDS, "")
    meta = object_meta(raw)
    name = required_name(meta)
    _names.dns_subdomain(name, "metadata.name")
    namespace = string(meta.get("namespace"), "metadata.namespace")
    if namespace:
        _names.dns_label(namespace, "metadata.namespace")
    spec = mapping(raw.get("spec"), "spec")
    only_fields(spec, _SPEC_FIELDS, "spec")
    pod_selector = parse_label_selector(spec.get("podSelector"), "spec.podSelector")
    ingress = _rules(spec, "ingress", "from")
    egress = _rules(spec, "egress", "to")
    has_egress_rules = bool(sequence(spec.get("egress"), "spec.egress"))
    calico_spec: dict[str, Any] = {
        "order": POLICY_ORDER,
        "tier": POLICY_TIER,
        "selector": selector_to_calico(pod_selector or LabelSelector(), SelectorKind.POD),
        "types": _policy_types(spec.get("policyTypes"), has_egress_rules),
    }
    if ingress:
        calico_spec["ingress"] = ingress
    if egress:
        calico_spec["egress"] = egress
    metadata = {"name": policy_name(name)}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": CALICO_API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": calico_spec,
    }


def _policy_types(raw: object, has_egress_rules: bool) -> list[str]:
    listed = [
        string(item, join("spec.policyTypes", index))
        for index, item in enumerate(sequence(raw, "spec.policyTypes"))
    ]
    for index, value in enumerate(listed):
        if value not in _POLICY_TYPES:
            fail("must be Ingress or Egress", join("spec.policyTypes", index), value)
    if len(listed) > len(_POLICY_TYPES):
        fail("may not list more than two types", "spec.policyTypes", listed)
    if not listed:
        # The API server's defaulting (SetDefaults_NetworkPolicy).
        listed = ["Ingress", "Egress"] if has_egress_rules else ["Ingress"]
    return [kind for kind in _POLICY_TYPES if kind in listed]


def _rules(spec: Raw, direction: str, peers_key: str) -> list[CalicoRule]:
    """All Calico rules for ``spec.<direction>``, in order."""
    path = join("spec", direction)
    rules: list[CalicoRule] = []
    for index, raw in enumerate(sequence(spec.get(direction), path)):
        rules.extend(_rule(raw, join(path, index), peers_key, ingress=direction == "ingress"))
    return rules


def _rule(raw: object, path: str, peers_key: str, *, ingress: bool) -> list[CalicoRule]:
    obj = mapping(raw, path)
    only_fields(obj, (peers_key, "ports"), path)
    peers_path, ports_path = join(path, peers_key), join(path, "ports")
    peers = [
        _peer(item, join(peers_path, index))
        for index, item in enumerate(sequence(obj.get(peers_key), peers_path))
    ]
    ports = [
        parse_port(item, join(ports_path, index))
        for index, item in enumerate(sequence(obj.get("ports"), ports_path))
    ]
    return [
        _calico_rule(match, peer, ingress=ingress)
        for match in port_matches(ports)
        for peer in peers or [Peer()]
    ]


def _calico_rule(match: PortMatch, peer: Peer, *, ingress: bool) -> CalicoRule:
    rule: CalicoRule = {"action": "Allow"}
    if match.protocol is not None:
        rule["protocol"] = match.protocol
    ports = {"ports": list(match.ports)} if match.ports else {}
    # The peer is the far end: the source of ingress, the destination of egress.
    # Ports are always the destination's (the k8s pod's own, for ingress).
    source = peer.entity_fields() if ingress else {}
    destination = ports if ingress else {**peer.entity_fields(), **ports}
    if source:
        rule["source"] = source
    if destination:
        rule["destination"] = destination
    return rule


def _peer(raw: object, path: str) -> Peer:
    obj = mapping(raw, path)
    only_fields(obj, _PEER_FIELDS, path)
    # Present means not null: `podSelector: {}` is a peer (every pod), as in Go.
    present = [key for key in _PEER_FIELDS if obj.get(key) is not None]
    if not present:
        fail("must specify podSelector, namespaceSelector or ipBlock", path)
    if "ipBlock" in present and len(present) > 1:
        fail("may not be combined with podSelector or namespaceSelector", join(path, "ipBlock"))
    if "ipBlock" in present:
        nets, not_nets = _ip_block(obj["ipBlock"], join(path, "ipBlock"))
        return Peer(nets=nets, not_nets=not_nets)
    pods = parse_label_selector(obj.get("podSelector"), join(path, "podSelector"))
    namespaces = parse_label_selector(obj.get("namespaceSelector"), join(path, "namespaceSelector"))
    return Peer(
        selector=selector_to_calico(pods, SelectorKind.POD),
        namespace_selector=selector_to_calico(namespaces, SelectorKind.NAMESPACE),
    )


def _ip_block(raw: object, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(nets, notNets); the except CIDRs must lie strictly inside the CIDR."""
    obj = mapping(raw, path)
    only_fields(obj, ("cidr", "except"), path)
    cidr_text = string(obj.get("cidr"), join(path, "cidr"))
    if not cidr_text:
        fail("is required", join(path, "cidr"))
    block = _cidr(cidr_text, join(path, "cidr"))
    excepts_path = join(path, "except")
    excepts: list[str] = []
    for index, item in enumerate(sequence(obj.get("except"), excepts_path)):
        item_path = join(excepts_path, index)
        text = string(item, item_path)
        hole = _cidr(text, item_path)
        if hole.network_address not in block or hole.prefixlen <= block.prefixlen:
            fail(f"must be a strict subset of cidr {cidr_text}", item_path, text)
        excepts.append(str(hole))
    return (str(block),), tuple(excepts)


def _cidr(text: str, path: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR as Go's ``net.ParseCIDR`` reads it: prefix required, host bits masked."""
    if "/" not in text:
        fail("must be a CIDR (address/prefix length)", path, text)
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        fail("must be a valid CIDR", path, text)
