"""BGPConfiguration and BGPPeer.

Sources: api ``bgpconfig.go`` and ``bgppeer.go`` (fields, CEL rules, CRD
defaults), libcalico-go ``validator.go`` (communities, ``IP:port`` peer
addresses, reachableBy) and clientv3 ``bgpconfig.go`` (fields only the
``default`` BGPConfiguration may set).

BGPConfiguration defaults are only those Calico writes into the resource
(logSeverityScreen Info, serviceLoadBalancerAggregation Enabled).  The mesh
(on) and AS number (64512) defaults apply when the configuration is *read*
by calico-bgp, so an absent value stays absent here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from calico.resources._base import CalicoModel, fail, join_path
from calico.resources._names import interface_problem
from calico.resources._net import parse_ip, split_peer_ip
from calico.resources._numorstring import ASNumber
from calico.resources._resource import Resource
from calico.resources._types import (
    Duration,
    EmptyIsUnset,
    IPAddr,
    IPv4Addr,
    IPv6Addr,
    MaskedCidr,
    Name,
    NameItem,
    NonEmpty,
    Selector,
)

DEFAULT_NAME = "default"
_SEVERITY_RE = re.compile(r"^(trace|debug|info|warning|error|fatal)?$", re.IGNORECASE)
_STANDARD_COMMUNITY_RE = re.compile(r"^(\d+):(\d+)$", re.ASCII)
_LARGE_COMMUNITY_RE = re.compile(r"^(\d+):(\d+):(\d+)$", re.ASCII)


def community_problem(value: str) -> str | None:
    """None for ``aa:nn`` (16-bit parts) or ``aa:nn:mm`` (32-bit parts)."""
    for pattern, bits in ((_STANDARD_COMMUNITY_RE, 16), (_LARGE_COMMUNITY_RE, 32)):
        match = pattern.match(value)
        if match:
            if any(int(part) >= 1 << bits for part in match.groups()):
                return f"invalid community value, expected {bits} bit values"
            return None
    return "invalid community value (expected 'aa:nn' or 'aa:nn:mm')"


def _severity(value: str) -> str:
    if not _SEVERITY_RE.match(value):
        raise ValueError("must be one of Trace, Debug, Info, Warning, Error, Fatal")
    return value


def _ignored_interface(value: str) -> str:
    # Like an interface name but may contain '*' wildcards; '*' alone is not allowed.
    if value == "*" or interface_problem(value.replace("*", "x"), allow_wildcard=False):
        raise ValueError("must be an interface name, optionally with '*' wildcards")
    return value


def _peer_ip(value: str) -> str:
    if value:
        split_peer_ip(value)
    return value


LogSeverity = Annotated[str, AfterValidator(_severity)]
IgnoredInterface = Annotated[str, AfterValidator(_ignored_interface)]
PeerAddress = Annotated[str, AfterValidator(_peer_ip)]
RoutePriority = Annotated[int, Field(ge=1, le=2147483646)]


class SecretKeySelector(CalicoModel):
    """A key in a Kubernetes Secret in calico-node's namespace."""

    name: str = ""
    key: str
    optional: bool | None = None


class BGPPassword(CalicoModel):
    secret_key_ref: SecretKeySelector | None = None


class ServiceIPBlock(CalicoModel):
    cidr: MaskedCidr


class Community(CalicoModel):
    name: Annotated[Name, NonEmpty]
    value: Annotated[str, Field(max_length=40)]

    @model_validator(mode="after")
    def _value(self) -> Self:
        problem = community_problem(self.value)
        if problem:
            fail(problem, at="value", value=self.value)
        return self


class PrefixAdvertisement(CalicoModel):
    cidr: MaskedCidr
    communities: Annotated[list[str], Field(min_length=1, max_length=50)]


class BGPConfigurationSpec(CalicoModel):
    log_severity_screen: LogSeverity = ""
    node_to_node_mesh_enabled: bool | None = None
    as_number: ASNumber | None = None
    service_load_balancer_ips: list[ServiceIPBlock] = Field(
        default_factory=list, alias="serviceLoadBalancerIPs"
    )
    service_external_ips: list[ServiceIPBlock] = Field(
        default_factory=list, alias="serviceExternalIPs"
    )
    service_cluster_ips: list[ServiceIPBlock] = Field(
        default_factory=list, alias="serviceClusterIPs"
    )
    service_load_balancer_aggregation: Literal["Enabled", "Disabled"] | None = None
    communities: Annotated[list[Community], Field(max_length=500)] = Field(default_factory=list)
    prefix_advertisements: Annotated[list[PrefixAdvertisement], Field(max_length=500)] = Field(
        default_factory=list
    )
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 0
    node_mesh_password: BGPPassword | None = Field(None, alias="nodeMeshPassword")
    node_mesh_max_restart_time: Duration | None = None
    bind_mode: Annotated[Literal["None", "NodeIP"] | None, EmptyIsUnset] = None
    ignored_interfaces: list[IgnoredInterface] = Field(default_factory=list)
    local_workload_peering_ipv4: IPv4Addr = Field("", alias="localWorkloadPeeringIPV4")
    local_workload_peering_ipv6: IPv6Addr = Field("", alias="localWorkloadPeeringIPV6")
    program_cluster_routes: (
        Literal["Enabled", "Disabled", "EnabledIPIPOnly", "EnabledNoEncapOnly"] | None
    ) = None
    ipv4_normal_route_priority: RoutePriority | None = Field(None, alias="ipv4NormalRoutePriority")
    ipv6_normal_route_priority: RoutePriority | None = Field(None, alias="ipv6NormalRoutePriority")

    @model_validator(mode="after")
    def _defaults_and_rules(self) -> Self:
        self.log_severity_screen = self.log_severity_screen or "Info"
        self.service_load_balancer_aggregation = self.service_load_balancer_aggregation or "Enabled"
        mesh_off = self.node_to_node_mesh_enabled is False
        if mesh_off and self.node_mesh_password is not None:
            fail(
                "nodeMeshPassword cannot be set when nodeToNodeMeshEnabled is false",
                at="nodeMeshPassword",
            )
        if mesh_off and self.node_mesh_max_restart_time is not None:
            fail(
                "nodeMeshMaxRestartTime cannot be set when nodeToNodeMeshEnabled is false",
                at="nodeMeshMaxRestartTime",
            )
        if self.communities and not self.prefix_advertisements:
            fail("communities are defined but not used in prefixAdvertisements", at="communities")
        defined = {community.name for community in self.communities}
        for index, advert in enumerate(self.prefix_advertisements):
            for position, community in enumerate(advert.communities):
                if community not in defined and community_problem(community):
                    fail(
                        "community is neither a valid community value nor a defined name",
                        at=join_path("prefixAdvertisements", index, "communities", position),
                        value=community,
                    )
        return self


# Fields only the cluster-wide "default" BGPConfiguration may set.
_DEFAULT_ONLY = {
    "node_to_node_mesh_enabled": "nodeToNodeMeshEnabled",
    "as_number": "asNumber",
    "service_load_balancer_ips": "serviceLoadBalancerIPs",
    "service_external_ips": "serviceExternalIPs",
    "service_cluster_ips": "serviceClusterIPs",
    "node_mesh_password": "nodeMeshPassword",
    "node_mesh_max_restart_time": "nodeMeshMaxRestartTime",
}


class BGPConfiguration(Resource):
    kind: Literal["BGPConfiguration"] = "BGPConfiguration"
    spec: BGPConfigurationSpec = Field(default_factory=BGPConfigurationSpec)

    def _complete(self) -> None:
        if self.name == DEFAULT_NAME:
            return
        for field, alias in _DEFAULT_ONLY.items():
            if getattr(self.spec, field) not in (None, []):
                fail(
                    f"{alias} can only be set on the 'default' BGPConfiguration", at=f"spec.{alias}"
                )


class BGPPeerSpec(CalicoModel):
    node: Name = ""
    node_selector: Selector = ""
    peer_ip: PeerAddress = Field("", alias="peerIP")
    as_number: ASNumber = 0
    local_as_number: ASNumber | None = Field(None, alias="localASNumber")
    peer_selector: Selector = ""
    keep_original_next_hop: bool = False
    next_hop_mode: Literal["Auto", "Self", "Keep"] | None = None
    password: BGPPassword | None = None
    source_address: Annotated[Literal["UseNodeIP", "None"] | None, EmptyIsUnset] = None
    max_restart_time: Duration | None = None
    keepalive_time: Duration | None = None
    num_allowed_local_as_numbers: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = Field(
        None, alias="numAllowedLocalASNumbers"
    )
    ttl_security: Annotated[int, Field(ge=0, le=255)] | None = None
    reachable_by: IPAddr = ""
    filters: list[NameItem] = Field(default_factory=list)
    local_workload_selector: Selector = ""
    reverse_peering: Literal["Auto", "Manual"] | None = None

    @model_validator(mode="after")
    def _exclusions(self) -> Self:
        pairs = (
            ("node", "nodeSelector"),
            ("peerIP", "peerSelector"),
            ("localWorkloadSelector", "peerIP"),
            ("localWorkloadSelector", "peerSelector"),
        )
        values = {
            "node": self.node,
            "nodeSelector": self.node_selector,
            "peerIP": self.peer_ip,
            "peerSelector": self.peer_selector,
            "localWorkloadSelector": self.local_workload_selector,
        }
        for first, second in pairs:
            if values[first] and values[second]:
                fail(f"{first} and {second} cannot both be set", at=second)
        if self.peer_selector and self.as_number:
            fail(
                "asNumber must be empty when peerSelector is set (each peer's own AS "
                "number is used)",
                at="asNumber",
                value=self.as_number,
            )
        if self.local_workload_selector and not self.as_number:
            fail("asNumber is required when localWorkloadSelector is set", at="asNumber")
        if self.keep_original_next_hop and self.next_hop_mode is not None:
            fail(
                "keepOriginalNextHop and nextHopMode cannot both be set; use nextHopMode",
                at="nextHopMode",
            )
        self._check_reachable_by()
        return self

    def _check_reachable_by(self) -> None:
        if not self.reachable_by:
            return
        if not self.peer_ip:
            fail("reachableBy must be empty when peerIP is empty", at="reachableBy")
        peer_version = parse_ip(split_peer_ip(self.peer_ip)[0]).version
        if parse_ip(self.reachable_by).version != peer_version:
            fail(
                "reachableBy and peerIP must be the same address family",
                at="reachableBy",
                value=self.reachable_by,
            )


class BGPPeer(Resource):
    kind: Literal["BGPPeer"] = "BGPPeer"
    spec: BGPPeerSpec = Field(default_factory=BGPPeerSpec)
