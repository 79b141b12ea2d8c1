"""VXLAN: the ``vxlan.calico`` device, one neighbour + FDB entry per remote VTEP, block routes.

Calico's ``vxlanManager`` (IPv4).  With VXLAN on:

* the device: VNI ``VXLANVNI`` (4096), UDP ``VXLANPort`` (4789), source
  address this node's IP, bound to the interface holding that IP (the
  "parent"), MAC ``vxlanTunnelMACAddr`` of this node's VTEP, learning off,
  MTU ``VXLANMTU`` or the parent's MTU minus 50 (outer IPv4 20 + UDP 8 +
  VXLAN 8 + inner Ethernet 14), address the node's
  ``ipv4VXLANTunnelAddr``/32.  VNI, port, source and parent cannot change on
  a live device: a mismatch means delete and re-create;
* per remote VTEP a permanent neighbour entry (its tunnel IP → its MAC) and
  a permanent FDB entry (its MAC → its node IP): the kernel then never
  floods or learns, it knows where every VTEP is;
* routes to other nodes' blocks via their VTEP (:mod:`.clusterroutes`),
  which the route table writes after this manager's device work;
* IP set ``all-vxlan-net``: the node IPs allowed to send us VXLAN.

The calc graph sends VTEP additions before the routes that use them and
route removals before VTEP removals; a route whose VTEP is unknown simply
waits.  With VXLAN off, a leftover ``vxlan.calico`` is deleted (its routes
go with it).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from calico.felix.dataplane.clusterroutes import cluster_routes
from calico.felix.dataplane.manager import Interfaces, ManagerBase
from calico.felix.dataplane.netlink import (
    PROTO_FELIX,
    FdbEntry,
    Neighbour,
    Netlink,
    Route,
    VxlanInfo,
)
from calico.felix.dataplane.routetable import RouteTable
from calico.felix.ipsets import IPSets
from calico.felix.messages import (
    DataplaneMessage,
    EncapType,
    IPSetType,
    RouteRemove,
    RouteUpdate,
    VXLANTunnelEndpointRemove,
    VXLANTunnelEndpointUpdate,
)
from calico.felix.rules import names

log = logging.getLogger(__name__)

VXLAN_DEVICE = "vxlan.calico"
VXLAN_OVERHEAD = 50
ROUTE_OWNER = "vxlan"


class VXLANManager(ManagerBase):
    def __init__(
        self,
        netlink: Netlink,
        route_table: RouteTable,
        ipsets: IPSets,
        *,
        hostname: str,
        enabled: bool,
        vni: int,
        port: int,
        mtu: int = 0,
        on_tunnel_address: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._netlink = netlink
        self._route_table = route_table
        self._ipsets = ipsets
        self._hostname = hostname
        self.enabled = enabled
        self._vni, self._port, self._mtu = vni, port, mtu
        self._on_tunnel_address = on_tunnel_address
        self._vteps: dict[str, VXLANTunnelEndpointUpdate] = {}
        self._routes: dict[str, RouteUpdate] = {}
        self._interfaces = Interfaces()
        self._tunnel_address = ""
        self._sources: list[str] | None = None  # all-vxlan-net, as last set
        self._kernel_l2: tuple[set[Neighbour], set[FdbEntry]] | None = None
        self.links_changed = False  # the device was (re)created: re-read links

    def on_update(self, msg: DataplaneMessage) -> None:
        if isinstance(msg, VXLANTunnelEndpointUpdate):
            self._vteps[msg.node] = msg
        elif isinstance(msg, VXLANTunnelEndpointRemove):
            self._vteps.pop(msg.node, None)
        elif isinstance(msg, RouteUpdate):
            self._routes[msg.dst] = msg
        elif isinstance(msg, RouteRemove):
            self._routes.pop(msg.dst, None)

    def on_interfaces(self, interfaces: Interfaces) -> None:
        self._interfaces = interfaces

    def resync(self) -> None:
        self._kernel_l2 = None

    # --- desired state ---------------------------------------------------------------------

    def _local(self) -> VXLANTunnelEndpointUpdate | None:
        return self._vteps.get(self._hostname)

    def _parent(self) -> str | None:
        local = self._local()
        return self._interfaces.iface_with_ip(local.parent_device_ip) if local else None

    def _remote_vteps(self) -> list[VXLANTunnelEndpointUpdate]:
        return [v for node, v in sorted(self._vteps.items()) if node != self._hostname]

    def complete_deferred_work(self) -> None:
        if not self.enabled:
            self._route_table.set_routes(ROUTE_OWNER, [])
            return
        local = self._local()
        address = local.ipv4_addr if local else ""
        if address != self._tunnel_address:
            self._tunnel_address = address
            self._on_tunnel_address(address)
        sources = sorted(f"{v.parent_device_ip}/32" for v in self._vteps.values())
        if sources != self._sources:
            self._sources = sources
            self._ipsets.add_or_replace(
                names.IPSET_ID_ALL_VXLAN_SOURCE_NETS, IPSetType.NET, sources
            )
        device_ready = self._device_spec() is not None
        routes = cluster_routes(
            self._routes.values(),
            EncapType.VXLAN,
            parent=self._parent(),
            via_tunnel=lambda u: self._tunnel_route(u) if device_ready else None,
        )
        self._route_table.set_routes(ROUTE_OWNER, routes)

    def _tunnel_route(self, update: RouteUpdate) -> Route | None:
        vtep = self._vteps.get(update.dst_node_name)
        if vtep is None:
            return None
        return Route(
            update.dst, VXLAN_DEVICE, gateway=vtep.ipv4_addr, onlink=True, proto=PROTO_FELIX
        )

    def _device_spec(self) -> tuple[VxlanInfo, str, int] | None:
        """(info, mac, mtu) of the device we want, or None while we cannot know."""
        local, parent = self._local(), self._parent()
        if local is None or parent is None:
            return None
        mtu = self._mtu or self._interfaces.links[parent].mtu - VXLAN_OVERHEAD
        info = VxlanInfo(self._vni, self._port, local.parent_device_ip, parent)
        return info, local.mac, mtu

    # --- kernel -------------------------------------------------------------------------------

    def apply_kernel(self) -> None:
        if not self.enabled:
            if VXLAN_DEVICE in self._interfaces.links:
                log.info("VXLAN is off: deleting leftover device %s", VXLAN_DEVICE)
                self._netlink.link_delete(VXLAN_DEVICE)
                self.links_changed = True
            return
        spec = self._device_spec()
        if spec is None:
            log.info(
                "Waiting for this node's VTEP and host interface before creating %s", VXLAN_DEVICE
            )
            return
        created = self._ensure_device(*spec)
        self._ensure_address(fresh=created)
        self._ensure_l2()

    def _ensure_device(self, info: VxlanInfo, mac: str, mtu: int) -> bool:
        """Create or fix the device; True if it was (re)created."""
        link = self._interfaces.links.get(VXLAN_DEVICE)
        if link is not None and (link.kind != "vxlan" or link.vxlan != info):
            log.info("Re-creating %s: it has %s, want %s", VXLAN_DEVICE, link.vxlan, info)
            self._netlink.link_delete(VXLAN_DEVICE)
            link = None
        if link is None:
            log.info("Creating %s (%s, mac %s, mtu %d)", VXLAN_DEVICE, info, mac, mtu)
            self._netlink.vxlan_add(VXLAN_DEVICE, info, mac=mac, mtu=mtu)
            self._netlink.link_set(VXLAN_DEVICE, up=True)
            self._kernel_l2 = None
            self.links_changed = True
            return True
        if link.mac.lower() != mac.lower() or link.mtu != mtu or not link.admin_up:
            self._netlink.link_set(VXLAN_DEVICE, up=True, mtu=mtu, mac=mac)
            self.links_changed = True
        return False

    def _ensure_address(self, *, fresh: bool) -> None:
        """``fresh``: the device was just created (the snapshot predates it)."""
        want = self._tunnel_address
        addresses = () if fresh else self._interfaces.addresses.get(VXLAN_DEVICE, ())
        have = [a for a in addresses if a.version == 4]
        for addr in have:
            if (addr.ip, addr.prefixlen) != (want, 32):
                self._netlink.address_delete(VXLAN_DEVICE, addr.ip, addr.prefixlen)
        if want and all((a.ip, a.prefixlen) != (want, 32) for a in have):
            ipaddress.IPv4Address(want)  # a malformed tunnel address fails loudly here
            self._netlink.address_add(VXLAN_DEVICE, want, 32)

    def _ensure_l2(self) -> None:
        want_neigh = {Neighbour(VXLAN_DEVICE, v.ipv4_addr, v.mac) for v in self._remote_vteps()}
        want_fdb = {FdbEntry(VXLAN_DEVICE, v.mac, v.parent_device_ip) for v in self._remote_vteps()}
        if self._kernel_l2 is None:
            self._kernel_l2 = (
                set(self._netlink.neighbours(VXLAN_DEVICE)),
                set(self._netlink.fdb_entries(VXLAN_DEVICE)),
            )
        have_neigh, have_fdb = self._kernel_l2
        self._kernel_l2 = None  # until this completes, nothing is certain
        for entry in sorted(have_neigh - want_neigh, key=str):
            self._netlink.neighbour_delete(entry)
        for fdb in sorted(have_fdb - want_fdb, key=str):
            self._netlink.fdb_delete(fdb)
        for entry in sorted(want_neigh - have_neigh, key=str):
            self._netlink.neighbour_replace(entry)
        for fdb in sorted(want_fdb - have_fdb, key=str):
            self._netlink.fdb_replace(fdb)
        self._kernel_l2 = (want_neigh, want_fdb)
