"""IPIP: the ``tunl0`` device, ``all-hosts-net``, and routes to blocks of IPIP pools.

Calico's ``ipipManager`` with ProgramClusterRoutes=EnabledIPIPOnly (REFERENCE
7.5): remote blocks go ``via <node IP> dev tunl0 onlink`` (natively via the
host interface for CrossSubnet pools within our subnet), local blocks get a
blackhole, and ``all-hosts-net`` (every node's IP) is the set host INPUT
accepts IPIP packets from.

``tunl0`` is the kernel's fallback IPIP device: it exists in every network
namespace as soon as the kernel has IPIP support, so felix normally only
configures it (MTU ``IpInIpMtu`` or parent MTU minus 20, up, the node's
IPIP tunnel address).  If it is missing felix asks the kernel to create it;
a kernel built without IPIP (MACHINE.md: these machines) answers EOPNOTSUPP,
which becomes :class:`calico.errors.KernelUnsupportedError` -- felix stops
with that message instead of black-holing every IPIP route.
"""

from __future__ import annotations

import errno
import logging

from calico.errors import KernelUnsupportedError
from calico.felix.dataplane.clusterroutes import cluster_routes
from calico.felix.dataplane.manager import Interfaces, ManagerBase
from calico.felix.dataplane.netlink import PROTO_FELIX, Netlink, NetlinkError, Route
from calico.felix.dataplane.routetable import RouteTable
from calico.felix.ipsets import IPSets
from calico.felix.messages import (
    DataplaneMessage,
    EncapType,
    HostMetadataRemove,
    HostMetadataUpdate,
    IPSetType,
    RouteRemove,
    RouteUpdate,
)
from calico.felix.rules import names

log = logging.getLogger(__name__)

IPIP_DEVICE = "tunl0"
IPIP_OVERHEAD = 20
ROUTE_OWNER = "ipip"


class IPIPManager(ManagerBase):
    def __init__(
        self,
        netlink: Netlink,
        route_table: RouteTable,
        ipsets: IPSets,
        *,
        hostname: str,
        enabled: bool,
        tunnel_address: str = "",
        mtu: int = 0,
    ) -> None:
        self._netlink = netlink
        self._route_table = route_table
        self._ipsets = ipsets
        self._hostname = hostname
        self.enabled = enabled
        self._tunnel_address = tunnel_address
        self._mtu = mtu
        self._hosts: dict[str, str] = {}  # hostname -> IP
        self._routes: dict[str, RouteUpdate] = {}
        self._interfaces = Interfaces()
        self._members: list[str] | None = None  # all-hosts-net, as last set
        self.links_changed = False

    def on_update(self, msg: DataplaneMessage) -> None:
        if isinstance(msg, HostMetadataUpdate):
            self._hosts[msg.hostname] = msg.ipv4_addr.partition("/")[0]
        elif isinstance(msg, HostMetadataRemove):
            self._hosts.pop(msg.hostname, None)
        elif isinstance(msg, RouteUpdate):
            self._routes[msg.dst] = msg
        elif isinstance(msg, RouteRemove):
            self._routes.pop(msg.dst, None)

    def on_interfaces(self, interfaces: Interfaces) -> None:
        self._interfaces = interfaces

    def _parent(self) -> str | None:
        own_ip = self._hosts.get(self._hostname)
        return self._interfaces.iface_with_ip(own_ip) if own_ip else None

    def complete_deferred_work(self) -> None:
        if not self.enabled:
            self._route_table.set_routes(ROUTE_OWNER, [])
            return
        members = sorted(f"{ip}/32" for ip in self._hosts.values())
        if members != self._members:
            self._members = members
            self._ipsets.add_or_replace(names.IPSET_ID_ALL_HOST_NETS, IPSetType.NET, members)
        routes = cluster_routes(
            self._routes.values(), EncapType.IPIP, parent=self._parent(), via_tunnel=_via_tunl0
        )
        self._route_table.set_routes(ROUTE_OWNER, routes)

    def apply_kernel(self) -> None:
        if not self.enabled:
            return  # tunl0 belongs to the kernel: never delete it
        link = self._interfaces.links.get(IPIP_DEVICE)
        parent = self._parent()
        mtu = self._mtu or (self._interfaces.links[parent].mtu - IPIP_OVERHEAD if parent else 0)
        if link is None:
            self._create()
            self.links_changed = True
        if link is None or (mtu and link.mtu != mtu) or not link.admin_up:
            self._netlink.link_set(IPIP_DEVICE, up=True, mtu=mtu or None)
        self._ensure_address(fresh=link is None)

    def _create(self) -> None:
        try:
            self._netlink.ipip_add(IPIP_DEVICE)
        except NetlinkError as exc:
            if exc.errno == errno.EOPNOTSUPP:
                raise KernelUnsupportedError(
                    f"kernel has no IPIP support (cannot create {IPIP_DEVICE})"
                ) from None
            raise

    def _ensure_address(self, *, fresh: bool) -> None:
        """``fresh``: the device was just created (the snapshot predates it)."""
        addresses = () if fresh else self._interfaces.addresses.get(IPIP_DEVICE, ())
        have = [a for a in addresses if a.version == 4]
        for addr in have:
            if (addr.ip, addr.prefixlen) != (self._tunnel_address, 32):
                self._netlink.address_delete(IPIP_DEVICE, addr.ip, addr.prefixlen)
        if self._tunnel_address and all(a.ip != self._tunnel_address for a in have):
            self._netlink.address_add(IPIP_DEVICE, self._tunnel_address, 32)


def _via_tunl0(update: RouteUpdate) -> Route | None:
    if not update.dst_node_ip:
        return None
    return Route(
        update.dst, IPIP_DEVICE, gateway=update.dst_node_ip, onlink=True, proto=PROTO_FELIX
    )
