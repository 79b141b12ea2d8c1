"""The tour's bookkeeping: chapters on screen, every check recorded, a summary.

``Tour.check`` prints a ✓ or ✗ line and records it; the summary at the end
lists every check and how many passed, and ``calico lab demo`` exits 1 if
any failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table


@dataclass
class Tour:
    """One run of the tour: its lab's name, the console, the checks so far."""

    name: str  # the lab's
    console: Console
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def chapter(self, title: str, text: str) -> None:
        self.console.rule(f"[bold cyan]{title}")
        self.console.print(Panel(text, border_style="cyan"))

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((what, ok, detail))
        mark = "[bold green]✓[/]" if ok else "[bold red]✗[/]"
        suffix = f" [dim]({escape(detail)})[/]" if detail else ""
        self.console.print(f"{mark} {escape(what)}{suffix}")
        return ok

    @property
    def failed(self) -> list[tuple[str, bool, str]]:
        return [c for c in self.checks if not c[1]]


def summary(tour: Tour, seconds: float) -> None:
    """Every check, ✓ or ✗, and how many passed in how long."""
    tour.console.rule("[bold]Summary")
    table = Table("", "check", header_style="bold")
    for what, ok, detail in tour.checks:
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        table.add_row(mark, escape(what) + (f" [dim]({escape(detail)})[/]" if not ok else ""))
    tour.console.print(table)
    passed = len(tour.checks) - len(tour.failed)
    colour = "green" if not tour.failed else "red"
    tour.console.print(
        f"[bold {colour}]{passed}/{len(tour.checks)} checks passed[/] in {seconds:.0f}s."
    )
