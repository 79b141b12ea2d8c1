"""Neutron as the driver sees it, for tests: real neutron-lib contexts and a lookup.

``PortContext``, ``NetworkContext`` and ``SubnetContext`` are concrete
subclasses of neutron-lib's abstract classes (what ML2 hands a driver),
holding plain dicts.  ``FakeNeutron`` answers the driver's
``NeutronLookup`` questions from dicts and records port status updates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neutron_lib.plugins.ml2 import api

Row = Mapping[str, Any]


class NetworkContext(api.NetworkContext):  # type: ignore[misc]
    def __init__(self, network: Row, segments: Sequence[Row] = ()) -> None:
        self._network = dict(network)
        self._segments = list(segments)

    @property
    def current(self) -> Row:
        return self._network

    @property
    def original(self) -> Row | None:
        return None

    @property
    def network_segments(self) -> list[Row]:
        return self._segments


class SubnetContext(api.SubnetContext):  # type: ignore[misc]
    def __init__(self, subnet: Row, original: Row | None = None) -> None:
        self._subnet = dict(subnet)
        self._original = original

    @property
    def current(self) -> Row:
        return self._subnet

    @property
    def original(self) -> Row | None:
        return self._original


@dataclass
class Binding:
    segment_id: str
    vif_type: str
    vif_details: dict[str, Any]
    status: str | None


class PortContext(api.PortContext):  # type: ignore[misc]
    """A port being created, updated, deleted or bound on ``host``."""

    def __init__(
        self,
        port: Row,
        *,
        original: Row | None = None,
        network: Row | None = None,
        segments: Sequence[Row] = (),
        host: str | None = None,
    ) -> None:
        self._port = dict(port)
        self._original = dict(original) if original is not None else None
        self._network = NetworkContext(network or {"id": port.get("network_id")}, segments)
        self._segments = list(segments)
        self._host = host if host is not None else port.get("binding:host_id", "")
        self.bindings: list[Binding] = []

    # state
    @property
    def current(self) -> Row:
        return self._port

    @property
    def original(self) -> Row | None:
        return self._original

    @property
    def status(self) -> str:
        return str(self._port.get("status", "DOWN"))

    @property
    def original_status(self) -> str | None:
        return self._original.get("status") if self._original else None

    @property
    def network(self) -> NetworkContext:
        return self._network

    @property
    def host(self) -> str:
        return self._host

    @property
    def original_host(self) -> str | None:
        return self._original.get("binding:host_id") if self._original else None

    # bindings: this context is unbound until set_binding
    @property
    def binding_levels(self) -> list[Row] | None:
        return None

    @property
    def original_binding_levels(self) -> list[Row] | None:
        return None

    @property
    def top_bound_segment(self) -> Row | None:
        return None

    @property
    def original_top_bound_segment(self) -> Row | None:
        return None

    @property
    def bottom_bound_segment(self) -> Row | None:
        return None

    @property
    def original_bottom_bound_segment(self) -> Row | None:
        return None

    @property
    def vif_type(self) -> str | None:
        return self.bindings[-1].vif_type if self.bindings else None

    @property
    def original_vif_type(self) -> str | None:
        return None

    @property
    def vif_details(self) -> dict[str, Any] | None:
        return self.bindings[-1].vif_details if self.bindings else None

    @property
    def original_vif_details(self) -> dict[str, Any] | None:
        return None

    @property
    def segments_to_bind(self) -> list[Row]:
        return self._segments

    def host_agents(self, agent_type: str) -> list[Any]:
        return []  # this driver has no Neutron agents: Felix reports via the datastore

    def set_binding(
        self, segment_id: str, vif_type: str, vif_details: dict[str, Any], status: str | None = None
    ) -> None:
        self.bindings.append(Binding(segment_id, vif_type, vif_details, status))

    def continue_binding(self, segment_id: str, next_segments_to_bind: list[Row]) -> None:
        raise AssertionError("Calico binds at the bottom level; it never continues a binding")

    def allocate_dynamic_segment(self, segment: Row) -> Row:
        raise AssertionError("Calico needs no dynamic segments")

    def release_dynamic_segment(self, segment_id: str) -> None:
        raise AssertionError("Calico needs no dynamic segments")


@dataclass
class FakeNeutron:
    """The driver's NeutronLookup, answered from dicts."""

    subnets: dict[str, dict[str, Any]] = field(default_factory=dict)
    security_groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # with rules
    projects: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    port_statuses: list[tuple[str, str, str]] = field(default_factory=list)

    def get_subnet(self, subnet_id: str) -> Row | None:
        return self.subnets.get(subnet_id)

    def get_security_groups(self, sg_ids: Sequence[str]) -> list[Row]:
        return [self.security_groups[i] for i in sg_ids if i in self.security_groups]

    def get_security_group_rules(self, sg_id: str) -> list[Row] | None:
        sg = self.security_groups.get(sg_id)
        return None if sg is None else list(sg.get("security_group_rules", []))

    def get_project(self, project_id: str) -> tuple[str, str | None] | None:
        return self.projects.get(project_id)

    def update_port_status(self, port_id: str, status: str, host: str) -> None:
        self.port_statuses.append((port_id, status, host))
