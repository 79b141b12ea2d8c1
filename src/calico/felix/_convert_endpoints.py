"""Workload and host endpoint, and network set, conversion for ``calico.felix.convert``.

Endpoints get the implicit labels Calico's selectors rely on (namespace,
orchestrator, service account); labels only a profile may supply are
dropped from the endpoint's own.
"""

from __future__ import annotations

import ipaddress
import logging

from calico.datastore.keys import ResourceKey
from calico.felix._convert_base import Spec, labels_of, spec_of, workload_endpoint_key
from calico.felix.calc.model import EndpointModel, NamedPort, NetworkSetID, NetworkSetModel
from calico.felix.calc.rules_convert import NAMESPACE_LABEL, SERVICE_ACCOUNT_LABEL, cidr
from calico.felix.messages import HostEndpoint, HostEndpointID, NatInfo, WorkloadEndpoint

# A private part of calico.felix.convert: its warnings keep that logger's name.
_log = logging.getLogger("calico.felix.convert")

ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"
_FOREIGN_LABEL_PREFIXES = ("pcns.", "pcsa.")  # only profiles may supply these


def workload(rkey: ResourceKey, obj: Spec) -> EndpointModel | None:
    spec, ns = spec_of(obj), rkey.namespace
    nets = tuple(cidr(n) for n in spec.get("ipNetworks") or ())
    if not nets:
        return None  # Calico filters these out: no rules can be rendered yet
    labels = {k: v for k, v in labels_of(obj).items() if not k.startswith(_FOREIGN_LABEL_PREFIXES)}
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


def host_endpoint(rkey: ResourceKey, obj: Spec) -> EndpointModel:
    spec = spec_of(obj)
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
        labels_of(obj),
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


def network_set(rkey: ResourceKey, obj: Spec) -> NetworkSetModel:
    nets = []
    for net in spec_of(obj).get("nets") or ():
        try:
            nets.append(cidr(net))
        except ValueError:
            _log.warning("Ignoring invalid CIDR %r in %s %s", net, rkey.kind, rkey.name)
    labels, parents = labels_of(obj), tuple[str, ...]()
    if rkey.namespace:
        # Namespaced sets see their namespace's labels, as pods do.
        labels[NAMESPACE_LABEL] = rkey.namespace
        parents = (f"kns.{rkey.namespace}",)
    set_id = NetworkSetID(f"{rkey.namespace}/{rkey.name}" if rkey.namespace else rkey.name)
    return NetworkSetModel(set_id, labels, tuple(nets), parents)
