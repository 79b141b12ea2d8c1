"""Calico's etcd key layout for v3 resources.

``/calico/resources/v3/projectcalico.org/<plural>/[<namespace>/]<name>``
(libcalico-go ``model/resource.go``; networking-calico ``datamodel_v3.py``),
so that either our tools or Calico's can read the same etcd.

Values stored under these keys are the full v3 JSON object with Calico's
defaults already applied (as libcalico-go's clientv3 does before writing), so
readers such as felix, IPAM and BGP may rely on defaulted fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from calico.errors import ValidationError

RESOURCE_PREFIX = "/calico/resources/v3/projectcalico.org/"

# kind -> (plural used in keys, namespaced?)
KIND_KEYS: dict[str, tuple[str, bool]] = {
    "NetworkPolicy": ("networkpolicies", True),
    "GlobalNetworkPolicy": ("globalnetworkpolicies", False),
    "StagedNetworkPolicy": ("stagednetworkpolicies", True),
    "StagedGlobalNetworkPolicy": ("stagedglobalnetworkpolicies", False),
    "Tier": ("tiers", False),
    "Profile": ("profiles", False),
    "WorkloadEndpoint": ("workloadendpoints", True),
    "HostEndpoint": ("hostendpoints", False),
    "Node": ("nodes", False),
    "IPPool": ("ippools", False),
    "IPReservation": ("ipreservations", False),
    "IPAMConfiguration": ("ipamconfigurations", False),
    "BGPConfiguration": ("bgpconfigurations", False),
    "BGPPeer": ("bgppeers", False),
    "FelixConfiguration": ("felixconfigurations", False),
    "NetworkSet": ("networksets", True),
    "GlobalNetworkSet": ("globalnetworksets", False),
    "ClusterInformation": ("clusterinformations", False),
    "KubeControllersConfiguration": ("kubecontrollersconfigurations", False),
}
_PLURAL_TO_KIND = {plural: kind for kind, (plural, _) in KIND_KEYS.items()}


@dataclass(frozen=True, slots=True)
class ResourceKey:
    kind: str
    name: str
    namespace: str = ""


def kind_prefix(kind: str, namespace: str = "") -> str:
    """Prefix listing every ``kind`` resource (in ``namespace`` if given)."""
    plural, namespaced = _lookup(kind)
    if namespaced and namespace:
        return f"{RESOURCE_PREFIX}{plural}/{namespace}/"
    return f"{RESOURCE_PREFIX}{plural}/"


def resource_key(kind: str, name: str, namespace: str = "") -> str:
    plural, namespaced = _lookup(kind)
    if namespaced:
        if not namespace:
            raise ValidationError(
                "namespaced kind needs a namespace",
                field="metadata.namespace",
                resource=f"{kind}({name})",
            )
        return f"{RESOURCE_PREFIX}{plural}/{namespace}/{name}"
    return f"{RESOURCE_PREFIX}{plural}/{name}"


def parse_resource_key(key: str) -> ResourceKey | None:
    """Inverse of :func:`resource_key`; None for keys outside the layout."""
    if not key.startswith(RESOURCE_PREFIX):
        return None
    parts = key[len(RESOURCE_PREFIX) :].split("/")
    kind = _PLURAL_TO_KIND.get(parts[0])
    if kind is None:
        return None
    namespaced = KIND_KEYS[kind][1]
    if namespaced and len(parts) == 3:
        return ResourceKey(kind, parts[2], parts[1])
    if not namespaced and len(parts) == 2:
        return ResourceKey(kind, parts[1])
    return None


def _lookup(kind: str) -> tuple[str, bool]:
    try:
        return KIND_KEYS[kind]
    except KeyError:
        raise ValidationError(f"unknown resource kind {kind!r}", field="kind", value=kind) from None
