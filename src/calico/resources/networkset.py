"""NetworkSet (namespaced) and GlobalNetworkSet: labelled lists of CIDRs.

Rule selectors match network sets as if they were endpoints, so their nets
end up in ``hash:net`` IP sets.  Source: api ``networkset.go``,
``globalnetworkset.go``; libcalico-go ``validator.go`` (the reserved label).
Nets may be addresses (a single host) or CIDRs; they are normalised to
``addr/len``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from calico.resources._base import CalicoModel, fail
from calico.resources._resource import Resource
from calico.resources._types import Cidr

# Calico adds this label when converting namespaced sets for Felix; a user may
# not set it in the v3 model.
NAMESPACE_LABEL = "projectcalico.org/namespace"


class NetworkSetSpec(CalicoModel):
    nets: list[Cidr] = Field(default_factory=list)


class GlobalNetworkSetSpec(CalicoModel):
    nets: list[Cidr] = Field(default_factory=list)


class _NetworkSetBase(Resource):
    def _complete(self) -> None:
        if NAMESPACE_LABEL in self.metadata.labels:
            fail(
                f"{NAMESPACE_LABEL} is a reserved label",
                at="metadata.labels",
                value=NAMESPACE_LABEL,
            )


class NetworkSet(_NetworkSetBase):
    kind: Literal["NetworkSet"] = "NetworkSet"
    spec: NetworkSetSpec = Field(default_factory=NetworkSetSpec)


class GlobalNetworkSet(_NetworkSetBase):
    kind: Literal["GlobalNetworkSet"] = "GlobalNetworkSet"
    spec: GlobalNetworkSetSpec = Field(default_factory=GlobalNetworkSetSpec)
