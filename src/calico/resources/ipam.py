"""IPAM resources: IPReservation and the IPAMConfiguration singleton.

Sources: api ``ipreservation.go``, ``ipamconfig.go`` (CRD defaults:
strictAffinity false, autoAllocateBlocks true, maxBlocksPerHost 0),
libcalico-go clientv3 ``ipamconfig.go`` (the name must be ``default``) and
``ipam/ipam.go`` ``SetIPAMConfig`` (maxBlocksPerHost > 0 needs
strictAffinity; strictAffinity and autoAllocateBlocks cannot both be off).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from calico.resources._base import CalicoModel, fail
from calico.resources._resource import Resource
from calico.resources._types import Cidr

SINGLETON_NAME = "default"


class IPReservationSpec(CalicoModel):
    # Addresses or CIDRs IPAM must not hand out (existing allocations stay).
    reserved_cidrs: list[Cidr] = Field(default_factory=list, alias="reservedCIDRs")


class IPReservation(Resource):
    kind: Literal["IPReservation"] = "IPReservation"
    spec: IPReservationSpec = Field(default_factory=IPReservationSpec)


class IPAMConfigurationSpec(CalicoModel):
    strict_affinity: bool = False
    max_blocks_per_host: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    # None until defaulted: the CRD default is true, and Go prints it always.
    auto_allocate_blocks: bool | None = None
    kube_virt_vm_address_persistence: Literal["Enabled", "Disabled"] | None = Field(
        None, alias="kubeVirtVMAddressPersistence"
    )
    ip_cooldown_seconds: Annotated[int, Field(ge=0, le=1200)] = Field(0, alias="ipCooldownSeconds")

    _always_emit: ClassVar[frozenset[str]] = frozenset({"strict_affinity"})

    @model_validator(mode="after")
    def _defaults_and_rules(self) -> Self:
        if self.auto_allocate_blocks is None:
            self.auto_allocate_blocks = True
        if self.max_blocks_per_host > 0 and not self.strict_affinity:
            fail(
                "maxBlocksPerHost requires strictAffinity to be enabled",
                at="maxBlocksPerHost",
                value=self.max_blocks_per_host,
            )
        if not self.strict_affinity and not self.auto_allocate_blocks:
            fail(
                "strictAffinity and autoAllocateBlocks cannot both be disabled",
                at="autoAllocateBlocks",
            )
        return self


class IPAMConfiguration(Resource):
    kind: Literal["IPAMConfiguration"] = "IPAMConfiguration"
    spec: IPAMConfigurationSpec = Field(default_factory=IPAMConfigurationSpec)

    def _check_name(self) -> None:
        if self.name != SINGLETON_NAME:
            self._require_name(f"must be {SINGLETON_NAME!r} (IPAMConfiguration is a singleton)")
