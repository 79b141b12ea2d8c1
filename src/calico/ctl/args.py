"""Argument handling shared by calicoctl's resource commands.

* ``KIND`` accepts every alias of a kind (``ippool``, ``ipp``, ``pools``, ...).
* :func:`resolve_namespace` is upstream's ``handleNamespace``
  (``commands/common/resources.go``): which namespace a resource ends up in,
  given the namespace in the resource, ``-n`` and ``-A``, with the same
  messages.
* :class:`Target` names one resource without needing its spec (what ``get``
  and ``delete`` work on).
* :func:`file_options` is the ``-f/-R/--skip-empty/-n/-c`` set every
  file-driven command takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from calico.ctl.context import global_options
from calico.ctl.errors import CommandError
from calico.errors import CalicoError
from calico.resources import KindInfo, Resource, kind_info

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Target:
    """One resource by identity; ``resource_version`` only when the input had one."""

    kind: str
    name: str
    namespace: str = ""
    resource_version: str | None = None

    @classmethod
    def of(cls, res: Resource) -> Target:
        return cls(res.kind, res.name, res.namespace, res.metadata.resource_version or None)


def lookup_kind(kind: str) -> KindInfo:
    """The kind named by ``kind`` (any alias, any case)."""
    try:
        return kind_info(kind)
    except (CalicoError, KeyError, ValueError):
        raise CommandError(f"resource type '{kind}' is not supported") from None


def check_names(names: tuple[str, ...] | list[str]) -> None:
    if any(not name for name in names):
        raise CommandError("resource name may not be empty")


def resolve_namespace(
    info: KindInfo, resource_ns: str, cli_ns: str, all_namespaces: bool = False
) -> str:
    """The namespace to use; "" for cluster-scoped kinds and for ``-A`` listings.

    Raises:
        CommandError: ``-n`` and ``-A`` together, a namespace that contradicts
            ``-n``, or a namespace on a cluster-scoped kind.
    """
    if not info.namespaced:
        if resource_ns:
            raise CommandError(
                "namespace should not be specified for a non-namespaced resource. "
                f"{info.kind} is not a namespaced resource"
            )
        if all_namespaces or cli_ns:
            raise CommandError(f"{info.kind} is not namespaced")
        return ""
    if all_namespaces and cli_ns:
        raise CommandError(
            "cannot use both --namespace and --all-namespaces flags at the same time"
        )
    if all_namespaces:
        return ""
    if not resource_ns:
        return cli_ns or "default"
    if cli_ns and cli_ns != resource_ns:
        raise CommandError(
            f"resource namespace does not match client namespace. {resource_ns} != {cli_ns}"
        )
    return resource_ns


def file_options(func: _F) -> _F:
    """``-f FILE|-|DIR``, ``-R``, ``--skip-empty``, ``-n NS`` and ``-c FILE``."""
    decorators = (
        click.option(
            "-f",
            "--filename",
            metavar="FILE",
            help="Filename to use (a file, a directory, or '-' for stdin).",
        ),
        click.option(
            "-R",
            "--recursive",
            is_flag=True,
            help="Process the directory given with -f recursively.",
        ),
        click.option("--skip-empty", is_flag=True, help="Do not error if files contain no data."),
        click.option(
            "-n", "--namespace", default="", metavar="NS", help="Namespace of the resource."
        ),
        global_options,
    )
    for decorate in reversed(decorators):
        func = decorate(func)
    return func
