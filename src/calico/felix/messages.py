"""The seam between felix's calc graph ("brain") and its dataplane.

Small frozen dataclasses mirroring Calico's ``felixbackend.proto`` dataplane
API.  The calc graph emits them (through the sequencer, in dependency order);
dataplane managers consume them and only record desired state.  Anything that
can drive a dataplane - iptables, nftables, a recording fake in tests -
consumes exactly this message set.

Conventions:
* Rule actions use the backend spelling: ``allow``, ``deny``, ``next-tier``
  (v3 ``Pass``) and ``log``.
* Protocols are lower-case names (``tcp``, ``udp``, ``sctp``, ``icmp``,
  ``icmpv6``, ``udplite``) or an int 1-255.
* CIDRs are strings in canonical, masked form (``10.0.0.1/32``).
* Every collection is a tuple or frozenset so messages are hashable and
  comparable: tests assert on state, not on calls.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

Protocol = str | int


@dataclass(frozen=True, slots=True)
class PortRange:
    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}:{self.last}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy/profile rule after selector → IP-set resolution."""

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
    src_named_port_ip_set_ids: tuple[str, ...] = ()
    not_src_named_port_ip_set_ids: tuple[str, ...] = ()
    dst_named_port_ip_set_ids: tuple[str, ...] = ()
    not_dst_named_port_ip_set_ids: tuple[str, ...] = ()
    icmp_type: int | None = None
    icmp_code: int | None = None
    not_icmp_type: int | None = None
    not_icmp_code: int | None = None
    src_ip_set_ids: tuple[str, ...] = ()
    not_src_ip_set_ids: tuple[str, ...] = ()
    dst_ip_set_ids: tuple[str, ...] = ()
    not_dst_ip_set_ids: tuple[str, ...] = ()
    log_prefix: str | None = None
    rule_id: str = ""
    annotations: tuple[tuple[str, str], ...] = ()


# --- IP sets ---------------------------------------------------------------


class IPSetType(enum.Enum):
    IP = "hash:ip"
    IP_AND_PORT = "hash:ip,port"
    NET = "hash:net"


@dataclass(frozen=True, slots=True)
class IPSetUpdate:
    """Full membership of set ``id``.  Members: ``10.0.0.1``, ``10.0.0.0/24``
    or ``10.0.0.1,tcp:80`` depending on ``type``."""

    id: str
    members: frozenset[str]
    type: IPSetType = IPSetType.IP


@dataclass(frozen=True, slots=True)
class IPSetDeltaUpdate:
    id: str
    added_members: frozenset[str]
    removed_members: frozenset[str]


@dataclass(frozen=True, slots=True)
class IPSetRemove:
    id: str


# --- policies and profiles -------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class PolicyID:
    """``kind`` is Calico's short kind: np, gnp, knp (also snp/sgnp/sknp)."""

    name: str
    namespace: str = ""
    kind: str = "gnp"

    @property
    def chain_id(self) -> str:
        """``<kind>/<ns>/<name>`` or ``<kind>/<name>``: the cali-pi-/po- suffix."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class Policy:
    namespace: str = ""
    inbound_rules: tuple[Rule, ...] = ()
    outbound_rules: tuple[Rule, ...] = ()
    untracked: bool = False
    pre_dnat: bool = False
    apply_on_forward: bool = False
    original_selector: str = ""
    tier: str = "default"


@dataclass(frozen=True, slots=True)
class ActivePolicyUpdate:
    id: PolicyID
    policy: Policy


@dataclass(frozen=True, slots=True)
class ActivePolicyRemove:
    id: PolicyID


@dataclass(frozen=True, slots=True, order=True)
class ProfileID:
    name: str


@dataclass(frozen=True, slots=True)
class Profile:
    inbound_rules: tuple[Rule, ...] = ()
    outbound_rules: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class ActiveProfileUpdate:
    id: ProfileID
    profile: Profile


@dataclass(frozen=True, slots=True)
class ActiveProfileRemove:
    id: ProfileID


# --- endpoints -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TierInfo:
    """Policies of one tier that apply to an endpoint, already in order."""

    name: str
    ingress_policies: tuple[PolicyID, ...] = ()
    egress_policies: tuple[PolicyID, ...] = ()
    default_action: str = "Deny"  # Deny | Pass


@dataclass(frozen=True, slots=True, order=True)
class WorkloadEndpointID:
    orchestrator_id: str
    workload_id: str
    endpoint_id: str


@dataclass(frozen=True, slots=True)
class NatInfo:
    ext_ip: str
    int_ip: str


@dataclass(frozen=True, slots=True)
class WorkloadEndpoint:
    name: str  # host-side interface name
    state: str = "active"
    mac: str = ""
    profile_ids: tuple[str, ...] = ()
    ipv4_nets: tuple[str, ...] = ()
    ipv6_nets: tuple[str, ...] = ()
    tiers: tuple[TierInfo, ...] = ()
    ipv4_nat: tuple[NatInfo, ...] = ()
    ipv6_nat: tuple[NatInfo, ...] = ()
    allow_spoofed_source_prefixes: tuple[str, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class WorkloadEndpointUpdate:
    id: WorkloadEndpointID
    endpoint: WorkloadEndpoint


@dataclass(frozen=True, slots=True)
class WorkloadEndpointRemove:
    id: WorkloadEndpointID


@dataclass(frozen=True, slots=True, order=True)
class HostEndpointID:
    endpoint_id: str


@dataclass(frozen=True, slots=True)
class HostEndpoint:
    name: str  # interface name, "*" for all, "" when resolved by expected IPs
    profile_ids: tuple[str, ...] = ()
    tiers: tuple[TierInfo, ...] = ()
    untracked_tiers: tuple[TierInfo, ...] = ()
    pre_dnat_tiers: tuple[TierInfo, ...] = ()
    forward_tiers: tuple[TierInfo, ...] = ()
    expected_ipv4_addrs: tuple[str, ...] = ()
    expected_ipv6_addrs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HostEndpointUpdate:
    id: HostEndpointID
    endpoint: HostEndpoint


@dataclass(frozen=True, slots=True)
class HostEndpointRemove:
    id: HostEndpointID


# --- routing, pools, hosts -------------------------------------------------


class RouteType(enum.Enum):
    LOCAL_WORKLOAD = "local-workload"
    REMOTE_WORKLOAD = "remote-workload"
    LOCAL_HOST = "local-host"
    REMOTE_HOST = "remote-host"
    LOCAL_TUNNEL = "local-tunnel"
    REMOTE_TUNNEL = "remote-tunnel"


class EncapType(enum.Enum):
    NONE = "none"
    IPIP = "ipip"
    VXLAN = "vxlan"


@dataclass(frozen=True, slots=True)
class RouteUpdate:
    """A cluster route felix may program: a remote block, a borrowed /32, a
    local block (blackhole), or a host address."""

    dst: str
    types: frozenset[RouteType] = frozenset()
    ip_pool_type: EncapType = EncapType.NONE
    dst_node_name: str = ""
    dst_node_ip: str = ""
    same_subnet: bool = False
    nat_outgoing: bool = False
    local_workload: bool = False
    borrowed: bool = False


@dataclass(frozen=True, slots=True)
class RouteRemove:
    dst: str


@dataclass(frozen=True, slots=True)
class VXLANTunnelEndpointUpdate:
    node: str
    mac: str
    ipv4_addr: str  # the VTEP's tunnel address
    parent_device_ip: str  # the node's fabric IP


@dataclass(frozen=True, slots=True)
class VXLANTunnelEndpointRemove:
    node: str


@dataclass(frozen=True, slots=True)
class HostMetadataUpdate:
    hostname: str
    ipv4_addr: str  # CIDR form, e.g. 10.0.0.5/24


@dataclass(frozen=True, slots=True)
class HostMetadataRemove:
    hostname: str


@dataclass(frozen=True, slots=True)
class IPAMPool:
    cidr: str
    masquerade: bool = False
    ipip_mode: str = "Never"
    vxlan_mode: str = "Never"
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class IPAMPoolUpdate:
    id: str
    pool: IPAMPool


@dataclass(frozen=True, slots=True)
class IPAMPoolRemove:
    id: str


@dataclass(frozen=True, slots=True)
class ConfigUpdate:
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InSync:
    pass


DataplaneMessage = (
    IPSetUpdate
    | IPSetDeltaUpdate
    | IPSetRemove
    | ActivePolicyUpdate
    | ActivePolicyRemove
    | ActiveProfileUpdate
    | ActiveProfileRemove
    | WorkloadEndpointUpdate
    | WorkloadEndpointRemove
    | HostEndpointUpdate
    | HostEndpointRemove
    | RouteUpdate
    | RouteRemove
    | VXLANTunnelEndpointUpdate
    | VXLANTunnelEndpointRemove
    | HostMetadataUpdate
    | HostMetadataRemove
    | IPAMPoolUpdate
    | IPAMPoolRemove
    | ConfigUpdate
    | InSync
)
