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

Kinds felix ignores (BGP, IPAM config, staged policies...) give None.  The
converters live in private modules by resource family: ``_convert_policy``
(policies, tiers, profiles), ``_convert_endpoints`` (endpoints, network
sets), ``_convert_cluster`` (pools, nodes, IPAM blocks, configuration).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from calico.datastore.keys import ResourceKey, parse_resource_key
from calico.errors import ValidationError
from calico.felix import _convert_cluster as cluster
from calico.felix import _convert_endpoints as endpoints
from calico.felix import _convert_policy as policy
from calico.felix._convert_base import (
    NamedID,
    ResourceID,
    Spec,
    resource_id,
    workload_endpoint_key,
)
from calico.felix._convert_endpoints import ORCHESTRATOR_LABEL
from calico.felix.calc.model import (
    BlockModel,
    ConfigModel,
    EndpointModel,
    NetworkSetModel,
    NodeModel,
    PolicyModel,
    PoolModel,
    ProfileModel,
    TierModel,
)

__all__ = [
    "IPAM_BLOCK_PREFIXES",
    "ORCHESTRATOR_LABEL",
    "Converted",
    "Model",
    "NamedID",
    "ResourceID",
    "Spec",
    "convert_kv",
    "resource_id",
    "workload_endpoint_key",
]

_log = logging.getLogger(__name__)

IPAM_BLOCK_PREFIXES = (
    "/calico/ipam/v2/assignment/ipv4/block/",
    "/calico/ipam/v2/assignment/ipv6/block/",
)

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


def _resource_key(key: str) -> ResourceKey | None:
    for prefix in IPAM_BLOCK_PREFIXES:
        if key.startswith(prefix):
            return ResourceKey("IPAMBlock", key[len(prefix) :])
    return parse_resource_key(key)


_CONVERTERS: dict[str, Callable[[ResourceKey, Spec], Model | None]] = {
    "NetworkPolicy": policy.policy,
    "GlobalNetworkPolicy": policy.policy,
    "Tier": policy.tier,
    "Profile": policy.profile,
    "WorkloadEndpoint": endpoints.workload,
    "HostEndpoint": endpoints.host_endpoint,
    "NetworkSet": endpoints.network_set,
    "GlobalNetworkSet": endpoints.network_set,
    "IPPool": cluster.pool,
    "Node": cluster.node,
    "IPAMBlock": cluster.block,
    "FelixConfiguration": cluster.felix_config,
}
