"""WorkloadEndpoint names (libcalico-go ``lib/names/workloadendpoint.go``).

A WorkloadEndpoint is named ``<node>-<orchestrator>-<workload>-<endpoint>``,
where the workload segment is the pod for ``k8s``, the container ID for
``cni`` and the orchestrator again for ``libnetwork``.  Dashes inside a
segment are doubled so that single dashes separate segments unambiguously:
node ``node-1``, pod ``pod-name`` -> ``node--1-k8s-pod--name-eth0``.  A segment
may therefore neither start nor end with a dash.

A *prefix* (segments up to the first unknown one, ending in ``-``) is what
the CNI plugin lists to find an endpoint of the same workload whatever its
interface name (one interface per pod).
"""

from __future__ import annotations

from dataclasses import dataclass

from calico.errors import ValidationError


@dataclass(frozen=True)
class EndpointIdentifiers:
    node: str = ""
    orchestrator: str = ""
    endpoint: str = ""
    workload: str = ""
    pod: str = ""
    container_id: str = ""

    def segments(self) -> list[tuple[str, str]]:
        """(field name, value) of each name segment for this orchestrator."""
        if not self.node:
            raise ValidationError("field should be assigned", field="node")
        node, orch = ("node", self.node), ("orchestrator", self.orchestrator)
        middle = {
            "k8s": ("pod", self.pod),
            "cni": ("containerID", self.container_id),
            "libnetwork": orch,
        }.get(self.orchestrator, ("workload", self.workload))
        return [node, orch, middle, ("endpoint", self.endpoint)]

    def name(self) -> str:
        """The full name; ValidationError naming the first empty or bad segment."""
        return "-".join(_escape(f, v) if v else _unassigned(f) for f, v in self.segments())

    def prefix(self) -> str:
        """The name up to the first empty segment, ending in ``-`` (the full name if none)."""
        parts: list[str] = []
        for field_name, value in self.segments():
            if not value:
                return "-".join(parts) + "-"
            parts.append(_escape(field_name, value))
        return "-".join(parts)

    def matches(self, name: str) -> bool:
        """Whether ``name`` has every segment these identifiers set (empty = any)."""
        wanted = self.segments()
        parts = split_name(name)
        if len(parts) != len(wanted) or len(name) < 2 * len(wanted) - 1:
            return False
        return all(
            not value or value == part for (_, value), part in zip(wanted, parts, strict=True)
        )


def split_name(name: str) -> list[str]:
    """Split on single dashes and undo the doubling (``extractParts``).

    The first character never separates (segments cannot start with ``-``).
    """
    parts: list[str] = []
    start, i = 0, 1
    while i < len(name):
        if name[i] == "-":
            if i + 1 < len(name) and name[i + 1] == "-":
                i += 2
                continue
            parts.append(name[start:i].replace("--", "-"))
            start = i + 1
        i += 1
    parts.append(name[start:].replace("--", "-"))
    return parts


_FIELDS_BY_ORCHESTRATOR = {
    "k8s": ("pod", "endpoint"),
    "cni": ("container_id", "endpoint"),
    "libnetwork": ("orchestrator", "endpoint"),
}


def parse_name(name: str) -> EndpointIdentifiers:
    """Identifiers from a (possibly prefix) name; ValidationError if it cannot be one."""
    if not name:
        raise ValidationError("cannot parse an empty WorkloadEndpoint name")
    parts = split_name(name)
    values: dict[str, str] = {"node": parts[0]}
    if len(parts) > 1:
        values["orchestrator"] = parts[1]
        fields = _FIELDS_BY_ORCHESTRATOR.get(parts[1], ("workload", "endpoint"))
        if len(parts) - 2 > len(fields):
            raise ValidationError(
                f"cannot parse {name!r}: too many segments for a WorkloadEndpoint"
            )
        values.update(zip(fields, parts[2:], strict=False))
    return EndpointIdentifiers(**values)


def _escape(field_name: str, value: str) -> str:
    if value.startswith("-"):
        raise ValidationError("field must not begin with a '-'", field=field_name, value=value)
    if value.endswith("-"):
        raise ValidationError("field must not end with a '-'", field=field_name, value=value)
    return value.replace("-", "--")


def _unassigned(field_name: str) -> str:
    raise ValidationError("field should be assigned", field=field_name)
