"""The Client: typed CRUD, list and watch of v3 resources, every write compare-and-swap."""

from __future__ import annotations

import builtins
import copy
import uuid
from collections.abc import Callable
from typing import TypeVar

from calico.client import _codec as codec
from calico.client._codec import Document
from calico.client._watch import ResourceWatcher
from calico.datastore import KV, Datastore
from calico.datastore.keys import kind_prefix, resource_key
from calico.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from calico.resources import API_VERSION, DEFAULT_TIER, Resource, kind_info, parse_resource

# Kinds whose ``spec.tier`` names a Tier that must exist (clientv3 networkpolicy.go).
TIERED_KINDS = frozenset(
    {"NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy"}
)
DEFAULT_TIER_ORDER = 1_000_000  # v3.DefaultTierOrder
UPDATE_ATTEMPTS = 5  # resourcemgr.go retries a version-less update five times

_T = TypeVar("_T")


class Client:
    """Typed access to Calico resources stored in ``datastore``.

    ``kind`` arguments accept any name calicoctl accepts (``IPPool``,
    ``ippools``, ``pool``); namespaced kinds default to namespace ``default``.
    """

    def __init__(self, datastore: Datastore) -> None:
        self._store = datastore

    @property
    def datastore(self) -> Datastore:
        return self._store

    # -- reads ------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str = "") -> Resource:
        """The stored resource.  NotFoundError if it does not exist."""
        kind, namespace = codec.identity(kind, name, namespace)
        return codec.decode(self._read(kind, name, namespace))

    def list(self, kind: str, namespace: str | None = None) -> builtins.list[Resource]:
        """Every ``kind`` resource (in ``namespace``; None or "" = all namespaces)."""
        return self.list_with_revision(kind, namespace)[0]

    def list_with_revision(
        self, kind: str, namespace: str | None = None
    ) -> tuple[builtins.list[Resource], int]:
        """As :meth:`list`, plus the store revision the snapshot was taken at."""
        prefix = kind_prefix(kind_info(kind).kind, namespace or "")
        items, revision = self._store.list(prefix)
        return [codec.decode(kv) for kv in items], revision

    def watch(
        self, kind: str, namespace: str | None = None, revision: int | None = None
    ) -> ResourceWatcher:
        """Changes to ``kind`` resources from ``revision`` on (default: from now).

        Snapshot-then-watch: ``list_with_revision`` then ``watch(revision=rev + 1)``.
        """
        prefix = kind_prefix(kind_info(kind).kind, namespace or "")
        start = self._store.current_revision() + 1 if revision is None else revision
        return ResourceWatcher(self._store.watch(prefix, start))

    # -- writes -----------------------------------------------------------
    def create(self, res: Resource) -> Resource:
        """Store a new resource.  AlreadyExistsError if it exists.

        Sets ``uid`` and ``creationTimestamp`` when empty; refuses a
        ``resourceVersion`` (as clientv3 does: a create has no prior version).
        A policy's tier must exist, except ``default``, created on first use.
        """
        doc = codec.to_document(res)
        if doc["metadata"].pop("resourceVersion", None):
            raise ValidationError(
                "must not be set for a create request",
                field="metadata.resourceVersion",
                value=res.metadata.resource_version,
                resource=codec.label_of(doc),
            )
        return self._create(doc)

    def update(self, res: Resource) -> Resource:
        """Replace an existing resource (compare-and-swap).

        With ``metadata.resourceVersion`` set, the write succeeds only if the
        stored object still has that version (ConflictError otherwise).
        Without it, the latest version is read and the write retried on
        conflict.  ``uid`` and ``creationTimestamp`` are kept from the stored
        object; labels and annotations are the caller's.  NotFoundError if the
        resource does not exist.
        """
        doc = codec.to_document(res)
        return self._update(doc, doc["metadata"].pop("resourceVersion", None))

    def apply(self, res: Resource) -> Resource:
        """Create the resource, or update it if it exists.

        As calicoctl's apply: a ``resourceVersion`` is ignored by the create
        attempt and honoured (compare-and-swap) by the update.
        """
        doc = codec.to_document(res)
        wanted = doc["metadata"].pop("resourceVersion", None)
        try:
            return self._create(copy.deepcopy(doc))
        except AlreadyExistsError:
            return self._update(doc, wanted)

    def delete(
        self, kind: str, name: str, namespace: str = "", resource_version: str | None = None
    ) -> Resource:
        """Delete and return the resource.  With ``resource_version``, only that version."""
        kind, namespace = codec.identity(kind, name, namespace)
        if resource_version:
            probe = {"kind": kind, "metadata": {"name": name, "namespace": namespace}}
            expected = codec.parse_version(resource_version, probe)
            return self._delete_once(kind, name, namespace, expected)
        return _retry_on_conflict(lambda: self._delete_once(kind, name, namespace, None))

    # -- internals --------------------------------------------------------
    def _read(self, kind: str, name: str, namespace: str) -> KV:
        key = resource_key(kind, name, namespace)
        kv = self._store.get(key)
        if kv is None:
            raise codec.missing(kind, name, namespace, key)
        return kv

    def _create(self, doc: Document) -> Resource:
        meta = doc["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", codec.now())
        self._check_tier(doc)
        key = codec.key_of(doc)
        try:
            revision = self._store.create(key, codec.encode(doc))
        except AlreadyExistsError:
            raise codec.exists(doc, key) from None
        return codec.stamped(doc, revision)

    def _update(self, doc: Document, wanted: str | None) -> Resource:
        if wanted:
            return self._update_once(doc, codec.parse_version(wanted, doc))
        return _retry_on_conflict(lambda: self._update_once(doc, None))

    def _update_once(self, doc: Document, expected: int | None) -> Resource:
        meta = doc["metadata"]
        kind, name, namespace = doc["kind"], meta["name"], meta.get("namespace", "")
        current = self._read(kind, name, namespace)
        if expected is not None and current.mod_revision != expected:
            raise codec.conflict(doc, current.key)
        stored = codec.decode(current).metadata
        for field, value in (("uid", stored.uid), ("creationTimestamp", stored.creation_timestamp)):
            if value:
                meta[field] = value
            else:
                meta.pop(field, None)
        try:
            revision = self._store.update(current.key, codec.encode(doc), current.mod_revision)
        except ConflictError:
            raise codec.conflict(doc, current.key) from None
        except NotFoundError:
            raise codec.missing(kind, name, namespace, current.key) from None
        return codec.stamped(doc, revision)

    def _delete_once(self, kind: str, name: str, namespace: str, expected: int | None) -> Resource:
        current = self._read(kind, name, namespace)
        resource = codec.decode(current)
        if expected is not None and current.mod_revision != expected:
            raise codec.conflict(resource.to_dict(), current.key)
        try:
            self._store.delete(current.key, current.mod_revision)
        except ConflictError:
            raise codec.conflict(resource.to_dict(), current.key) from None
        except NotFoundError:
            raise codec.missing(kind, name, namespace, current.key) from None
        return resource

    def _check_tier(self, doc: Document) -> None:
        """A policy's tier must exist; the ``default`` tier is created on first use."""
        if doc["kind"] not in TIERED_KINDS:
            return
        tier = doc.get("spec", {}).get("tier") or DEFAULT_TIER
        if tier != DEFAULT_TIER:
            self._read("Tier", tier, "")
        elif self._store.get(resource_key("Tier", DEFAULT_TIER)) is None:
            try:
                self.create(_default_tier())
            except AlreadyExistsError:
                pass  # another writer got there first


def _default_tier() -> Resource:
    return parse_resource(
        {
            "apiVersion": API_VERSION,
            "kind": "Tier",
            "metadata": {"name": DEFAULT_TIER},
            "spec": {"order": DEFAULT_TIER_ORDER, "defaultAction": "Deny"},
        }
    )


def _retry_on_conflict(attempt: Callable[[], _T]) -> _T:
    for _ in range(UPDATE_ATTEMPTS - 1):
        try:
            return attempt()
        except ConflictError:
            continue
    return attempt()
