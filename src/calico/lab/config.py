"""What ``calico lab up`` is asked for: hosts, datastore, encapsulation, subnets.

``LabConfig`` is persisted as the lab's ``cluster`` section; a second ``up``
with other settings is refused rather than silently reconfiguring the lab.

Encapsulation (``--encap``) maps to the default pool calico-node creates:

=======  ==========================  =====================================
encap    pool (1 subnet / 2 subnets)  routing between hosts
=======  ==========================  =====================================
none     no encapsulation             BGP (BIRD) routes per block
vxlan    VXLAN Always / CrossSubnet   felix's VXLAN routes; no BGP (as
                                      Calico's ``CALICO_NETWORKING_BACKEND
                                      =vxlan`` manifests)
ipip     IPIP Always / CrossSubnet    BGP; refused where the kernel has no
                                      IPIP (it is checked first, in host1)
=======  ==========================  =====================================

With two subnets and ``none`` the router between them does not carry
workload routes (it is the "rest of the data centre"), so workloads on
different subnets cannot reach each other: ``up`` says so and suggests
``--encap vxlan``, whose CrossSubnet mode encapsulates exactly that traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calico.errors import ConfigError
from calico.node.mtu import FALLBACK_MTU, OVERHEAD

DEFAULT_POOL = "10.244.0.0/16"
BLOCK_SIZE = 26
ENCAPS = ("none", "ipip", "vxlan")
DATASTORES = ("sqlite", "etcdv3")


@dataclass(frozen=True)
class LabConfig:
    """What ``calico lab up`` was asked for; persisted as the lab's ``cluster`` section."""

    name: str
    hosts: int = 3
    datastore: str = "sqlite"
    encap: str = "none"
    subnets: int = 1
    pool: str = DEFAULT_POOL

    def validate(self) -> LabConfig:
        if self.datastore not in DATASTORES:
            raise ConfigError(
                f"--datastore must be one of {', '.join(DATASTORES)} (value {self.datastore!r})"
            )
        if self.encap not in ENCAPS:
            raise ConfigError(f"--encap must be one of {', '.join(ENCAPS)} (value {self.encap!r})")
        if self.subnets not in (1, 2):
            raise ConfigError(f"--subnets must be 1 or 2 (value {self.subnets!r})")
        if self.hosts < 1:
            raise ConfigError(f"--hosts must be at least 1 (value {self.hosts!r})")
        return self

    @property
    def encap_mode(self) -> str:
        """The pool's ipipMode/vxlanMode: encapsulate only between subnets when there are two."""
        if self.encap == "none":
            return "Never"
        return "CrossSubnet" if self.subnets == 2 else "Always"

    @property
    def bgp(self) -> bool:
        return self.encap != "vxlan"

    @property
    def mtu(self) -> int:
        return FALLBACK_MTU - OVERHEAD[self.encap]

    def warnings(self) -> list[str]:
        if self.subnets == 2 and self.encap == "none":
            return [
                "workload routes do not cross the router between the two subnets: workloads "
                "on different subnets cannot reach each other (use --encap vxlan, CrossSubnet)"
            ]
        return []

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LabConfig:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__})
