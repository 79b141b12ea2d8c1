"""``calicoctl get`` output: ps/wide/custom-columns tables, YAML and JSON.

Matches ``calicoctl/commands/common/printer.go``:

* What is printed is a sequence of *results*: a whole listing
  (``get ippool``) is one result, a ``<Kind>List`` object; each named
  resource (``get ippool a b``) is one result.  YAML/JSON print a single
  result as that object and several as a list of them, so both forms apply
  back unchanged with ``calicoctl apply -f``.
* Tables come from Go's ``text/tabwriter`` (minwidth 5, padding 3, every cell
  tab-terminated, so every column -- the last too -- is padded to the widest
  cell plus three spaces).  Each result is its own table followed by an
  empty line.  Namespaced kinds get a leading NAMESPACE column when ``-n`` or
  ``-A`` was given.
* YAML keys are sorted (sigs.k8s.io/yaml goes through JSON maps); JSON is
  indented by two spaces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from calico.ctl.errors import CommandError
from calico.resources import API_VERSION, Column, KindInfo, Resource, kind_info

__all__ = [
    "OutputSpec",
    "ResourceList",
    "Result",
    "format_results",
    "parse_output",
    "render_table",
]

Style = Literal["ps", "wide", "yaml", "json", "custom"]
# Metadata that ``--export`` strips (get_command.go / resources.go).
EXPORT_STRIPPED = ("namespace", "uid", "resourceVersion", "creationTimestamp")


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """A parsed ``-o`` value."""

    style: Style
    headings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourceList:
    """A whole listing of one kind, printed as ``<Kind>List`` in YAML/JSON."""

    kind: str
    items: Sequence[Resource]
    revision: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "items": [item.to_dict() for item in self.items],
            "kind": f"{self.kind}List",
            "metadata": {"resourceVersion": str(self.revision)},
        }


Result = Resource | ResourceList


def parse_output(value: str) -> OutputSpec:
    """``ps``, ``wide``, ``yaml``/``yml``, ``json`` or ``custom-columns=A,B``."""
    simple: dict[str, Style] = {
        "ps": "ps",
        "wide": "wide",
        "yaml": "yaml",
        "yml": "yaml",
        "json": "json",
    }
    if value in simple:
        return OutputSpec(simple[value])
    key, _, rest = value.partition("=")
    if key == "custom-columns":
        headings = tuple(h.strip() for h in rest.split(",") if h.strip())
        if not headings:
            raise CommandError("need to specify at least one column")
        return OutputSpec("custom", headings)
    if key in ("go-template", "go-template-file"):
        raise CommandError(
            f"output format {key} is not supported; use yaml, json or custom-columns"
        )
    raise CommandError(f"unrecognized output format '{value}'")


def format_results(
    results: Sequence[Result],
    spec: OutputSpec,
    *,
    print_namespace: bool = False,
    export: bool = False,
) -> str:
    """The text ``calicoctl get`` prints for ``results`` (nothing for none)."""
    if not results:
        return ""
    if spec.style == "yaml":
        return _dump_yaml(_plain(results, export))
    if spec.style == "json":
        return json.dumps(_plain(results, export), indent=2) + "\n"
    return "".join(_table(r, spec, print_namespace) for r in results)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Lay out cells as Go's tabwriter.NewWriter(w, 5, 1, 3, ' ', 0) does."""
    widths = [max(5, len(h) + 3) for h in headers]
    for row in rows:
        widths = [max(w, len(cell) + 3) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "".join(
        "".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + "\n" for line in lines
    )


# -- tables -------------------------------------------------------------------
def _table(result: Result, spec: OutputSpec, print_namespace: bool) -> str:
    items = result.items if isinstance(result, ResourceList) else [result]
    info = kind_info(result.kind)
    columns = _columns(info, spec, print_namespace)
    rows = [[col.getter(item) for col in columns] for item in items]
    return render_table([col.header for col in columns], rows) + "\n"


def _columns(info: KindInfo, spec: OutputSpec, print_namespace: bool) -> list[Column]:
    """calicoctl's headings; NAMESPACE first for namespaced kinds with -n or -A."""
    if spec.style != "custom":
        return list(info.table_columns(wide=spec.style == "wide", all_namespaces=print_namespace))
    wanted = [h.upper() for h in spec.headings]
    if print_namespace and info.namespaced and "NAMESPACE" not in wanted:
        wanted.insert(0, "NAMESPACE")
    known = {col.header: col for col in info.all_columns}
    for heading in wanted:
        if heading not in known:
            valid = ", ".join(known)
            raise CommandError(f"unknown heading {heading}, valid values are: {valid}")
    return [known[h] for h in wanted]


# -- YAML / JSON --------------------------------------------------------------
def _plain(results: Sequence[Result], export: bool) -> Any:
    # Like upstream, --export only applies to named resources, never to a listing.
    docs = [
        _export(r.to_dict()) if export and isinstance(r, Resource) else r.to_dict() for r in results
    ]
    return docs[0] if len(docs) == 1 else docs


def _export(doc: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in doc.get("metadata", {}).items() if k not in EXPORT_STRIPPED}
    return {**doc, "metadata": meta}


def _dump_yaml(data: Any) -> str:
    return yaml.safe_dump(
        data, default_flow_style=False, sort_keys=True, allow_unicode=True, width=1 << 30
    )
