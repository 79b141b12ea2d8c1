"""The cluster-wide settings an OpenStack deployment needs (networking-calico
``resync/scope.py`` ``provide_felix_config``), written when the driver starts.

- ClusterInformation ``default``: a cluster GUID if there is none,
  ``openstack`` added to ``clusterType``, and ``datastoreReady: true`` unless
  somebody set it explicitly (false means "suspended, e.g. for an upgrade":
  never override that);
- FelixConfiguration ``default``: ``endpointReportingEnabled: true`` (port
  status comes from it) and ``tap`` among the ``interfacePrefix`` values
  (else Felix ignores the VMs' taps).

Other orchestrators' settings are kept: each update adds to what is there,
compare-and-swap on the version that was read, retried on conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from calico.client import Client
from calico.errors import AlreadyExistsError, ConflictError, NotFoundError
from calico.resources import API_VERSION, parse_resource

_ATTEMPTS = 5
_Edit = Callable[[dict[str, Any]], None]


def provide_cluster_config(client: Client) -> None:
    _edit_singleton(client, "ClusterInformation", _cluster_information)
    _edit_singleton(client, "FelixConfiguration", _felix_configuration)


def _cluster_information(spec: dict[str, Any]) -> None:
    if not spec.get("clusterGUID"):
        spec["clusterGUID"] = uuid.uuid4().hex
    types = [t for t in (spec.get("clusterType") or "").split(",") if t]
    if "openstack" not in types:
        spec["clusterType"] = ",".join([*types, "openstack"])
    if spec.get("datastoreReady") is None:
        spec["datastoreReady"] = True


def _felix_configuration(spec: dict[str, Any]) -> None:
    if not spec.get("endpointReportingEnabled"):
        spec["endpointReportingEnabled"] = True
    # Unset means Felix's default "cali": keep it, or containers on a mixed
    # cluster would stop being policed once "tap" is added.
    prefixes = [p for p in (spec.get("interfacePrefix") or "cali").split(",") if p]
    if "tap" not in prefixes:
        spec["interfacePrefix"] = ",".join([*prefixes, "tap"])


def _edit_singleton(client: Client, kind: str, edit: _Edit) -> None:
    """Apply ``edit`` to the spec of ``kind`` ``default``, retrying lost races."""
    for attempt in range(_ATTEMPTS):
        try:
            _edit_once(client, kind, edit)
            return
        except (ConflictError, AlreadyExistsError):
            if attempt == _ATTEMPTS - 1:
                raise


def _edit_once(client: Client, kind: str, edit: _Edit) -> None:
    try:
        doc = client.get(kind, "default").to_dict()
    except NotFoundError:
        doc = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": "default"}}
    spec = dict(doc.get("spec") or {})
    edit(spec)
    if spec == doc.get("spec"):
        return
    doc["spec"] = spec
    resource = parse_resource(doc)
    # With the version read, update is a compare-and-swap; create fails if
    # someone created it meanwhile.  Either way the caller reads again.
    if resource.metadata.resource_version:
        client.update(resource)
    else:
        client.create(resource)
