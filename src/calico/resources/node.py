"""Node: a host running calico-node, with its BGP and tunnel addresses.

Source: libcalico-go ``apis/internalapi/node.go`` and ``validator.go``
(``validateNodeSpec``: a present ``bgp`` must not be empty).  Node BGP
addresses are stored as written, e.g. ``10.0.0.5/24`` (address plus the
subnet it was found on, used for CrossSubnet decisions).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from calico.resources._base import CalicoModel, fail
from calico.resources._numorstring import ASNumber
from calico.resources._resource import Resource
from calico.resources._types import (
    IPv4Addr,
    IPv4CidrText,
    IPv6Addr,
    IPv6CidrText,
    MACAddr,
    Name,
    NetText,
    NonEmpty,
)

NodeAddressType = Literal["CalicoNodeIP", "InternalIP", "ExternalIP"]


class NodeBGPSpec(CalicoModel):
    as_number: ASNumber | None = None
    ipv4_address: IPv4CidrText = ""
    ipv6_address: IPv6CidrText = ""
    ipv4_ipip_tunnel_addr: IPv4Addr = Field("", alias="ipv4IPIPTunnelAddr")
    # A route reflector's cluster ID, in IPv4 dotted-quad form.
    route_reflector_cluster_id: IPv4Addr = Field("", alias="routeReflectorClusterID")


class OrchRef(CalicoModel):
    node_name: str = ""
    orchestrator: str = ""

    _always_emit: ClassVar[frozenset[str]] = frozenset({"orchestrator"})


class NodeWireguardSpec(CalicoModel):
    interface_ipv4_address: IPv4Addr = Field("", alias="interfaceIPv4Address")
    interface_ipv6_address: IPv6Addr = Field("", alias="interfaceIPv6Address")


class NodeAddress(CalicoModel):
    address: Annotated[NetText, NonEmpty]
    type: NodeAddressType | None = None

    _always_emit: ClassVar[frozenset[str]] = frozenset({"address"})


class NodeInterface(CalicoModel):
    name: Name = ""
    addresses: list[str] = Field(default_factory=list)


class NodeSpec(CalicoModel):
    bgp: NodeBGPSpec | None = Field(None, alias="bgp")
    ipv4_vxlan_tunnel_addr: IPv4Addr = Field("", alias="ipv4VXLANTunnelAddr")
    vxlan_tunnel_mac_addr: MACAddr = Field("", alias="vxlanTunnelMACAddr")
    ipv6_vxlan_tunnel_addr: IPv6Addr = Field("", alias="ipv6VXLANTunnelAddr")
    vxlan_tunnel_mac_addr_v6: MACAddr = Field("", alias="vxlanTunnelMACAddrV6")
    orch_refs: list[OrchRef] = Field(default_factory=list)
    wireguard: NodeWireguardSpec | None = None
    addresses: list[NodeAddress] = Field(default_factory=list)
    interfaces: list[NodeInterface] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bgp_not_empty(self) -> Self:
        if self.bgp is not None and self.bgp == NodeBGPSpec():
            fail("bgp must not be empty when present", at="bgp")
        return self


def _wireguard_key(value: str) -> str:
    # A WireGuard public key is 32 bytes, standard base64 (44 characters).
    if not value:
        return value
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise ValueError("invalid WireGuard public key (expected 32 bytes, base64)")
    return value


WireguardKey = Annotated[str, AfterValidator(_wireguard_key)]


class NodeStatus(CalicoModel):
    wireguard_public_key: WireguardKey = ""
    wireguard_public_key_v6: WireguardKey = Field("", alias="wireguardPublicKeyV6")
    pod_cidrs: list[str] = Field(default_factory=list, alias="podCIDRs")


class Node(Resource):
    kind: Literal["Node"] = "Node"
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus = Field(default_factory=NodeStatus)

    # Go's Node has a non-pointer status, so calicoctl prints "status: {}".
    _always_emit: ClassVar[frozenset[str]] = Resource._always_emit | {"status"}
