"""Local workload endpoints: their chains, dispatch, routes, sysctls and status.

For each workload endpoint (Calico's ``endpointManager``):

* filter chains ``cali-tw-<iface>`` / ``cali-fw-<iface>`` (its ingress and
  egress policy), and the dispatch chains that send each interface's
  packets to them -- and DROP packets of unknown ``cali*`` interfaces;
* raw ``cali-rpf-skip`` (the prefixes it may send from) and nat floating-IP
  chains;
* a route per address, ``<ip>/32 dev <iface> scope link proto
  <DeviceRouteProtocol>``.  Our config defaults DeviceRouteProtocol to 80
  (Calico: 3, ``boot``, which ``ip route`` does not even print), so every
  route felix writes is recognisable by protocol in ``ip route`` output;
* the interface's sysctls, once it exists (:mod:`.ifaceconf`);
* its status: ``up`` when its state is active and its interface exists, is
  oper-up and was configured; ``down`` otherwise.

Work is tracked per interface name, not per endpoint: chains are named after
the interface, so when two endpoints (briefly) claim one interface, the one
with the lowest ID owns it, and removing the other must not remove its
chains.
"""

from __future__ import annotations

from collections.abc import Mapping

from calico.errors import DataplaneError
from calico.felix.dataplane.ifaceconf import InterfaceConfigurator
from calico.felix.dataplane.manager import Interfaces, ManagerBase
from calico.felix.dataplane.netlink import SCOPE_LINK, Route
from calico.felix.dataplane.routetable import RouteTable
from calico.felix.dataplane.tables import IptablesTables
from calico.felix.messages import (
    DataplaneMessage,
    WorkloadEndpoint,
    WorkloadEndpointID,
    WorkloadEndpointRemove,
    WorkloadEndpointUpdate,
)
from calico.felix.rules import RuleRenderer, names

ROUTE_OWNER = "endpoints"
STATUS_UP = "up"
STATUS_DOWN = "down"


class EndpointManager(ManagerBase):
    def __init__(
        self,
        renderer: RuleRenderer,
        tables: IptablesTables,
        route_tables: Mapping[int, RouteTable],
        ifaces: InterfaceConfigurator,
        *,
        device_route_protocol: int,
    ) -> None:
        self._renderer = renderer
        self._tables = tables
        self._route_tables = route_tables
        self._ifaces = ifaces
        self._route_proto = device_route_protocol
        self._endpoints: dict[WorkloadEndpointID, WorkloadEndpoint] = {}
        self._by_iface: dict[str, set[WorkloadEndpointID]] = {}
        self._interfaces = Interfaces()
        self._dirty_ifaces: set[str] = set()
        self._dispatch_names: dict[int, set[str]] = {}
        self._dispatch_ifaces: frozenset[str] | None = None
        self._nat_dirty = True
        self._routes_dirty = True

    @property
    def endpoint_count(self) -> int:
        return len(self._endpoints)

    # --- messages ------------------------------------------------------------------

    def on_update(self, msg: DataplaneMessage) -> None:
        if isinstance(msg, WorkloadEndpointUpdate):
            old = self._endpoints.get(msg.id)
            self._endpoints[msg.id] = msg.endpoint
            self._changed(msg.id, old, msg.endpoint)
        elif isinstance(msg, WorkloadEndpointRemove):
            self._changed(msg.id, self._endpoints.pop(msg.id, None), None)

    def _changed(
        self, key: WorkloadEndpointID, old: WorkloadEndpoint | None, new: WorkloadEndpoint | None
    ) -> None:
        if old is not None:
            claims = self._by_iface[old.name]
            claims.discard(key)
            if not claims:
                del self._by_iface[old.name]
        if new is not None:
            self._by_iface.setdefault(new.name, set()).add(key)
        for ep in (old, new):
            if ep is not None:
                self._dirty_ifaces.add(ep.name)
                if ep.allow_spoofed_source_prefixes or ep.ipv4_nat or ep.ipv6_nat:
                    self._nat_dirty = True
        self._routes_dirty = True

    def on_interfaces(self, interfaces: Interfaces) -> None:
        self._interfaces = interfaces

    # --- rendering ---------------------------------------------------------------------

    def _owner(self, iface: str) -> WorkloadEndpoint | None:
        """The endpoint that owns ``iface``: the one with the lowest ID."""
        claims = self._by_iface.get(iface)
        return self._endpoints[min(claims)] if claims else None

    def complete_deferred_work(self) -> None:
        for iface in sorted(self._dirty_ifaces):
            self._render_endpoint(iface)
        self._dirty_ifaces.clear()
        self._render_dispatch()
        if self._nat_dirty:
            self._render_rpf_and_nat()
            self._nat_dirty = False
        if self._routes_dirty:
            for table in self._route_tables.values():
                table.set_routes(ROUTE_OWNER, self._routes())
            self._routes_dirty = False

    def _render_endpoint(self, iface: str) -> None:
        endpoint = self._owner(iface)
        for version in self._tables.ip_versions:
            table = self._tables.get("filter", version)
            if endpoint is None:
                table.remove_chains(
                    names.endpoint_chain_name(prefix, iface)
                    for prefix in (
                        names.WORKLOAD_TO_ENDPOINT_PREFIX,
                        names.WORKLOAD_FROM_ENDPOINT_PREFIX,
                    )
                )
            else:
                table.set_chains(self._renderer.workload_endpoint_chains(endpoint, version))

    def _render_dispatch(self) -> None:
        ifaces = frozenset(self._by_iface)
        if ifaces == self._dispatch_ifaces:
            return
        self._dispatch_ifaces = ifaces
        for version in self._tables.ip_versions:
            chains = self._renderer.workload_dispatch_chains(sorted(ifaces), version)
            table = self._tables.get("filter", version)
            table.set_chains(chains)
            new_names = {c.name for c in chains}
            table.remove_chains(self._dispatch_names.get(version, set()) - new_names)
            self._dispatch_names[version] = new_names

    def _render_rpf_and_nat(self) -> None:
        owners = [ep for iface in self._ifaces_in_use() if (ep := self._owner(iface))]
        for version in self._tables.ip_versions:
            self._tables.get("raw", version).set_chains(
                [self._renderer.rpf_skip_chain(owners, version)]
            )
            self._tables.get("nat", version).set_chains(
                self._renderer.floating_ip_chains(owners, version)
            )

    def _ifaces_in_use(self) -> list[str]:
        return sorted(self._by_iface)

    def _routes(self) -> list[Route]:
        routes = []
        for iface in self._ifaces_in_use():
            endpoint = self._owner(iface)
            assert endpoint is not None
            nets = (*endpoint.ipv4_nets, *endpoint.ipv6_nets)
            routes += [Route(n, iface, scope=SCOPE_LINK, proto=self._route_proto) for n in nets]
        return routes

    # --- kernel: sysctls, status -----------------------------------------------------------

    def apply_kernel(self) -> None:
        """Configure the sysctls of every workload interface that exists;
        DataplaneError (retried by the driver) if some could not be."""
        wanted: dict[str, tuple[int, bool]] = {}
        for iface in self._ifaces_in_use():
            link = self._interfaces.links.get(iface)
            endpoint = self._owner(iface)
            if link is not None and endpoint is not None:
                wanted[iface] = (link.index, bool(endpoint.allow_spoofed_source_prefixes))
        self._ifaces.configure(wanted)
        if self._ifaces.failed:
            failed = ", ".join(sorted(self._ifaces.failed))
            raise DataplaneError(f"cannot configure the sysctls of interface(s) {failed}")

    def statuses(self) -> dict[WorkloadEndpointID, str]:
        out = {}
        for key, endpoint in self._endpoints.items():
            link = self._interfaces.links.get(endpoint.name)
            up = (
                endpoint.state == "active"
                and link is not None
                and link.oper_up
                and endpoint.name not in self._ifaces.failed
            )
            out[key] = STATUS_UP if up else STATUS_DOWN
        return out
