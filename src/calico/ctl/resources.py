"""calicoctl's file-driven resource commands: create, apply, replace, delete, validate.

Flow of every command (``calicoctl/commands/common/resources.go``
``ExecuteConfigCommand``, made all-or-nothing for bad input):

1. read every ``-f`` input (file, ``-``, directory with ``-R``);
2. split it into raw documents, pass each through :func:`convert_document`
   (the single hook where non-Calico kinds are turned into Calico ones), and
   validate *all* of them -- any invalid resource fails the command before
   anything is written, naming the file, the resource's position and the
   field (``pools.yaml resource 2: IPPool(p2): field spec.cidr: ...``);
3. settle each resource's namespace (``-n``, default ``default``);
4. act on each resource in order, then report as upstream does
   (:mod:`calico.ctl._report`).

``get`` lives in :mod:`calico.ctl.get`; ``patch`` and ``label`` in
:mod:`calico.ctl.edit`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import click

from calico import k8s
from calico.client import Client
from calico.ctl._report import Outcome, report_batch, report_delete, report_replace
from calico.ctl.args import Target, check_names, file_options, lookup_kind, resolve_namespace
from calico.ctl.context import get_context
from calico.ctl.errors import CommandError, InputError
from calico.ctl.files import Manifest, read_manifests
from calico.errors import AlreadyExistsError, CalicoError, NotFoundError
from calico.resources import Resource, load_documents, parse_resource

__all__ = ["apply", "convert_document", "create", "delete", "load_resources", "replace", "validate"]

RawDocument = dict[str, Any]


def convert_document(raw: RawDocument) -> list[RawDocument]:
    """Turn one raw input document into the ``projectcalico.org/v3`` documents it means.

    This is the hook for kinds calicoctl accepts but does not store as such
    (Kubernetes ``v1 Namespace`` becomes Profile ``kns.<ns>``,
    ``networking.k8s.io/v1 NetworkPolicy`` becomes NetworkPolicy
    ``knp.default.<name>``, as Calico's Kubernetes datastore converts them);
    every other document stands for itself.
    """
    return k8s.convert_document(raw)


def load_resources(filename: str, *, recursive: bool, skip_empty: bool) -> list[Resource]:
    """Read, convert and validate every resource named by ``-f``.

    Raises:
        InputError: unreadable input or an invalid document (nothing is written).
        CommandError: no resources found (unless ``skip_empty``).
    """
    try:
        manifests = read_manifests(filename, recursive=recursive, stdin=sys.stdin)
    except InputError as exc:
        raise InputError(f"failed to execute command: {exc}") from None
    resources: list[Resource] = []
    for manifest in manifests:
        found = _parse_manifest(manifest)
        if not found and not skip_empty:
            raise CommandError(f"no resources specified in file {manifest.source}")
        resources.extend(found)
    if not resources and not skip_empty:
        raise CommandError(f"no resources specified in directory {filename}")
    return resources


def _parse_manifest(manifest: Manifest) -> list[Resource]:
    try:
        raws = load_documents(manifest.text, manifest.source)
    except (CalicoError, ValueError) as exc:
        raise InputError(f"failed to execute command: {exc}") from None
    resources: list[Resource] = []
    # Numbered among the resources of the file (a list document holds several),
    # since load_documents does not say which document each came from.
    for number, raw in enumerate(raws, start=1):
        try:
            resources.extend(parse_resource(doc) for doc in convert_document(raw))
        except (CalicoError, ValueError) as exc:
            where = f"{manifest.source} resource {number}"
            raise InputError(f"failed to execute command: {where}: {exc}") from None
    return resources


def _load_for_write(
    filename: str | None, recursive: bool, skip_empty: bool, namespace: str
) -> list[Resource]:
    if not filename:
        raise click.UsageError("a file is required: -f FILE, -f DIR or -f - for stdin")
    loaded = load_resources(filename, recursive=recursive, skip_empty=skip_empty)
    return [_in_namespace(res, namespace) for res in loaded]


def _in_namespace(res: Resource, cli_ns: str) -> Resource:
    info = lookup_kind(res.kind)
    wanted = resolve_namespace(info, res.namespace, cli_ns)
    if wanted == res.namespace:
        return res
    return _with_metadata(res, namespace=wanted)


def _with_metadata(res: Resource, **changes: Any) -> Resource:
    """A copy of ``res`` with metadata fields (camelCase) set, or removed when None."""
    doc = res.to_dict()
    meta = doc.setdefault("metadata", {})
    for name, value in changes.items():
        if value is None:
            meta.pop(name, None)
        else:
            meta[name] = value
    return parse_resource(doc)


def _fresh(res: Resource) -> Resource:
    """Drop server-owned metadata before a create (resourcemgr ``prepareMetadataForCreate``)."""
    if res.metadata.uid or res.metadata.creation_timestamp:
        return _with_metadata(res, uid=None, creationTimestamp=None)
    return res


Step = tuple[str, Callable[[Client], object]]  # (kind, what to do with the client)


def _run_batch(
    steps: Sequence[Step],
    *,
    skip: type[Exception] | None = None,
    stop_on_error: bool = False,
) -> Outcome:
    """Run every step, collecting per-resource errors (``skip`` ones count as done)."""
    outcome = Outcome.start([kind for kind, _ in steps])
    state = get_context()
    for _, act in steps:
        client = state.client()  # opened on first use: nothing to do, no datastore
        try:
            act(client)
        except (CalicoError, ValueError) as exc:
            if skip is None or not isinstance(exc, skip):
                outcome.fail(exc)
                if stop_on_error:
                    break
                continue
        outcome.done()
    return outcome


def _create_one(res: Resource, client: Client) -> object:
    return client.create(_fresh(res))


def _apply_one(res: Resource, client: Client) -> object:
    if res.kind == "ClusterInformation":
        raise CommandError(
            "operation apply is not supported on ClusterInformation: resource is readonly"
        )
    return client.apply(_fresh(res))


def _replace_one(res: Resource, client: Client) -> object:
    return client.update(res)


def _delete_one(target: Target, client: Client) -> object:
    return client.delete(target.kind, target.name, target.namespace, target.resource_version)


def _steps(resources: list[Resource], act: Callable[[Resource, Client], object]) -> list[Step]:
    return [(res.kind, partial(act, res)) for res in resources]


@click.command()
@file_options
@click.option("--skip-exists", is_flag=True, help="Skip over resources that already exist.")
def create(
    filename: str | None, recursive: bool, skip_empty: bool, namespace: str, skip_exists: bool
) -> None:
    """Create resources from a file, directory or stdin; fails for existing ones."""
    resources = _load_for_write(filename, recursive, skip_empty, namespace)
    skip = AlreadyExistsError if skip_exists else None
    report_batch("create", _run_batch(_steps(resources, _create_one), skip=skip))


@click.command()
@file_options
def apply(filename: str | None, recursive: bool, skip_empty: bool, namespace: str) -> None:
    """Create or update resources from a file, directory or stdin."""
    resources = _load_for_write(filename, recursive, skip_empty, namespace)
    report_batch("apply", _run_batch(_steps(resources, _apply_one)))


@click.command()
@file_options
def replace(filename: str | None, recursive: bool, skip_empty: bool, namespace: str) -> None:
    """Replace existing resources from a file, directory or stdin."""
    resources = _load_for_write(filename, recursive, skip_empty, namespace)
    report_replace(_run_batch(_steps(resources, _replace_one), stop_on_error=True))


@click.command()
@file_options
def validate(filename: str | None, recursive: bool, skip_empty: bool, namespace: str) -> None:
    """Validate resources from a file, directory or stdin without applying them."""
    resources = _load_for_write(filename, recursive, skip_empty, namespace)
    outcome = Outcome.start([res.kind for res in resources])
    outcome.handled = len(resources)
    report_batch("validate", outcome)


@click.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@file_options
@click.option(
    "-s", "--skip-not-exists", is_flag=True, help="Skip over resources that do not exist."
)
def delete(
    kind: str | None,
    names: tuple[str, ...],
    filename: str | None,
    recursive: bool,
    skip_empty: bool,
    namespace: str,
    skip_not_exists: bool,
) -> None:
    """Delete resources by KIND NAME... or from a file, directory or stdin."""
    targets = _delete_targets(kind, names, filename, recursive, skip_empty, namespace)
    steps = [(t.kind, partial(_delete_one, t)) for t in targets]
    report_delete(_run_batch(steps, skip=NotFoundError if skip_not_exists else None))


def _delete_targets(
    kind: str | None,
    names: tuple[str, ...],
    filename: str | None,
    recursive: bool,
    skip_empty: bool,
    namespace: str,
) -> list[Target]:
    if filename:
        if kind:
            raise click.UsageError("give either KIND NAME... or -f FILE, not both")
        loaded = _load_for_write(filename, recursive, skip_empty, namespace)
        return [Target.of(res) for res in loaded]
    if not kind or not names:
        raise click.UsageError("give KIND NAME... or -f FILE")
    info = lookup_kind(kind)
    check_names(names)
    ns = resolve_namespace(info, "", namespace)
    return [Target(info.kind, name, ns) for name in names]
