"""How calicoctl reports the outcome of a batch of resource writes.

The wording is upstream's (``calicoctl/commands/crud_commands.go``), because
scripts and docs depend on it:

* ``Successfully created 2 'IPPool' resource(s)`` (the kind is named only
  when every resource in the batch has the same kind);
* ``Partial success: created the first 1 out of 2 'IPPool' resources:``
  on stdout, then ``hit error: [<err> ...]`` on stderr and exit 1;
* ``failed to create 'IPPool' resource: [<err>]`` when nothing succeeded;
* ``Failed to delete 'IPPool' resource: <err>`` once per failed delete.

Lists of errors print as Go prints a ``[]error`` with ``%v``: ``[a b]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import click

from calico.ctl.errors import CommandError

PAST_TENSE = {
    "create": "created",
    "apply": "applied",
    "validate": "validated",
    "replace": "replaced",
    "delete": "deleted",
}


@dataclass
class Outcome:
    """What happened to each resource of a batch."""

    total: int
    kind: str  # the single kind of the batch, or "" when kinds are mixed
    handled: int = 0
    errors: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, kinds: Sequence[str]) -> Outcome:
        distinct = set(kinds)
        return cls(total=len(kinds), kind=distinct.pop() if len(distinct) == 1 else "")

    def done(self) -> None:
        self.handled += 1

    def fail(self, error: Exception | str) -> None:
        self.errors.append(str(error))


def go_errors(errors: Sequence[str]) -> str:
    """``[e1 e2]``: how Go's ``%v`` prints a slice of errors."""
    return "[" + " ".join(errors) + "]"


def report_batch(action: str, outcome: Outcome) -> None:
    """create / apply / validate: every resource was attempted."""
    past = PAST_TENSE[action]
    if outcome.total == 0:
        click.echo("No resources specified")
    elif outcome.handled == 0:
        raise CommandError(f"failed to {action} {_any(outcome)}: {go_errors(outcome.errors)}")
    elif not outcome.errors:
        click.echo(f"Successfully {past} {outcome.handled} {_kind(outcome)}resource(s)")
    else:
        click.echo(
            f"Partial success: {past} the first {outcome.handled} out of "
            f"{outcome.total} {_kind(outcome)}resources:"
        )
        raise CommandError(f"hit error: {go_errors(outcome.errors)}")


def report_replace(outcome: Outcome) -> None:
    """replace: stops at the first error, so there is at most one."""
    if outcome.total == 0:
        click.echo("No resources specified")
    elif not outcome.errors:
        click.echo(f"Successfully replaced {outcome.handled} {_kind(outcome)}resource(s)")
    elif outcome.handled == 0:
        raise CommandError(f"failed to replace {_any(outcome)}: {outcome.errors[0]}")
    else:
        click.echo(
            f"Partial success: replaced the first {outcome.handled} out of "
            f"{outcome.total} {_kind(outcome)}resources:"
        )
        raise CommandError(f"hit error: {outcome.errors[0]}")


def report_delete(outcome: Outcome) -> None:
    """delete: report the deleted count, then one line per failure."""
    if outcome.total == 0:
        click.echo("No resources specified")
        return
    if outcome.handled:
        click.echo(f"Successfully deleted {outcome.handled} {_kind(outcome)}resource(s)")
    if outcome.errors:
        what = f"'{outcome.kind}' resource" if outcome.kind else "resource"
        raise CommandError("\n".join(f"Failed to delete {what}: {e}" for e in outcome.errors))


def _kind(outcome: Outcome) -> str:
    return f"'{outcome.kind}' " if outcome.kind else ""


def _any(outcome: Outcome) -> str:
    if outcome.total == 1:
        return f"'{outcome.kind}' resource"
    if outcome.kind:
        return f"any '{outcome.kind}' resources"
    return "any resources"
