"""Routes of one IP family in the main table: desired state in, minimal netlink out.

Several managers want routes (the endpoint manager its ``/32`` workload
routes, the VXLAN and IPIP managers the cluster routes); each declares its
whole set under its own name with :meth:`RouteTable.set_routes`, and
:meth:`RouteTable.apply` makes the kernel agree.  The first owner that asked
for a destination wins a conflict, so register the endpoint owner first: a
local workload's own route beats a block route to the same /32.

Which kernel routes are ours (Calico's ``routetable``), and therefore
removed when nobody wants them -- this is what makes a restarted felix clean
up after its predecessor without remembering anything:

* never a ``proto kernel`` route (connected subnets, IPv6 link-local);
* every route through a workload interface (``cali*``, ``tap*``) or a device
  felix owns (``vxlan.calico``, ``tunl0``), whoever added it -- unless
  RemoveExternalRoutes is off, in which case only those with our protocols;
* anywhere else, only routes with protocol 80 (Calico's DefaultRouteProto:
  blackholes for local blocks, same-subnet routes via the host interface).
  DeviceRouteProtocol is deliberately *not* an ownership mark off our own
  interfaces: Calico's default for it is 3 (``boot``), the protocol of every
  route an admin adds by hand, such as the host's default route.

A route through a workload interface that no endpoint claims is only removed
after a grace period: the CNI plugin creates the veth and its route a moment
before the endpoint reaches felix, and deleting the route in that window
would black-hole the new pod (Calico issues #5173, #2471).

A route whose interface does not exist yet is held back until it appears
(the dataplane re-applies on link events).  The kernel is read once and the
cached view trusted until :meth:`resync` (RouteRefreshInterval) or a failure.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace

from calico.errors import DataplaneError
from calico.felix.dataplane.netlink import (
    PROTO_FELIX,
    PROTO_KERNEL,
    Netlink,
    NetlinkError,
    Route,
)

log = logging.getLogger(__name__)

DEFAULT_GRACE = 10.0
OWNED_DEVICES = ("vxlan.calico", "tunl0")
# The kernel gives an IPv6 route without a metric the metric 1024 (and shows
# it in dumps); IPv4 keeps 0.  Desired routes say what the dump will say.
IPV6_DEFAULT_METRIC = 1024


@dataclass(frozen=True, slots=True)
class RouteStats:
    replaced: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()  # waiting for their interface


class RouteTable:
    def __init__(
        self,
        netlink: Netlink,
        ip_version: int,
        *,
        workload_prefixes: tuple[str, ...],
        device_route_protocol: int,
        remove_external_routes: bool = True,
        grace: float = DEFAULT_GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ip_version = ip_version
        self._netlink = netlink
        self._workload_prefixes = workload_prefixes
        self._our_protos = {PROTO_FELIX, device_route_protocol}
        self._remove_external = remove_external_routes
        self._grace, self._clock = grace, clock
        self._owners: dict[str, dict[str, Route]] = {}
        self._kernel: list[Route] | None = None
        self._unclaimed_since: dict[Route, float] = {}
        self.reads = 0

    # --- desired state -------------------------------------------------------------------

    def set_routes(self, owner: str, routes: Iterable[Route]) -> None:
        """Replace everything ``owner`` wants (routes of the other family are ignored)."""
        wanted = [r for r in routes if r.version == self.ip_version]
        if self.ip_version == 6:
            wanted = [r if r.metric else replace(r, metric=IPV6_DEFAULT_METRIC) for r in wanted]
        self._owners[owner] = {r.dst: r for r in wanted}

    def desired(self) -> dict[str, Route]:
        merged: dict[str, Route] = {}
        for routes in self._owners.values():
            for dst, route in routes.items():
                merged.setdefault(dst, route)
        return merged

    def resync(self) -> None:
        """Re-read the kernel at the next apply (drift repair)."""
        self._kernel = None

    def next_deadline(self) -> float | None:
        """When a route in its grace period becomes removable, if any."""
        if not self._unclaimed_since:
            return None
        return min(self._unclaimed_since.values()) + self._grace

    # --- kernel I/O ------------------------------------------------------------------------

    def apply(self, links: Collection[str]) -> RouteStats:
        """Make the main table agree; ``links`` names the interfaces that exist."""
        if self._kernel is None:
            self._kernel = self._netlink.routes(self.ip_version)
            self.reads += 1
        desired = self.desired()
        errors: list[str] = []
        replaced, pending = self._add_missing(desired, links, errors)
        deleted = self._remove_unwanted(desired, errors)
        if errors:
            self._kernel = None  # re-read rather than trust a half-applied view
            raise DataplaneError(f"IPv{self.ip_version} routes: " + "; ".join(errors))
        return RouteStats(tuple(replaced), tuple(deleted), tuple(pending))

    def _add_missing(
        self, desired: dict[str, Route], links: Collection[str], errors: list[str]
    ) -> tuple[list[str], list[str]]:
        assert self._kernel is not None
        present = set(self._kernel)
        replaced, pending = [], []
        for dst in sorted(desired):
            route = desired[dst]
            if route in present:
                continue
            if route.ifname and route.ifname not in links:
                pending.append(dst)
                continue
            try:
                self._netlink.route_replace(route)
            except NetlinkError as exc:
                errors.append(str(exc))
                continue
            # "replace" swaps the route with the same destination and metric.
            self._kernel = [r for r in self._kernel if (r.dst, r.metric) != (dst, route.metric)]
            self._kernel.append(route)
            replaced.append(dst)
        return replaced, pending

    def _remove_unwanted(self, desired: dict[str, Route], errors: list[str]) -> list[str]:
        assert self._kernel is not None
        claimed_ifaces = {r.ifname for r in desired.values() if r.ifname}
        now = self._clock()
        waiting: dict[Route, float] = {}
        deleted = []
        for route in list(self._kernel):
            if desired.get(route.dst) == route or not self._owned(route):
                continue
            if self._on_workload_iface(route) and route.ifname not in claimed_ifaces:
                since = self._unclaimed_since.get(route, now)
                if now - since < self._grace:
                    waiting[route] = since
                    continue
            try:
                self._netlink.route_delete(route)
            except NetlinkError as exc:
                if exc.errno != errno.ESRCH:  # already gone is fine
                    errors.append(str(exc))
                    continue
            self._kernel.remove(route)
            deleted.append(route.dst)
        self._unclaimed_since = waiting
        return deleted

    def _on_workload_iface(self, route: Route) -> bool:
        return bool(route.ifname) and route.ifname.startswith(self._workload_prefixes)

    def _owned(self, route: Route) -> bool:
        if route.proto == PROTO_KERNEL:
            return False
        if self._on_workload_iface(route) or route.ifname in OWNED_DEVICES:
            return self._remove_external or route.proto in self._our_protos
        return route.proto == PROTO_FELIX
