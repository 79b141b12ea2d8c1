"""ClusterInformation: the cluster's identity, written by calico-node.

Source: api ``clusterinfo.go``; libcalico-go clientv3 ``clusterinfo.go``
(the only allowed name is ``default``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from calico.resources._base import CalicoModel
from calico.resources._resource import Resource

SINGLETON_NAME = "default"


class ClusterInformationSpec(CalicoModel):
    cluster_guid: str = Field("", alias="clusterGUID")
    cluster_type: str = ""
    calico_version: str = ""
    datastore_ready: bool | None = None
    variant: str = ""


class ClusterInformation(Resource):
    kind: Literal["ClusterInformation"] = "ClusterInformation"
    spec: ClusterInformationSpec = Field(default_factory=ClusterInformationSpec)

    def _check_name(self) -> None:
        if self.name != SINGLETON_NAME:
            self._require_name(f"must be {SINGLETON_NAME!r} (ClusterInformation is a singleton)")
