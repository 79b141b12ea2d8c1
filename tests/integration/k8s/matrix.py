"""Reachability matrices over the 9 pods x/a .. z/c, as Kubernetes' netpol e2e tests use them.

A matrix is written by hand in the test as a grid: rows are the client
(``from``), columns the server (``to``), ``.`` means the connection must
succeed, ``X`` that it must fail, ``-`` (the diagonal) is not probed: a pod
talking to its own address never leaves its namespace, so no policy applies.

    Grid.parse('''
            x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  -   X   X   .   .   .   .   .   .
        ...
    ''')

Observed matrices come from real probes (``K8sCluster.observe``); a mismatch
is shown as the observed grid with every wrong cell marked ``!``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
PODS = tuple(f"{ns}/{pod}" for ns in NAMESPACES for pod in POD_NAMES)
PAIRS = tuple((src, dst) for src in PODS for dst in PODS if src != dst)

Pair = tuple[str, str]


@dataclass(frozen=True, repr=False)
class Grid:
    """Expected or observed reachability of every ordered pair of distinct pods."""

    allowed: frozenset[Pair]

    def __repr__(self) -> str:
        return f"<Grid: {len(self.allowed)} of {len(PAIRS)} pairs allowed>"

    @classmethod
    def parse(cls, text: str) -> Grid:
        return cls(frozenset(_parse(text)))

    @classmethod
    def of(cls, allowed: Iterable[Pair]) -> Grid:
        return cls(frozenset(allowed))

    def render(self, wrong: frozenset[Pair] = frozenset()) -> str:
        lines = ["     " + " ".join(f"{pod:>3}" for pod in PODS)]
        for src in PODS:
            cells = [_cell(src, dst, self.allowed, wrong) for dst in PODS]
            lines.append(f"{src:>4} " + " ".join(f"{cell:>3}" for cell in cells))
        return "\n".join(lines)

    def differences(self, other: Grid) -> frozenset[Pair]:
        return self.allowed ^ other.allowed


ALL_ALLOWED = Grid.of(PAIRS)


def _parse(text: str) -> set[Pair]:
    rows = [line.split() for line in text.strip().splitlines() if line.strip()]
    header, body = rows[0], rows[1:]
    if tuple(header) != PODS or tuple(row[0] for row in body) != PODS:
        raise ValueError(f"grid must have rows and columns {' '.join(PODS)}")
    allowed: set[Pair] = set()
    for row in body:
        src, cells = row[0], row[1:]
        if len(cells) != len(PODS):
            raise ValueError(f"grid row {src} has {len(cells)} cells, not {len(PODS)}")
        for dst, cell in zip(PODS, cells, strict=True):
            if (cell == "-") != (src == dst) or cell not in ".X-":
                raise ValueError(f"grid cell {src}->{dst} is {cell!r}")
            if cell == ".":
                allowed.add((src, dst))
    return allowed


def _cell(src: str, dst: str, allowed: frozenset[Pair], wrong: frozenset[Pair]) -> str:
    if src == dst:
        return "-"
    mark = "." if (src, dst) in allowed else "X"
    return mark + "!" if (src, dst) in wrong else mark
