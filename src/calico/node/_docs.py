"""Resource documents as calico-node start-up writes them, and the client calls around them."""

from __future__ import annotations

from typing import Any

from calico.client import Client
from calico.errors import AlreadyExistsError, NotFoundError
from calico.resources import API_VERSION, Resource, parse_resource

Document = dict[str, Any]


def new_doc(kind: str, name: str, spec: Document | None = None) -> Document:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec or {}}


def get_resource(client: Client, kind: str, name: str) -> Resource | None:
    try:
        return client.get(kind, name)
    except NotFoundError:
        return None


def create_if_missing(client: Client, doc: Document) -> bool:
    """Create ``doc`` unless its resource exists; True if we created it."""
    if get_resource(client, doc["kind"], doc["metadata"]["name"]) is not None:
        return False
    try:
        client.create(parse_resource(doc))
    except AlreadyExistsError:
        return False  # another node got there first
    return True
