"""``calicoctl patch`` and ``calicoctl label``: change one existing resource in place.

Both read the resource, change a copy, validate it, and write it back with
compare-and-swap on the version they read, so a concurrent change is
reported as ``update conflict`` rather than silently overwritten.

``patch`` applies a JSON merge patch (RFC 7386).  Upstream accepts
``-t strategic|json|merge`` but always performs a strategic merge, which for
Calico's types (no patch-merge keys) is a merge patch; ``-t json`` (RFC 6902)
is refused here rather than silently treated as a merge.  A patch may change
``spec``, ``labels`` and ``annotations``; the identity and server-owned
metadata (name, namespace, uid, creationTimestamp) always stay as stored.

Messages follow ``crud_commands.go`` and ``label_command.go``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from calico.ctl.args import check_names, lookup_kind, resolve_namespace
from calico.ctl.context import get_context, global_options
from calico.ctl.errors import CommandError
from calico.errors import CalicoError
from calico.resources import KindInfo, Resource, parse_resource

PATCHABLE_METADATA = ("labels", "annotations")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def patched_resource(current: Resource, patch_text: str) -> Resource:
    """``current`` with the merge patch applied and validated."""
    try:
        patch = json.loads(patch_text)
    except ValueError as exc:
        raise CommandError(f"performing merge patch: --patch is not valid JSON: {exc}") from None
    if not isinstance(patch, dict):
        raise CommandError(
            f"performing merge patch: --patch must be a JSON object, got {patch_text.strip()!r}"
        )
    original = current.to_dict()
    doc = merge_patch(original, patch)
    meta = dict(original["metadata"])
    for field in PATCHABLE_METADATA:
        meta.pop(field, None)
        value = doc.get("metadata", {}).get(field)
        if value:
            meta[field] = value
    doc.update(apiVersion=original["apiVersion"], kind=original["kind"], metadata=meta)
    try:
        return parse_resource(doc)
    except (CalicoError, ValueError) as exc:
        raise CommandError(f"creating resource from patched data: {exc}") from None


@click.command()
@click.argument("kind")
@click.argument("name")
@click.option("-p", "--patch", "patch_text", required=True, help="JSON merge patch to apply.")
@click.option(
    "-t",
    "--type",
    "patch_type",
    type=click.Choice(["strategic", "merge", "json"]),
    default="strategic",
    show_default=True,
    help="Patch type; strategic and merge are both applied as a JSON merge patch.",
)
@click.option("-n", "--namespace", default="", metavar="NS", help="Namespace of the resource.")
@global_options
def patch(kind: str, name: str, patch_text: str, patch_type: str, namespace: str) -> None:
    """Patch a pre-existing resource in place."""
    if patch_type == "json":
        raise CommandError("patch type json is not supported; use a merge patch (-t merge)")
    info, ns = _identify(kind, name, namespace)
    client = get_context().client()
    try:
        current = client.get(info.kind, name, ns)
        updated = patched_resource(current, patch_text)
        try:
            client.update(updated)
        except (CalicoError, ValueError) as exc:
            raise CommandError(f"updating existing resource: {exc}") from None
    except (CalicoError, ValueError) as exc:
        raise CommandError(f"hit error: {exc}") from None
    click.echo(f"Successfully patched 1 '{info.kind}' resource")


@click.command()
@click.argument("kind")
@click.argument("name")
@click.argument("label")
@click.option("--overwrite", is_flag=True, help="Overwrite the value when the key is present.")
@click.option("--remove", is_flag=True, help="Remove the specified key from labels.")
@click.option("-n", "--namespace", default="", metavar="NS", help="Namespace of the resource.")
@global_options
def label(kind: str, name: str, label: str, overwrite: bool, remove: bool, namespace: str) -> None:
    """Add, update (--overwrite) or remove (KEY --remove) a label of a resource."""
    key, value = _parse_label(label, remove)
    try:
        info, ns = _identify(kind, name, namespace)
    except CommandError as exc:
        raise CommandError(f"failed to get {kind} {name}, error {exc}") from None
    client = get_context().client()
    try:
        current = client.get(info.kind, name, ns)
    except (CalicoError, ValueError):
        raise CommandError(f"{kind} {name} not found") from None
    labels = dict(current.to_dict()["metadata"].get("labels") or {})
    verb = _change_labels(labels, key, value, remove, overwrite, f"{kind} {name}")
    try:
        updated = _with_labels(current, labels)
        client.update(updated)
    except (CalicoError, ValueError) as exc:
        raise CommandError(f"failed to update {kind} {name}, label not changed: {exc}") from None
    preposition = "from" if remove else "on"
    click.echo(f"Successfully {verb} label {key} {preposition} {kind} {name}")


def _identify(kind: str, name: str, namespace: str) -> tuple[KindInfo, str]:
    info = lookup_kind(kind)
    check_names([name])
    return info, resolve_namespace(info, "", namespace)


def _parse_label(text: str, remove: bool) -> tuple[str, str]:
    if remove:
        return text, ""
    key, sep, value = text.partition("=")
    if not sep:
        raise CommandError(f"invalid label {text}")
    return key, value


def _change_labels(
    labels: dict[str, str], key: str, value: str, remove: bool, overwrite: bool, what: str
) -> str:
    """Apply the change to ``labels``; returns the verb for the success message."""
    if remove:
        if key not in labels:
            raise CommandError(f"cannot remove label of {what}, key {key} does not exist")
        del labels[key]
        return "removed"
    if key not in labels:
        labels[key] = value
        return "set"
    if not overwrite and labels[key] != value:
        raise CommandError(
            f"failed to update label of {what}, key {key} is already present. "
            "please use '--overwrite' to set a new value"
        )
    labels[key] = value
    return "updated"


def _with_labels(res: Resource, labels: dict[str, str]) -> Resource:
    doc = res.to_dict()
    if labels:
        doc["metadata"]["labels"] = labels
    else:
        doc["metadata"].pop("labels", None)
    return parse_resource(doc)
