"""A lab's workloads as the runtime records them (containers and VMs alike).

A workload is a namespace ``<lab>-wl-<name>`` wired by the CNI plugin (a
container, ``calico.lab.cni_runtime``) or by the OpenStack path (a VM,
``calico.lab.vm``), plus the workload server answering on TCP/UDP 80 and 81
and its declared ports. It is recorded in two sections of the lab state:
``workloads`` (the ``calico.lab.workload.Workload`` every lab tool reads) and
``pods`` (what only the runtime needs: container ID, endpoint, ports, kind).
The name and namespace are recorded before anything exists, so ``down``
finds them.

``relabel`` changes what the Kubernetes API server would store for a pod:
its labels, which live on the WorkloadEndpoint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from calico.errors import ConfigError
from calico.lab import netns
from calico.lab.metadata import NamedPort, apply_label_changes
from calico.lab.state import LabState, netns_name
from calico.lab.store import open_client
from calico.lab.workload import DEFAULT_PORTS, Workload, start_server

if TYPE_CHECKING:
    from calico.lab.cluster import Lab

PODS = "pods"
_WORKLOADS = "workloads"  # calico.lab.workload's section
DEFAULT_NAMESPACE = "default"
_WL_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")


@dataclass(frozen=True)
class PodRecord:
    """How to find a workload's endpoint and undo it; ``kind`` is container or vm."""

    name: str
    kind: str
    host: str
    namespace: str  # of the WorkloadEndpoint
    endpoint: str  # the WorkloadEndpoint's name
    container_id: str = ""
    ports: tuple[NamedPort, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # vm: its address and port

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ports": [asdict(p) for p in self.ports], "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PodRecord:
        return cls(**{**raw, "ports": tuple(NamedPort(**p) for p in raw.get("ports", []))})


def validate_workload_name(name: str) -> str:
    if not _WL_NAME.fullmatch(name):
        raise ConfigError(
            "workload name must be 1-40 lowercase letters, digits or '-', starting and ending "
            f"with a letter or digit (value {name!r})"
        )
    return name


def workload_netns(lab_name: str, name: str) -> str:
    """The namespace of workload ``name`` of lab ``lab_name``."""
    return netns_name(lab_name, f"wl-{name}")


def load_pods(state: LabState) -> dict[str, PodRecord]:
    raw: Mapping[str, Any] = state.section(PODS) or {}
    return {name: PodRecord.from_json(r) for name, r in raw.items()}


def pod_record(state: LabState, name: str) -> PodRecord:
    record = load_pods(state).get(name)
    if record is None:
        raise ConfigError(f"lab {state.name} has no workload {name!r}")
    return record


def reserve(state: LabState, record: PodRecord) -> str:
    """Claim the workload's name and namespace in the lab state; returns the namespace."""
    validate_workload_name(record.name)
    ns = workload_netns(state.name, record.name)
    with state.edit() as data:
        taken = data.sections.get(PODS, {}).keys() | data.sections.get(_WORKLOADS, {}).keys()
        if record.name in taken or netns.exists(ns):
            raise ConfigError(f"workload {record.name!r} already exists in lab {state.name}")
        data.sections.setdefault(PODS, {})[record.name] = record.to_json()
    state.record_namespace(ns)
    return ns


def record_workload(state: LabState, wl: Workload) -> None:
    with state.edit() as data:
        data.sections.setdefault(_WORKLOADS, {})[wl.name] = wl.to_json()


def forget(state: LabState, name: str) -> None:
    """Destroy the workload's namespace (and its processes) and drop its records."""
    ns = workload_netns(state.name, name)
    netns.destroy(ns)
    with state.edit() as data:
        for section in (PODS, _WORKLOADS):
            data.sections.get(section, {}).pop(name, None)
    state.forget_namespace(ns)


def serve(lab: Lab, wl: Workload, ports: Sequence[NamedPort]) -> None:
    """Start the workload server on TCP and UDP 80, 81 and every declared port."""

    def numbers(protocol: str) -> set[int]:
        return {p.port for p in ports if p.protocol == protocol}

    tcp, udp = sorted({*DEFAULT_PORTS, *numbers("tcp")}), sorted({*DEFAULT_PORTS, *numbers("udp")})
    start_server(lab.pm, wl, tcp=tcp, udp=udp, sctp=sorted(numbers("sctp")))


def relabel(lab: Lab, name: str, changes: Sequence[str]) -> dict[str, str]:
    """Change the labels of workload ``name``'s endpoint; returns the new labels."""
    from calico.resources import parse_resource

    record = pod_record(lab.state, name)
    with open_client(lab) as client:
        wep = client.get("WorkloadEndpoint", record.endpoint, record.namespace)
        doc = wep.to_dict()
        labels = apply_label_changes(doc["metadata"].get("labels") or {}, changes)
        doc["metadata"]["labels"] = labels
        client.update(parse_resource(doc))
    return labels
