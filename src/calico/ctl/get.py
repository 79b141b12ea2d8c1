"""``calicoctl get``: list a kind, or fetch resources by name or from a file.

As ``calicoctl/commands/get_command.go``:

* ``get KIND`` lists (in ``default``, in ``-n NS``, or everywhere with
  ``-A``) and prints one result, a ``<Kind>List``;
* ``get KIND NAME...`` and ``get -f FILE`` print one result per resource
  found; the ones not found are reported on stderr *after* the output, one
  line each (``resource does not exist: IPPool(x) with error: <nil>``), and
  the exit status is 1;
* argument errors print ``failed to get resources: ...``.
"""

from __future__ import annotations

import click

from calico.client import Client
from calico.ctl.args import Target, check_names, file_options, lookup_kind, resolve_namespace
from calico.ctl.context import get_context
from calico.ctl.errors import CommandError
from calico.ctl.output import ResourceList, Result, format_results, parse_output
from calico.ctl.resources import load_resources
from calico.errors import CalicoError


@click.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@file_options
@click.option(
    "-o",
    "--output",
    default="ps",
    show_default=True,
    help="Output format: ps, wide, yaml, json or custom-columns=COL,...",
)
@click.option(
    "-A",
    "--all-namespaces",
    is_flag=True,
    help="List the requested object(s) across all namespaces.",
)
@click.option("-a", "all_namespaces_alias", is_flag=True, hidden=True)
@click.option("--export", is_flag=True, help="Strip cluster-specific metadata from the output.")
def get(
    kind: str | None,
    names: tuple[str, ...],
    filename: str | None,
    recursive: bool,
    skip_empty: bool,
    namespace: str,
    output: str,
    all_namespaces: bool,
    all_namespaces_alias: bool,
    export: bool,
) -> None:
    """Get resources by KIND [NAME...] or from a file, directory or stdin."""
    spec = parse_output(output)
    all_namespaces = all_namespaces or all_namespaces_alias
    if filename:
        loaded = load_resources(filename, recursive=recursive, skip_empty=skip_empty)
        results, errors = _fetch([Target.of(r) for r in loaded], namespace, all_namespaces)
    elif kind:
        results, errors = _by_kind(kind, names, namespace, all_namespaces)
    else:
        raise click.UsageError("give KIND [NAME...] or -f FILE")
    text = format_results(
        results, spec, print_namespace=all_namespaces or bool(namespace), export=export
    )
    click.echo(text, nl=False)
    if errors:
        raise CommandError("\n".join(errors))


def _by_kind(
    kind: str, names: tuple[str, ...], namespace: str, all_namespaces: bool
) -> tuple[list[Result], list[str]]:
    try:
        info = lookup_kind(kind)
        check_names(names)
    except CommandError as exc:
        raise CommandError(f"failed to get resources: {exc}") from None
    if names:
        return _fetch([Target(info.kind, name) for name in names], namespace, all_namespaces)
    try:
        ns = resolve_namespace(info, "", namespace, all_namespaces)
    except CommandError as exc:
        return [], [str(exc)]
    items, revision = _client().list_with_revision(info.kind, ns or None)
    return [ResourceList(info.kind, items, revision)], []


def _fetch(
    targets: list[Target], namespace: str, all_namespaces: bool
) -> tuple[list[Result], list[str]]:
    """Get each target; errors are collected, not raised, as upstream does."""
    results: list[Result] = []
    errors: list[str] = []
    for target in targets:
        client = _client()
        try:
            results.append(_get_one(client, target, namespace, all_namespaces))
        except (CalicoError, ValueError) as exc:
            errors.append(str(exc))
    return results, errors


def _get_one(client: Client, target: Target, namespace: str, all_namespaces: bool) -> Result:
    info = lookup_kind(target.kind)
    ns = resolve_namespace(info, target.namespace, namespace, all_namespaces)
    if info.namespaced and not ns:
        raise CommandError("cannot use --all-namespace flag for getting a single resource")
    return client.get(info.kind, target.name, ns)


def _client() -> Client:
    return get_context().client()
