"""Routes to IPAM blocks that felix programs for encapsulated pools (REFERENCE 7.5, 7.6).

When a pool uses VXLAN or IPIP, felix (not BIRD) owns the routes to its
blocks, all with protocol 80:

* a remote block (or an address borrowed by a remote node) goes through the
  tunnel -- ``<block> via <remote VTEP> dev vxlan.calico onlink`` or
  ``<block> via <node IP> dev tunl0 onlink`` -- unless the pool is
  CrossSubnet and the remote node shares our subnet, in which case it is
  routed natively: ``<block> via <node IP> dev <our host interface>``;
* a block affine to this host gets ``blackhole <block>``: its addresses that
  no local workload uses must not leak out of the default route.  Workloads
  of the block have /32 routes, which win by longest-prefix match;
* an address this host borrowed from another node's block needs nothing:
  its workload's /32 route already covers it.

``onlink`` tells the kernel to trust the next hop without a connected route
to it: the tunnel device has only a /32, and the remote VTEP sits in some
other block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from calico.felix.dataplane.netlink import PROTO_FELIX, TYPE_BLACKHOLE, Route
from calico.felix.messages import EncapType, RouteType, RouteUpdate

TunnelRoute = Callable[[RouteUpdate], Route | None]


def cluster_routes(
    updates: Iterable[RouteUpdate],
    encap: EncapType,
    *,
    parent: str | None,
    via_tunnel: TunnelRoute,
) -> list[Route]:
    """IPv4 routes for the blocks of pools with encapsulation ``encap``.

    ``parent`` is our host interface (None while unknown: same-subnet routes
    wait); ``via_tunnel`` builds the tunnel route, or None while the remote
    end is not known yet.
    """
    routes = []
    for update in updates:
        if update.ip_pool_type is not encap or ":" in update.dst:
            continue
        route = _route(update, parent, via_tunnel)
        if route is not None:
            routes.append(route)
    return sorted(routes, key=lambda r: r.dst)


def _route(update: RouteUpdate, parent: str | None, via_tunnel: TunnelRoute) -> Route | None:
    if RouteType.REMOTE_WORKLOAD in update.types:
        if update.same_subnet:
            if parent is None or not update.dst_node_ip:
                return None
            return Route(update.dst, parent, gateway=update.dst_node_ip, proto=PROTO_FELIX)
        return via_tunnel(update)
    if RouteType.LOCAL_WORKLOAD in update.types and not update.borrowed:
        return Route(update.dst, type=TYPE_BLACKHOLE, proto=PROTO_FELIX)
    return None
