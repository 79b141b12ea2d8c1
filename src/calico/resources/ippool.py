"""IPPool: a CIDR from which Calico IPAM assigns workload addresses.

Sources: api ``ippool.go`` (fields and CEL rules), libcalico-go clientv3
``ippool.go`` (``validateAndSetDefaults``: the CIDR is normalised, block size
26 / 122, ipipMode and vxlanMode Never, nodeSelector ``all()``, allowedUses
Workload and Tunnel, assignmentMode Automatic) and ``validator.go``
(``validateIPPoolSpec``).  Overlap with other pools needs the datastore and
is checked by the client, not here.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from calico.errors import ValidationError
from calico.resources._base import CalicoModel, fail
from calico.resources._net import normalise_cidr, parse_cidr
from calico.resources._resource import Resource
from calico.resources._types import EmptyIsUnset, Selector

EncapMode = Literal["Never", "Always", "CrossSubnet"]
AllowedUse = Literal["Workload", "Tunnel", "LoadBalancer"]

DEFAULT_BLOCK_SIZE = {4: 26, 6: 122}
BLOCK_SIZE_RANGE = {4: (20, 32), 6: (116, 128)}
_LINK_LOCAL = {
    4: ipaddress.ip_network("169.254.0.0/16"),
    6: ipaddress.ip_network("fe80::/10"),
}


class IPPoolSpec(CalicoModel):
    cidr: str
    vxlan_mode: Annotated[EncapMode | None, EmptyIsUnset] = None
    ipip_mode: Annotated[EncapMode | None, EmptyIsUnset] = None
    nat_outgoing: bool = False
    disabled: bool = False
    disable_bgp_export: bool = Field(False, alias="disableBGPExport")
    block_size: int = 0
    node_selector: Selector = ""
    namespace_selector: Selector = ""
    allowed_uses: list[AllowedUse] = Field(default_factory=list, max_length=10)
    assignment_mode: Literal["Automatic", "Manual"] | None = None

    @model_validator(mode="after")
    def _defaults_and_rules(self) -> Self:
        self.cidr = _pool_cidr(self.cidr)
        network = parse_cidr(self.cidr).network
        self._apply_defaults(network.version)
        self._check_network(network)
        self._check_encapsulation(network.version)
        self._check_uses()
        return self

    def _apply_defaults(self, version: int) -> None:
        self.block_size = self.block_size or DEFAULT_BLOCK_SIZE[version]
        self.ipip_mode = self.ipip_mode or "Never"
        self.vxlan_mode = self.vxlan_mode or "Never"
        self.node_selector = self.node_selector or "all()"
        self.allowed_uses = self.allowed_uses or ["Workload", "Tunnel"]
        self.assignment_mode = self.assignment_mode or "Automatic"

    def _check_network(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        link_local = _LINK_LOCAL[network.version]
        if network.overlaps(link_local):
            fail(
                f"IPPool CIDR overlaps with the link-local range {link_local}",
                at="cidr",
                value=self.cidr,
            )
        low, high = BLOCK_SIZE_RANGE[network.version]
        if not low <= self.block_size <= high:
            fail(
                f"blockSize must be between {low} and {high} for IPv{network.version} pools",
                at="blockSize",
                value=self.block_size,
            )
        if not self.disabled and network.prefixlen > self.block_size:
            fail(
                "IP pool is smaller than one block: its prefix length must be at most the "
                f"blockSize ({self.block_size})",
                at="cidr",
                value=self.cidr,
            )

    def _check_encapsulation(self, version: int) -> None:
        if self.ipip_mode != "Never" and self.vxlan_mode != "Never":
            fail(
                "ipipMode and vxlanMode cannot both be enabled",
                at="vxlanMode",
                value=self.vxlan_mode,
            )
        if version == 6 and self.ipip_mode != "Never":
            fail("IPIP is not supported on IPv6 pools", at="ipipMode", value=self.ipip_mode)
        for index, selector in (
            ("nodeSelector", self.node_selector),
            ("namespaceSelector", self.namespace_selector),
        ):
            if "global(" in selector:
                fail(f"global() is not valid in an IPPool {index}", at=index, value=selector)

    def _check_uses(self) -> None:
        uses = set(self.allowed_uses)
        if len(uses) != len(self.allowed_uses):
            fail("allowedUses must not contain duplicates", at="allowedUses")
        if "Tunnel" in uses and self.namespace_selector:
            fail(
                "an IP pool with allowed use Tunnel cannot have a namespaceSelector",
                at="namespaceSelector",
                value=self.namespace_selector,
            )
        if "LoadBalancer" not in uses:
            return
        if uses & {"Workload", "Tunnel"}:
            fail(
                "LoadBalancer cannot be combined with Workload or Tunnel allowed uses",
                at="allowedUses",
            )
        if self.ipip_mode != "Never" or self.vxlan_mode != "Never":
            fail("a LoadBalancer IP pool cannot have IPIP or VXLAN enabled", at="allowedUses")
        if self.disable_bgp_export:
            fail("a LoadBalancer IP pool cannot disable BGP export", at="disableBGPExport")
        if self.node_selector != "all()":
            fail(
                "a LoadBalancer IP pool must have nodeSelector all()",
                at="nodeSelector",
                value=self.node_selector,
            )


def _pool_cidr(text: str) -> str:
    # Calico stores the normalised CIDR and requires it strictly masked; an
    # address without a mask is not a pool.
    if "/" not in text:
        fail("IPPool CIDR must be a network in CIDR notation (addr/len)", at="cidr", value=text)
    try:
        return normalise_cidr(text, strict=True)
    except ValidationError as exc:
        fail(exc.reason, at="cidr", value=text)


class IPPoolStatus(CalicoModel):
    """Written by Kubernetes-backed Calico; kept so exports re-apply."""

    conditions: list[dict[str, Any]] = Field(default_factory=list)


class IPPool(Resource):
    kind: Literal["IPPool"] = "IPPool"
    spec: IPPoolSpec
    status: IPPoolStatus | None = None
