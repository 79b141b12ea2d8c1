"""Who can reach whom: one probe per ordered pair of workloads, in parallel.

``run(workloads, port, protocol)`` probes every ordered pair (a workload
never probes itself) with ``calico.lab.probe`` from the source's namespace
to the destination's address. Each probe is a short-lived client process
that mostly waits (on the reply, or on its timeout when policy drops the
traffic), so a thread pool overlaps them; the pool stays small because each
client costs ~60 ms of CPU to start, and CI machines have two cores.

The result is ``{"port": P, "protocol": "tcp", "results": {src: {dst: bool}}}``
(``-o json``), or a table: sources down, destinations across, ✓ green for
reachable and ✗ red for blocked. Given an expectation, cells that differ
from it are marked ``≠`` on a yellow background, so a failed check is
visible at a glance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text

from calico.lab.probe import probe
from calico.lab.workload import Workload

Results = dict[str, dict[str, bool]]
DEFAULT_TIMEOUT = 1.0
MAX_WORKERS = 8


@dataclass(frozen=True)
class Matrix:
    port: int
    protocol: str
    names: tuple[str, ...]  # the workloads, in row/column order
    results: Results

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "protocol": self.protocol, "results": self.results}

    def differences(self, expected: Results) -> list[str]:
        """``src -> dst: expected reachable, got blocked`` for every cell that differs."""
        found = []
        for src, row in expected.items():
            for dst, want in row.items():
                got = self.results.get(src, {}).get(dst)
                if got != want:
                    found.append(f"{src} -> {dst}: expected {_word(want)}, got {_word(got)}")
        return found


def _word(value: bool | None) -> str:
    return "not probed" if value is None else "reachable" if value else "blocked"


def run(
    workloads: Sequence[Workload],
    port: int = 80,
    protocol: str = "tcp",
    timeout: float = DEFAULT_TIMEOUT,
) -> Matrix:
    """Probe every ordered pair of ``workloads`` (raises what ``probe`` raises)."""
    pairs = [(src, dst) for src in workloads for dst in workloads if src.name != dst.name]

    def one(pair: tuple[Workload, Workload]) -> bool:
        src, dst = pair
        return probe(src.netns, dst.ip, port, protocol, timeout)

    results: Results = {w.name: {} for w in workloads}
    if pairs:
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(pairs))) as pool:
            for (src, dst), ok in zip(pairs, pool.map(one, pairs), strict=True):
                results[src.name][dst.name] = ok
    return Matrix(port, protocol, tuple(w.name for w in workloads), results)


def expected(names: Sequence[str], allowed: Callable[[str, str], bool]) -> Results:
    """The truth table ``allowed(src, dst)`` over every ordered pair of ``names``."""
    return {s: {d: allowed(s, d) for d in names if d != s} for s in names}


def table(matrix: Matrix, expect: Mapping[str, Mapping[str, bool]] | None = None) -> Table:
    """The matrix as a rich table (sources down, destinations across)."""
    title = f"{matrix.protocol.upper()} port {matrix.port}"
    grid = Table(title=title, show_lines=False, header_style="bold")
    grid.add_column("from \\ to", style="bold")
    for name in matrix.names:
        grid.add_column(name, justify="center")
    for src in matrix.names:
        row = matrix.results.get(src, {})
        cells = [_cell(row.get(dst), (expect or {}).get(src, {}).get(dst)) for dst in matrix.names]
        grid.add_row(src, *cells)
    return grid


def _cell(got: bool | None, want: bool | None) -> Text:
    if got is None:
        return Text("·", style="dim")
    mark = Text("✓", style="bold green") if got else Text("✗", style="bold red")
    if want is not None and want != got:
        mark = Text(f"{mark.plain}≠", style="bold black on yellow")
    return mark
