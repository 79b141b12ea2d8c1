"""WorkloadEndpoint (a VM or container interface) and HostEndpoint.

Sources: libcalico-go ``apis/internalapi/workloadendpoint.go``, api
``hostendpoint.go``, libcalico-go ``validator.go``
(``validateWorkloadEndpointSpec``, ``validateIPNAT``, endpoint ports) and
``names/workloadendpoint.go`` (the WorkloadEndpoint name).

A WorkloadEndpoint's name is derived from its spec:
``<node>-<orchestrator>-<workload>-<endpoint>`` (``<pod>`` for k8s,
``<containerID>`` for cni), each ``-`` inside a segment doubled.  As in
clientv3, an empty name is filled in and a given one must match, and the
labels ``projectcalico.org/namespace`` and ``projectcalico.org/orchestrator``
are set (once the namespace is known).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from calico.resources import _names
from calico.resources._base import CalicoModel, fail, join_path
from calico.resources._net import parse_cidr, parse_ip
from calico.resources._numorstring import DSCP, Protocol, protocol_supports_ports
from calico.resources._resource import Resource
from calico.resources._types import (
    Cidr,
    ContainerID,
    InterfaceName,
    IPAddr,
    IPAddrItem,
    IPv4Addr,
    IPv6Addr,
    MACAddr,
    MaskedCidr,
    Name,
    NameItem,
    NetText,
    PortName,
)

PortNumber = Annotated[int, Field(ge=1, le=65535)]
# Labels Calico adds to every stored WorkloadEndpoint (api constants.go).
NAMESPACE_LABEL = "projectcalico.org/namespace"
ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"


class EndpointPort(CalicoModel):
    """A named port on a host endpoint."""

    name: PortName = ""
    protocol: Protocol
    port: PortNumber

    _always_emit: ClassVar[frozenset[str]] = frozenset({"name", "protocol", "port"})

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.name:
            fail("host endpoint ports must be named", at="name")
        _port_protocol(self.protocol)
        return self


class WorkloadEndpointPort(CalicoModel):
    """A named port, and/or a host port mapped to it."""

    name: PortName = ""
    protocol: Protocol
    port: PortNumber
    host_port: Annotated[int, Field(ge=0, le=65535)] = 0
    host_ip: NetText = Field("", alias="hostIP")

    _always_emit: ClassVar[frozenset[str]] = frozenset(
        {"name", "protocol", "port", "host_port", "host_ip"}
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        _port_protocol(self.protocol)
        if not self.name and not self.host_port:
            fail("a port needs a name unless it has a hostPort", at="name")
        return self


def _port_protocol(protocol: int | str) -> None:
    if not protocol_supports_ports(protocol):
        fail("protocol must be TCP, UDP or SCTP", at="protocol", value=protocol)


class IPNAT(CalicoModel):
    """A 1:1 NAT (floating IP) from ``externalIP`` to ``internalIP``."""

    internal_ip: IPAddr = Field("", alias="internalIP")
    external_ip: IPAddr = Field("", alias="externalIP")

    _always_emit: ClassVar[frozenset[str]] = frozenset({"internal_ip", "external_ip"})

    @model_validator(mode="after")
    def _same_family(self) -> Self:
        if not self.internal_ip or not self.external_ip:
            fail("internalIP and externalIP must both be set")
        if parse_ip(self.internal_ip).version != parse_ip(self.external_ip).version:
            fail(
                "internalIP and externalIP must be the same IP version",
                at="externalIP",
                value=self.external_ip,
            )
        return self


class QoSControls(CalicoModel):
    """Bandwidth, packet-rate and connection limits, and DSCP marking."""

    ingress_bandwidth: Annotated[int, Field(ge=0)] = 0
    ingress_burst: Annotated[int, Field(ge=0)] = 0
    ingress_peakrate: Annotated[int, Field(ge=0)] = 0
    ingress_minburst: Annotated[int, Field(ge=0)] = 0
    egress_bandwidth: Annotated[int, Field(ge=0)] = 0
    egress_burst: Annotated[int, Field(ge=0)] = 0
    egress_peakrate: Annotated[int, Field(ge=0)] = 0
    egress_minburst: Annotated[int, Field(ge=0)] = 0
    ingress_packet_rate: Annotated[int, Field(ge=0)] = 0
    ingress_packet_burst: Annotated[int, Field(ge=0)] = 0
    egress_packet_rate: Annotated[int, Field(ge=0)] = 0
    egress_packet_burst: Annotated[int, Field(ge=0)] = 0
    ingress_max_connections: Annotated[int, Field(ge=0)] = 0
    egress_max_connections: Annotated[int, Field(ge=0)] = 0
    dscp: DSCP | None = None


class WorkloadEndpointSpec(CalicoModel):
    orchestrator: Name = ""
    workload: Name = ""
    node: Name = ""
    container_id: ContainerID = Field("", alias="containerID")
    pod: Name = ""
    endpoint: Name = ""
    service_account_name: Name = ""
    ip_networks: list[MaskedCidr] = Field(default_factory=list)
    ip_nats: list[IPNAT] = Field(default_factory=list, alias="ipNATs")
    ipv4_gateway: IPv4Addr = ""
    ipv6_gateway: IPv6Addr = ""
    profiles: list[NameItem] = Field(default_factory=list)
    interface_name: InterfaceName = ""
    mac: MACAddr = ""
    ports: list[WorkloadEndpointPort] = Field(default_factory=list)
    allow_spoofed_source_prefixes: list[Cidr] = Field(default_factory=list)
    qos_controls: QoSControls | None = Field(None, alias="qosControls")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.interface_name:
            fail("interfaceName is required", at="interfaceName")
        for index, network in enumerate(self.ip_networks):
            interface = parse_cidr(network)
            if interface.network.prefixlen != interface.max_prefixlen:
                fail(
                    "workload IP networks must be a single address (/32 or /128)",
                    at=join_path("ipNetworks", index),
                    value=network,
                )
        networks = [parse_cidr(n).network for n in self.ip_networks]
        for index, nat in enumerate(self.ip_nats):
            internal = ipaddress.ip_address(nat.internal_ip)
            if not any(internal in network for network in networks):
                fail(
                    "NAT internalIP is not one of the endpoint's ipNetworks",
                    at=join_path("ipNATs", index, "internalIP"),
                    value=nat.internal_ip,
                )
        return self

    def name_segments(self) -> list[tuple[str, str]]:
        """(field alias, value) of each name segment, in name order."""
        node = ("node", self.node)
        orchestrator = ("orchestrator", self.orchestrator)
        endpoint = ("endpoint", self.endpoint)
        middle = {
            "k8s": ("pod", self.pod),
            "cni": ("containerID", self.container_id),
            "libnetwork": orchestrator,
        }.get(self.orchestrator, ("workload", self.workload))
        return [node, orchestrator, middle, endpoint]


def workload_endpoint_name(spec: WorkloadEndpointSpec) -> str:
    """The name Calico derives from a spec; ValueError if a segment is bad."""
    parts = []
    for alias, value in spec.name_segments():
        if not value:
            raise ValueError(f"spec.{alias} must be set: it is part of the endpoint's name")
        if value.startswith("-") or value.endswith("-"):
            raise ValueError(f"spec.{alias} must not begin or end with '-'")
        parts.append(value.replace("-", "--"))
    return "-".join(parts)


class WorkloadEndpoint(Resource):
    kind: Literal["WorkloadEndpoint"] = "WorkloadEndpoint"
    spec: WorkloadEndpointSpec

    def _check_name(self) -> None:
        for alias, value in self.spec.name_segments():
            if not value or value.startswith("-") or value.endswith("-"):
                fail(
                    "must be set, and not begin or end with '-' (it is part of the "
                    "endpoint's name)",
                    at=f"spec.{alias}",
                    value=value or None,
                )
        expected = workload_endpoint_name(self.spec)
        if not self.name:
            self.metadata.name = expected
        elif self.name != expected:
            self._require_name(
                f"does not match the spec: expected {expected!r} from node, orchestrator, "
                "workload/pod/containerID and endpoint"
            )
        self._require_name(_names.subdomain_problem(self.name))

    def _complete(self) -> None:
        # clientv3 stores these labels so that selectors can match on them;
        # the namespace is known only once the client has filled it in.
        if self.namespace:
            self.metadata.labels[NAMESPACE_LABEL] = self.namespace
            self.metadata.labels[ORCHESTRATOR_LABEL] = self.spec.orchestrator


class HostEndpointSpec(CalicoModel):
    node: Name = ""
    interface_name: InterfaceName = ""
    expected_ips: list[IPAddrItem] = Field(default_factory=list, alias="expectedIPs")
    profiles: list[NameItem] = Field(default_factory=list)
    ports: list[EndpointPort] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.node:
            fail("node must be specified", at="node")
        if not self.interface_name and not self.expected_ips:
            fail(
                "at least one of interfaceName or expectedIPs must be specified", at="interfaceName"
            )
        return self


class HostEndpoint(Resource):
    kind: Literal["HostEndpoint"] = "HostEndpoint"
    spec: HostEndpointSpec
