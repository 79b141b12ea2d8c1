"""Host endpoints: resolve them to interfaces, program their chains and dispatch.

A HostEndpoint names its interface (``interfaceName``), or lists the
addresses it should have (``expectedIPs``: every interface holding one of
them), or is the wildcard ``*`` (every interface without its own endpoint).
Only interfaces that exist are resolved, so the mapping is recomputed
whenever the interface snapshot changes; an interface claimed by several
endpoints goes to the lowest endpoint ID, as in Calico's
``resolveHostEndpoints``.

Per resolved interface the renderer gives chains for filter (``cali-th-`` /
``cali-fh-`` and the forward variants), mangle (pre-DNAT and DNAT'd egress)
and raw (untracked), plus the host dispatch chains of each table.  An
interface with no host endpoint is not policed at all -- the dispatch chains
fall through -- which is why host endpoints are opt-in.

Status: ``up`` when resolved to an oper-up interface (the wildcard always),
``down`` when its interface is down, ``error`` when no interface resolves.
"""

from __future__ import annotations

from collections.abc import Iterable

from calico.felix.dataplane.manager import Interfaces, ManagerBase
from calico.felix.dataplane.tables import IptablesTables
from calico.felix.messages import (
    DataplaneMessage,
    HostEndpoint,
    HostEndpointID,
    HostEndpointRemove,
    HostEndpointUpdate,
)
from calico.felix.rules import TABLES, RuleRenderer
from calico.felix.rules.types import Chain

WILDCARD = "*"


class HostEndpointManager(ManagerBase):
    def __init__(self, renderer: RuleRenderer, tables: IptablesTables) -> None:
        self._renderer = renderer
        self._tables = tables
        self._endpoints: dict[HostEndpointID, HostEndpoint] = {}
        self._interfaces = Interfaces()
        self._resolved: dict[str, HostEndpointID] = {}
        self._rendered: dict[str, HostEndpoint] | None = None
        self._programmed: dict[tuple[str, int], set[str]] = {}

    @property
    def endpoint_count(self) -> int:
        return len(self._endpoints)

    def on_update(self, msg: DataplaneMessage) -> None:
        if isinstance(msg, HostEndpointUpdate):
            self._endpoints[msg.id] = msg.endpoint
        elif isinstance(msg, HostEndpointRemove):
            self._endpoints.pop(msg.id, None)

    def on_interfaces(self, interfaces: Interfaces) -> None:
        self._interfaces = interfaces

    # --- resolution -------------------------------------------------------------------

    def _ifaces_of(self, endpoint: HostEndpoint) -> list[str]:
        if endpoint.name == WILDCARD:
            return [WILDCARD]
        if endpoint.name:
            return [endpoint.name] if endpoint.name in self._interfaces.links else []
        expected = set(endpoint.expected_ipv4_addrs) | set(endpoint.expected_ipv6_addrs)
        return sorted(
            name
            for name, addrs in self._interfaces.addresses.items()
            if any(a.ip in expected for a in addrs)
        )

    def _resolve(self) -> dict[str, HostEndpointID]:
        resolved: dict[str, HostEndpointID] = {}
        for key in sorted(self._endpoints):
            for iface in self._ifaces_of(self._endpoints[key]):
                resolved.setdefault(iface, key)
        return resolved

    # --- rendering ----------------------------------------------------------------------

    def complete_deferred_work(self) -> None:
        self._resolved = self._resolve()
        by_iface = {iface: self._endpoints[key] for iface, key in self._resolved.items()}
        if by_iface == self._rendered:
            return
        self._rendered = by_iface
        for version in self._tables.ip_versions:
            chains = self._chains(by_iface, version)
            for table in TABLES:
                self._program(table, version, chains.get(table, []))

    def _chains(self, by_iface: dict[str, HostEndpoint], version: int) -> dict[str, list[Chain]]:
        out: dict[str, list[Chain]] = {}
        for iface, endpoint in sorted(by_iface.items()):
            _extend(out, self._renderer.host_endpoint_chains(endpoint, version, iface).items())
        _extend(out, self._renderer.host_dispatch_chains(by_iface, version).items())
        return out

    def _program(self, table_name: str, version: int, chains: list[Chain]) -> None:
        table = self._tables.get(table_name, version)
        new = {c.name for c in chains}
        table.set_chains(chains)
        table.remove_chains(self._programmed.get((table_name, version), set()) - new)
        self._programmed[(table_name, version)] = new

    def statuses(self) -> dict[HostEndpointID, str]:
        out = {}
        for key in self._endpoints:
            ifaces = [i for i, owner in self._resolved.items() if owner == key]
            if not ifaces:
                out[key] = "error"
            elif all(i == WILDCARD or self._oper_up(i) for i in ifaces):
                out[key] = "up"
            else:
                out[key] = "down"
        return out

    def _oper_up(self, iface: str) -> bool:
        link = self._interfaces.links.get(iface)
        return link is not None and link.oper_up


def _extend(out: dict[str, list[Chain]], items: Iterable[tuple[str, list[Chain]]]) -> None:
    for table, chains in items:
        out.setdefault(table, []).extend(chains)
