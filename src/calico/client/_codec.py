"""How a resource becomes a datastore value and back, and the errors that name it.

Stored form (``clientv3/resources.go`` ``resourceToKVPair`` /
``kvPairToResource``): the compact JSON of ``Resource.to_dict()`` (full,
defaulted) *without* ``resourceVersion``, which is the key's
``mod_revision`` and is stamped back on every read.

Error wording is libcalico-go's (``lib/errors/errors.go`` as raised by the
etcdv3 backend), because scripts grep for it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from calico.datastore import KV
from calico.datastore.keys import resource_key
from calico.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from calico.resources import API_VERSION, Resource, kind_info, parse_resource, resource_label

Document = dict[str, Any]


def identity(kind: str, name: str, namespace: str) -> tuple[str, str]:
    """Canonical kind and effective namespace (namespaced kinds default to ``default``)."""
    info = kind_info(kind)
    if not name:
        raise ValidationError("resource name may not be empty", field="metadata.name")
    if info.namespaced:
        return info.kind, namespace or "default"
    if namespace:
        raise ValidationError(
            f"namespace should not be specified for a non-namespaced resource. "
            f"{info.kind} is not a namespaced resource",
            field="metadata.namespace",
            value=namespace,
        )
    return info.kind, ""


def to_document(res: Resource) -> Document:
    """The resource as a dict, with its identity normalised (kind, namespace)."""
    doc = res.to_dict()
    meta = doc.setdefault("metadata", {})
    kind, namespace = identity(res.kind, meta.get("name", ""), meta.get("namespace", ""))
    doc["apiVersion"], doc["kind"] = API_VERSION, kind
    if namespace:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    return doc


def encode(doc: Document) -> str:
    meta = {k: v for k, v in doc["metadata"].items() if k != "resourceVersion"}
    return json.dumps({**doc, "metadata": meta}, separators=(",", ":"))


def decode(kv: KV) -> Resource:
    return parse_stored(kv.key, kv.value, kv.mod_revision)


def parse_stored(key: str, value: str, revision: int) -> Resource:
    """The resource stored under ``key``, stamped with ``revision`` as its version."""
    try:
        doc = json.loads(value)
        doc.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return parse_resource(doc)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValidationError(f"failed to parse datastore entry key={key}: {exc}") from None


def stamped(doc: Document, revision: int) -> Resource:
    """The resource just written as ``doc`` at ``revision``."""
    doc["metadata"]["resourceVersion"] = str(revision)
    return parse_resource(doc)


def key_of(doc: Document) -> str:
    meta = doc["metadata"]
    return resource_key(doc["kind"], meta["name"], meta.get("namespace", ""))


def label_of(doc: Document) -> str:
    """``Kind(ns/name)``, as libcalico-go's ResourceKey prints."""
    meta = doc.get("metadata", {})
    return resource_label(doc["kind"], meta.get("name", ""), meta.get("namespace", ""))


def parse_version(version: str, doc: Document) -> int:
    try:
        return int(version)
    except ValueError:
        raise ValidationError(
            "must be a datastore revision number",
            field="metadata.resourceVersion",
            value=version,
            resource=label_of(doc),
        ) from None


def now() -> str:
    """RFC 3339 UTC to the second, as Kubernetes' metav1.Time marshals."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def missing(kind: str, name: str, namespace: str, key: str) -> NotFoundError:
    label = resource_label(kind, name, namespace)
    return NotFoundError(f"resource does not exist: {label} with error: <nil>", key=key)


def exists(doc: Document, key: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"resource already exists: {label_of(doc)} with error: <nil>", key=key
    )


def conflict(doc: Document, key: str) -> ConflictError:
    return ConflictError(f"update conflict: {label_of(doc)}", key=key)
