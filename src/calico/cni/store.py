"""The datastore reads and writes of the CNI plugin, each one compare-and-swap.

The plugin works on raw keys and JSON (``calico.datastore.keys`` layout)
rather than through ``calico.client``: the client validates with pydantic,
which costs more start-up time than the whole ADD otherwise takes.  The
documents are built to the same shape (see ``wep``), and stored without
``resourceVersion``: the key's revision is the version, as the client does.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from calico.cni import wep
from calico.cni.names import EndpointIdentifiers
from calico.cni.spec import TRY_AGAIN_LATER, CniError
from calico.datastore import KV, Datastore
from calico.datastore.keys import kind_prefix, parse_resource_key, resource_key
from calico.errors import AlreadyExistsError, ConflictError, NotFoundError

_KIND = "WorkloadEndpoint"
_DELETE_ATTEMPTS = 6  # as upstream CmdDelK8s: the endpoint may be updated meanwhile

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredEndpoint:
    doc: dict[str, Any]
    revision: int

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.doc["metadata"].get("namespace", ""))

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.doc.get("spec") or {}
        return spec

    @property
    def key(self) -> str:
        return resource_key(_KIND, self.name, self.namespace)

    @property
    def network(self) -> str:
        return str((self.doc["metadata"].get("annotations") or {}).get(wep.NETWORK_ANNOTATION, ""))


def ensure_ready(ds: Datastore) -> None:
    """Refuse to work while ClusterInformation says the datastore is not ready
    (an upgrade in progress); a datastore without it is taken as ready."""
    kv = ds.get(resource_key("ClusterInformation", "default"))
    ready = True if kv is None else (json.loads(kv.value).get("spec") or {}).get("datastoreReady")
    if ready is False:
        raise CniError(TRY_AGAIN_LATER, "Calico is currently not ready to process requests")


def find_endpoint(ds: Datastore, ids: wep.WorkloadIDs) -> StoredEndpoint | None:
    """This workload's endpoint whatever its interface name (one interface per pod).

    Listed by name prefix, then matched on the spec too: a name alone could
    belong to an object that is not ours (upstream trusts the name).
    """
    wanted = EndpointIdentifiers(
        node=ids.node,
        orchestrator=ids.orchestrator,
        pod=ids.pod,
        container_id=ids.container_id if ids.orchestrator == wep.ORCH_CNI else "",
    )
    items, _ = ds.list(kind_prefix(_KIND, ids.namespace) + wanted.prefix())
    for kv in items:
        found = _decode(kv)
        if wanted.matches(found.name) and _same_workload(found.spec, ids):
            return found
    return None


def _same_workload(spec: dict[str, Any], ids: wep.WorkloadIDs) -> bool:
    """Node, orchestrator and pod agree; for plain CNI the container too (it is the name)."""
    same_container = ids.orchestrator != wep.ORCH_CNI or spec.get("containerID") == ids.container_id
    return (
        spec.get("node") == ids.node
        and spec.get("orchestrator") == ids.orchestrator
        and spec.get("pod", "") == ids.pod
        and same_container
    )


def get_endpoint(ds: Datastore, namespace: str, name: str) -> StoredEndpoint | None:
    kv = ds.get(resource_key(_KIND, name, namespace))
    return None if kv is None else _decode(kv)


def list_endpoints(ds: Datastore) -> list[StoredEndpoint]:
    items, _ = ds.list(kind_prefix(_KIND))
    return [_decode(kv) for kv in items]


def create_endpoint(ds: Datastore, doc: dict[str, Any]) -> StoredEndpoint:
    """AlreadyExistsError if the name is taken (by a foreign object: ours was looked up)."""
    meta = doc["metadata"]
    key = resource_key(_KIND, meta["name"], meta["namespace"])
    return StoredEndpoint(doc, ds.create(key, json.dumps(doc)))


def update_endpoint(ds: Datastore, stored: StoredEndpoint, doc: dict[str, Any]) -> StoredEndpoint:
    """CAS update keeping the server-owned uid and creationTimestamp."""
    meta = dict(doc["metadata"])
    for field in ("uid", "creationTimestamp"):
        if field in stored.doc["metadata"]:
            meta[field] = stored.doc["metadata"][field]
    doc = {**doc, "metadata": meta}
    return StoredEndpoint(doc, ds.update(stored.key, json.dumps(doc), stored.revision))


def delete_endpoint(ds: Datastore, stored: StoredEndpoint, container_id: str) -> bool:
    """Delete ``stored`` unless it now belongs to another container; True if deleted.

    Upstream's k8s rule: an endpoint whose ``containerID`` is another
    sandbox's (the pod was re-created) is left alone.  Conflicts re-read.
    """
    current: StoredEndpoint | None = stored
    for _ in range(_DELETE_ATTEMPTS):
        if current is None:
            return False
        owner = current.spec.get("containerID", "")
        if owner and owner != container_id:
            _log.warning("Endpoint %s belongs to container %s; not deleting", current.name, owner)
            return False
        try:
            ds.delete(current.key, current.revision)
            return True
        except NotFoundError:
            return False
        except ConflictError:
            current = get_endpoint(ds, current.namespace, current.name)
    raise ConflictError(
        f"endpoint {stored.name} kept changing; could not delete it", key=stored.key
    )


def ensure_profile(ds: Datastore, network: str, k8s: bool) -> None:
    """Create the network's profile if it does not exist; never update one."""
    key = resource_key("Profile", network)
    if ds.get(key) is not None:
        return
    try:
        ds.create(key, json.dumps(wep.profile_document(network, k8s)))
    except AlreadyExistsError:
        pass  # another container of this network created it meanwhile


def _decode(kv: KV) -> StoredEndpoint:
    doc = json.loads(kv.value)
    parsed = parse_resource_key(kv.key)
    if parsed is not None:  # the key is the truth for name and namespace
        doc.setdefault("metadata", {}).update(name=parsed.name, namespace=parsed.namespace)
    return StoredEndpoint(doc, kv.mod_revision)
