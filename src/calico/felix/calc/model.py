"""Felix's internal model: v3 resources after conversion, as the calc graph sees them.

``calico.felix.convert`` turns the stored v3 JSON into these values; the calc
graph nodes consume nothing else.  They play the part of libcalico-go's "v1
model" (``model.Policy``, ``model.WorkloadEndpoint`` ...) without its legacy
key layout: every value is frozen, selectors are already namespace-scoped
and in canonical form, and the dataplane payload of an endpoint is already the
message dataclass (the policy resolver only fills in its tiers).

Identities are derived from the datastore key alone, never from the value,
so that a deletion (value None) names the same object as the update before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from calico.felix.messages import (
    HostEndpoint,
    HostEndpointID,
    PolicyID,
    PortRange,
    Protocol,
    WorkloadEndpoint,
    WorkloadEndpointID,
)


@dataclass(frozen=True, slots=True, order=True)
class WorkloadEndpointKey:
    """A workload endpoint's identity inside the calc graph.

    Unlike the dataplane's WorkloadEndpointID it includes the host, as
    Calico's ``model.WorkloadEndpointKey`` does: the same pod on two hosts (a
    migration, or a WEP re-created under another node's name) is two objects
    that come and go independently.
    """

    hostname: str
    orchestrator_id: str
    workload_id: str
    endpoint_id: str

    def to_id(self) -> WorkloadEndpointID:
        return WorkloadEndpointID(self.orchestrator_id, self.workload_id, self.endpoint_id)


EndpointID: TypeAlias = WorkloadEndpointKey | HostEndpointID


@dataclass(frozen=True, slots=True, order=True)
class NetworkSetID:
    """``<namespace>/<name>`` for a NetworkSet, ``<name>`` for a GlobalNetworkSet."""

    name: str


# Anything that carries labels and contributes addresses to selector IP sets.
LabelItemID: TypeAlias = WorkloadEndpointKey | HostEndpointID | NetworkSetID


@dataclass(frozen=True, slots=True)
class NamedPort:
    """One ``ports[]`` entry of an endpoint: protocol is tcp, udp or sctp."""

    name: str
    protocol: str
    port: int


@dataclass(frozen=True, slots=True)
class ModelRule:
    """A rule after v3 conversion: like messages.Rule, but still holding the
    (namespace-scoped, canonical) selectors and the named ports that the rule
    scanner later turns into IP-set IDs.  An empty selector means "none"."""

    action: str
    ip_version: int | None = None
    protocol: Protocol | None = None
    not_protocol: Protocol | None = None
    src_net: tuple[str, ...] = ()
    not_src_net: tuple[str, ...] = ()
    dst_net: tuple[str, ...] = ()
    not_dst_net: tuple[str, ...] = ()
    src_ports: tuple[PortRange, ...] = ()
    not_src_ports: tuple[PortRange, ...] = ()
    dst_ports: tuple[PortRange, ...] = ()
    not_dst_ports: tuple[PortRange, ...] = ()
    src_named_ports: tuple[str, ...] = ()
    not_src_named_ports: tuple[str, ...] = ()
    dst_named_ports: tuple[str, ...] = ()
    not_dst_named_ports: tuple[str, ...] = ()
    icmp_type: int | None = None
    icmp_code: int | None = None
    not_icmp_type: int | None = None
    not_icmp_code: int | None = None
    src_selector: str = ""
    not_src_selector: str = ""
    dst_selector: str = ""
    not_dst_selector: str = ""
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyModel:
    id: PolicyID
    tier: str
    order: float | None  # None: unset, sorts last (+inf)
    selector: str  # canonical; a NetworkPolicy's is ANDed with its namespace
    inbound_rules: tuple[ModelRule, ...] = ()
    outbound_rules: tuple[ModelRule, ...] = ()
    ingress: bool = True  # governs ingress (from ``types``; empty means both)
    egress: bool = True
    untracked: bool = False
    pre_dnat: bool = False
    apply_on_forward: bool = False
    always_programmed: bool = False  # performanceHints: AssumeNeededOnEveryNode


@dataclass(frozen=True, slots=True)
class TierModel:
    name: str
    order: float | None
    default_action: str = "Deny"  # Deny | Pass


@dataclass(frozen=True, slots=True)
class ProfileModel:
    name: str
    inbound_rules: tuple[ModelRule, ...] = ()
    outbound_rules: tuple[ModelRule, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)  # labelsToApply


@dataclass(frozen=True, slots=True)
class EndpointModel:
    """A workload or host endpoint anywhere in the cluster.

    ``nets`` are the addresses it contributes to IP sets, as /32 or /128
    CIDRs; ``payload`` is what the dataplane gets for a local endpoint.
    """

    id: EndpointID
    node: str
    labels: Mapping[str, str]
    profile_ids: tuple[str, ...]
    nets: tuple[str, ...]
    ports: tuple[NamedPort, ...]
    payload: WorkloadEndpoint | HostEndpoint


@dataclass(frozen=True, slots=True)
class NetworkSetModel:
    id: NetworkSetID
    labels: Mapping[str, str]
    nets: tuple[str, ...]
    profile_ids: tuple[str, ...] = ()  # kns.<ns> for a namespaced set


@dataclass(frozen=True, slots=True)
class PoolModel:
    name: str
    cidr: str
    ipip_mode: str = "Never"
    vxlan_mode: str = "Never"
    nat_outgoing: bool = False
    disabled: bool = False
    load_balancer_only: bool = False  # allowedUses == [LoadBalancer]


@dataclass(frozen=True, slots=True)
class NodeModel:
    name: str
    ipv4_address: str = ""  # CIDR form, e.g. 10.0.0.5/24 (spec.bgp.ipv4Address)
    ipv4_vxlan_tunnel_addr: str = ""
    vxlan_tunnel_mac: str = ""


@dataclass(frozen=True, slots=True)
class BlockModel:
    """An IPAM block: its CIDR, its affine host ("" if none), and the /32s
    (or /128s) allocated in it to some other host ("borrowed"), as
    (cidr, node) pairs."""

    cidr: str
    host: str
    borrowed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ConfigModel:
    """A FelixConfiguration: ``default`` (global) or ``node.<hostname>``."""

    name: str
    spec: Mapping[str, object]
