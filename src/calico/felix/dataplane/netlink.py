"""The netlink seam: the few kernel objects felix programs, and a narrow Protocol.

Felix's dataplane touches five kinds of netlink object: links (workload
veths it watches, the ``vxlan.calico`` / ``tunl0`` devices it owns),
addresses, routes in the main table, neighbour (ARP) entries and bridge FDB
entries on the VXLAN device.  Everything goes through :class:`Netlink`,
implemented for real by :class:`calico.felix.dataplane.pyroute.PyrouteNetlink`
and in memory by :class:`calico.felix.dataplane.fakes.FakeNetlink`, so the
managers and the route table are tested without root (Calico's
``netlinkshim`` / ``mocknetlink`` split).

Conventions:

* interfaces are named, never numbered: an index is only meaningful until
  the interface is re-created, and names are what endpoints carry;
* addresses and destinations are strings in canonical form, destinations
  always with a prefix length (``10.0.0.1/32``, ``0.0.0.0/0``);
* a failed call raises :class:`NetlinkError` carrying the errno, so callers
  can tell "no such device" (wait for it) from real failures.
"""

from __future__ import annotations

import errno as errno_codes
from dataclasses import dataclass
from typing import Protocol

from calico.errors import DataplaneError

MAIN_TABLE = 254
# Route protocol numbers (``/etc/iproute2/rt_protos``).
PROTO_KERNEL = 2
PROTO_BOOT = 3
PROTO_STATIC = 4
# Calico's DefaultRouteProto: the protocol of the cluster routes felix owns.
PROTO_FELIX = 80

SCOPE_UNIVERSE = "universe"
SCOPE_LINK = "link"
TYPE_UNICAST = "unicast"
TYPE_BLACKHOLE = "blackhole"


class NetlinkError(DataplaneError):
    """A netlink request failed; ``errno`` says why (``ENODEV``, ``EEXIST``...)."""

    def __init__(self, operation: str, errno: int, detail: str = "") -> None:
        self.operation = operation
        self.errno = errno
        name = errno_codes.errorcode.get(errno, str(errno))
        super().__init__(f"netlink {operation} failed: {name}{': ' + detail if detail else ''}")


@dataclass(frozen=True, slots=True)
class VxlanInfo:
    """The parameters of a VXLAN device that cannot change in place."""

    vni: int
    port: int
    local: str  # source address of the encapsulated packets
    parent: str  # name of the device the packets leave through


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    index: int
    kind: str = ""  # veth, vxlan, ipip, bridge... ("" for physical/loopback)
    mtu: int = 1500
    mac: str = ""
    admin_up: bool = True  # IFF_UP
    lower_up: bool = True  # IFF_LOWER_UP: carrier (for a veth, the peer is up)
    vxlan: VxlanInfo | None = None

    @property
    def oper_up(self) -> bool:
        return self.admin_up and self.lower_up


@dataclass(frozen=True, slots=True)
class Address:
    ifname: str
    ip: str
    prefixlen: int

    @property
    def version(self) -> int:
        return 6 if ":" in self.ip else 4


@dataclass(frozen=True, slots=True)
class Route:
    """A route in the main table.  ``ifname`` is empty for blackholes."""

    dst: str
    ifname: str = ""
    gateway: str = ""
    type: str = TYPE_UNICAST
    scope: str = SCOPE_UNIVERSE
    proto: int = PROTO_FELIX
    onlink: bool = False
    metric: int = 0

    @property
    def version(self) -> int:
        return 6 if ":" in self.dst else 4


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A permanent neighbour (ARP/NDP) entry."""

    ifname: str
    ip: str
    mac: str


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """A permanent bridge forwarding entry: frames for ``mac`` go to ``dst``."""

    ifname: str
    mac: str
    dst: str


class Netlink(Protocol):
    """Every kernel networking call the dataplane makes (IPv4 and IPv6)."""

    def links(self) -> list[Link]: ...

    def addresses(self) -> list[Address]: ...

    def routes(self, ip_version: int) -> list[Route]:
        """Routes of the main table (no ``proto kernel`` connected routes filtered:
        the caller decides what it owns)."""
        ...

    def route_replace(self, route: Route) -> None: ...

    def route_delete(self, route: Route) -> None: ...

    def neighbours(self, ifname: str) -> list[Neighbour]:
        """Permanent IPv4 neighbour entries on ``ifname``."""
        ...

    def neighbour_replace(self, entry: Neighbour) -> None: ...

    def neighbour_delete(self, entry: Neighbour) -> None: ...

    def fdb_entries(self, ifname: str) -> list[FdbEntry]:
        """FDB entries of ``ifname`` that have a remote destination."""
        ...

    def fdb_replace(self, entry: FdbEntry) -> None: ...

    def fdb_delete(self, entry: FdbEntry) -> None: ...

    def vxlan_add(self, name: str, info: VxlanInfo, *, mac: str, mtu: int) -> None: ...

    def ipip_add(self, name: str) -> None:
        """Create an IPIP device; EOPNOTSUPP when the kernel has no IPIP."""
        ...

    def link_set(
        self, name: str, *, up: bool | None = None, mtu: int | None = None, mac: str | None = None
    ) -> None: ...

    def link_delete(self, name: str) -> None: ...

    def address_add(self, ifname: str, ip: str, prefixlen: int) -> None: ...

    def address_delete(self, ifname: str, ip: str, prefixlen: int) -> None: ...
