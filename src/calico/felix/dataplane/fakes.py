"""In-memory kernels for unit tests: :class:`FakeNetlink` and :class:`FakeProcSys`.

They keep state (tests assert on what the kernel would hold, not on calls)
and model the behaviour the dataplane relies on: a route or neighbour on a
missing interface is ENODEV, deleting something absent is ESRCH/ENOENT,
creating an existing device is EEXIST, deleting a link takes its addresses,
routes and neighbours with it, and IPIP is EOPNOTSUPP unless enabled (as on
the machines this project runs on).  ``calls`` records every mutation in
order, and ``fail_next(operation, errno)`` injects a failure.
"""

from __future__ import annotations

import dataclasses
import errno
from dataclasses import dataclass, field

from calico.felix.dataplane.netlink import (
    Address,
    FdbEntry,
    Link,
    Neighbour,
    NetlinkError,
    Route,
    VxlanInfo,
)


@dataclass
class FakeNetlink:
    links_by_name: dict[str, Link] = field(default_factory=dict)
    addrs: set[Address] = field(default_factory=set)
    route_list: list[Route] = field(default_factory=list)
    neighs: set[Neighbour] = field(default_factory=set)
    fdb: set[FdbEntry] = field(default_factory=set)
    ipip_supported: bool = False
    calls: list[str] = field(default_factory=list)
    _failures: dict[str, int] = field(default_factory=dict)
    _next_index: int = 1

    # --- test helpers --------------------------------------------------------------------

    def add_link(self, name: str, kind: str = "", *, up: bool = True, mtu: int = 1500) -> Link:
        link = Link(name, self._next_index, kind, mtu, "", admin_up=up, lower_up=up)
        self._next_index += 1
        self.links_by_name[name] = link
        return link

    def remove_link(self, name: str) -> None:
        self.links_by_name.pop(name, None)
        self.addrs = {a for a in self.addrs if a.ifname != name}
        self.route_list = [r for r in self.route_list if r.ifname != name]
        self.neighs = {n for n in self.neighs if n.ifname != name}
        self.fdb = {f for f in self.fdb if f.ifname != name}

    def fail_next(self, operation: str, code: int) -> None:
        """Make the next call whose name starts with ``operation`` fail with ``code``."""
        self._failures[operation] = code

    def _record(self, call: str) -> None:
        for operation, code in list(self._failures.items()):
            if call.startswith(operation):
                del self._failures[operation]
                raise NetlinkError(call, code, "injected failure")
        self.calls.append(call)

    def _need(self, name: str, operation: str) -> Link:
        link = self.links_by_name.get(name)
        if link is None:
            raise NetlinkError(operation, errno.ENODEV, f"no interface {name}")
        return link

    # --- Netlink --------------------------------------------------------------------------

    def links(self) -> list[Link]:
        return list(self.links_by_name.values())

    def addresses(self) -> list[Address]:
        return sorted(self.addrs, key=lambda a: (a.ifname, a.ip))

    def routes(self, ip_version: int) -> list[Route]:
        return [r for r in self.route_list if r.version == ip_version]

    def route_replace(self, route: Route) -> None:
        self._record(f"route_replace {route.dst}")
        if route.ifname:
            self._need(route.ifname, "route_replace")
        self.route_list = [
            r for r in self.route_list if (r.dst, r.metric) != (route.dst, route.metric)
        ]
        self.route_list.append(route)

    def route_delete(self, route: Route) -> None:
        self._record(f"route_delete {route.dst}")
        for existing in self.route_list:
            if _same_route(existing, route):
                self.route_list.remove(existing)
                return
        raise NetlinkError("route_delete", errno.ESRCH, route.dst)

    def neighbours(self, ifname: str) -> list[Neighbour]:
        self._need(ifname, "neighbours")
        return [n for n in self.neighs if n.ifname == ifname]

    def neighbour_replace(self, entry: Neighbour) -> None:
        self._record(f"neighbour_replace {entry.ip}")
        self._need(entry.ifname, "neighbour_replace")
        self.neighs = {n for n in self.neighs if (n.ifname, n.ip) != (entry.ifname, entry.ip)}
        self.neighs.add(entry)

    def neighbour_delete(self, entry: Neighbour) -> None:
        self._record(f"neighbour_delete {entry.ip}")
        if entry not in self.neighs:
            raise NetlinkError("neighbour_delete", errno.ENOENT, entry.ip)
        self.neighs.discard(entry)

    def fdb_entries(self, ifname: str) -> list[FdbEntry]:
        self._need(ifname, "fdb_entries")
        return [f for f in self.fdb if f.ifname == ifname]

    def fdb_replace(self, entry: FdbEntry) -> None:
        self._record(f"fdb_replace {entry.mac}")
        self._need(entry.ifname, "fdb_replace")
        self.fdb = {f for f in self.fdb if (f.ifname, f.mac) != (entry.ifname, entry.mac)}
        self.fdb.add(entry)

    def fdb_delete(self, entry: FdbEntry) -> None:
        self._record(f"fdb_delete {entry.mac}")
        if entry not in self.fdb:
            raise NetlinkError("fdb_delete", errno.ENOENT, entry.mac)
        self.fdb.discard(entry)

    def vxlan_add(self, name: str, info: VxlanInfo, *, mac: str, mtu: int) -> None:
        self._record(f"vxlan_add {name}")
        if name in self.links_by_name:
            raise NetlinkError("vxlan_add", errno.EEXIST, name)
        self._need(info.parent, "vxlan_add")
        link = self.add_link(name, "vxlan", up=False, mtu=mtu)
        self.links_by_name[name] = dataclasses.replace(link, mac=mac, vxlan=info, lower_up=True)

    def ipip_add(self, name: str) -> None:
        self._record(f"ipip_add {name}")
        if not self.ipip_supported:
            raise NetlinkError("ipip_add", errno.EOPNOTSUPP, "kernel has no ipip")
        self.add_link(name, "ipip", up=False, mtu=1480)

    def link_set(
        self, name: str, *, up: bool | None = None, mtu: int | None = None, mac: str | None = None
    ) -> None:
        self._record(f"link_set {name}")
        link = self._need(name, "link_set")
        if up is not None:
            link = dataclasses.replace(link, admin_up=up)
        if mtu is not None:
            link = dataclasses.replace(link, mtu=mtu)
        if mac is not None:
            link = dataclasses.replace(link, mac=mac)
        self.links_by_name[name] = link

    def link_delete(self, name: str) -> None:
        self._record(f"link_delete {name}")
        self._need(name, "link_delete")
        self.remove_link(name)

    def address_add(self, ifname: str, ip: str, prefixlen: int) -> None:
        self._record(f"address_add {ip}")
        self._need(ifname, "address_add")
        self.addrs.add(Address(ifname, ip, prefixlen))

    def address_delete(self, ifname: str, ip: str, prefixlen: int) -> None:
        self._record(f"address_delete {ip}")
        self.addrs.discard(Address(ifname, ip, prefixlen))


def _same_route(existing: Route, wanted: Route) -> bool:
    """How the kernel matches a delete: every field given must agree."""
    if (existing.dst, existing.metric, existing.proto) != (wanted.dst, wanted.metric, wanted.proto):
        return False
    if (existing.type, existing.scope) != (wanted.type, wanted.scope):
        return False
    return not wanted.ifname or existing.ifname == wanted.ifname


@dataclass
class FakeProcSys:
    """``values`` maps keys to values.  Writing a key in ``read_only`` is
    EPERM; a key naming an interface in ``missing`` is ENOENT."""

    values: dict[str, str] = field(default_factory=dict)
    read_only: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    writes: list[tuple[str, str]] = field(default_factory=list)

    def read(self, key: str) -> str | None:
        return self.values.get(key)

    def write(self, key: str, value: str) -> None:
        if key in self.read_only:
            raise PermissionError(f"/proc/sys/{key} is read-only")
        if any(f"/{name}/" in key for name in self.missing):
            raise FileNotFoundError(f"/proc/sys/{key}")
        self.writes.append((key, value))
        self.values[key] = value
