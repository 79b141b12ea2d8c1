"""What every ``calico lab`` command shares: the consoles, ``--name``, a spinner.

Results go to stdout (``out``); progress spinners, warnings and errors to
stderr (``err``), so scripts can capture stdout alone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console

DEFAULT_LAB = "calico"
EXIT_USAGE = 2
_PIPED_WIDTH = 160

# Piped output is not cut at 80 columns: scripts and logs read it whole.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _PIPED_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_F = TypeVar("_F", bound=Callable[..., Any])


def name_option(func: _F) -> _F:
    return click.option(
        "--name",
        default=DEFAULT_LAB,
        show_default=True,
        help="Which lab (several can coexist).",
    )(func)


@contextmanager
def spinner(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr; the yielded function changes its text."""
    with err.status(text) as status:
        yield lambda message: status.update(f"{text}: {message}")


def labels_text(labels: Mapping[str, str]) -> str:
    """``(k=v, k2=v2)``, sorted, or ``(no labels)``."""
    return "(" + (", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels") + ")"
