"""The real :class:`~calico.felix.dataplane.netlink.Netlink`, over pyroute2, and a link monitor.

Felix runs inside the network namespace it programs (``ip netns exec`` in
the lab, the host namespace on a real node), so a plain ``IPRoute()`` talks
to the right kernel.  pyroute2 0.9 quirks this module absorbs:

* ``route('del')`` defaults the scope to *universe*, and the kernel then
  refuses to delete a ``scope link`` route ("No such process").  Deletes
  therefore always pass the full identity the dump gave us: scope, type,
  protocol, metric and, when the interface still exists, its index.
* ``fdb('replace')`` needs ``state=NUD_PERMANENT`` *as a number* plus the
  ``NTF_SELF`` flag, otherwise the VXLAN driver answers EOPNOTSUPP.
* a kernel without IPIP support (MACHINE.md) answers ``link add ... ipip``
  with EOPNOTSUPP; the IPIP manager turns that into a clear error.
* an ``IPRoute`` may be used from a thread other than the one that made it,
  but not from two threads at once: the dataplane thread owns this one, and
  the monitor opens its own socket.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError as PyrouteError
from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK

from calico.felix.dataplane.netlink import (
    MAIN_TABLE,
    Address,
    FdbEntry,
    Link,
    Neighbour,
    NetlinkError,
    Route,
    VxlanInfo,
)

log = logging.getLogger(__name__)

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
NUD_PERMANENT = 0x80
NTF_SELF = 0x2
RTNH_F_ONLINK = 0x4
_ENODEV = 19
_SCOPES = {"universe": 0, "site": 200, "link": 253, "host": 254}
_SCOPE_NAMES = {v: k for k, v in _SCOPES.items()}
_TYPES = {"unicast": 1, "local": 2, "broadcast": 3, "multicast": 5, "blackhole": 6}
_TYPE_NAMES = {v: k for k, v in _TYPES.items()}


def _family(ip_version: int) -> int:
    return socket.AF_INET6 if ip_version == 6 else socket.AF_INET


class PyrouteNetlink:
    def __init__(self) -> None:
        self._ipr: Any = None

    @contextmanager
    def _call(self, operation: str) -> Iterator[Any]:
        if self._ipr is None:
            self._ipr = IPRoute()
        try:
            yield self._ipr
        except PyrouteError as exc:
            raise NetlinkError(operation, exc.code, str(exc.args[-1])) from None

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    def _index(self, name: str) -> int:
        with self._call(f"lookup {name}") as ipr:
            found = ipr.link_lookup(ifname=name)
        if not found:
            raise NetlinkError(f"lookup {name}", _ENODEV, "no such interface")
        return int(found[0])

    # --- links and addresses ------------------------------------------------------

    def links(self) -> list[Link]:
        with self._call("dump links") as ipr:
            raw = list(ipr.get_links())
        names = {msg["index"]: msg.get("ifname") for msg in raw}
        return [_link(msg, names) for msg in raw]

    def addresses(self) -> list[Address]:
        with self._call("dump links") as ipr:
            names = {msg["index"]: msg.get("ifname") for msg in ipr.get_links()}
            raw = list(ipr.get_addr())
        return [
            Address(names.get(msg["index"], ""), str(msg.get("address")), int(msg["prefixlen"]))
            for msg in raw
            if msg.get("address")
        ]

    def vxlan_add(self, name: str, info: VxlanInfo, *, mac: str, mtu: int) -> None:
        parent = self._index(info.parent)
        with self._call(f"add vxlan device {name}") as ipr:
            ipr.link(
                "add",
                ifname=name,
                kind="vxlan",
                vxlan_id=info.vni,
                vxlan_port=info.port,
                vxlan_local=info.local,
                vxlan_link=parent,
                vxlan_learning=0,
                address=mac,
                mtu=mtu,
            )

    def ipip_add(self, name: str) -> None:
        with self._call(f"add ipip device {name}") as ipr:
            ipr.link("add", ifname=name, kind="ipip")

    def link_set(
        self, name: str, *, up: bool | None = None, mtu: int | None = None, mac: str | None = None
    ) -> None:
        changes: dict[str, Any] = {}
        if up is not None:
            changes["state"] = "up" if up else "down"
        if mtu is not None:
            changes["mtu"] = mtu
        if mac is not None:
            changes["address"] = mac
        index = self._index(name)
        with self._call(f"set link {name}") as ipr:
            ipr.link("set", index=index, **changes)

    def link_delete(self, name: str) -> None:
        index = self._index(name)
        with self._call(f"delete link {name}") as ipr:
            ipr.link("del", index=index)

    def address_add(self, ifname: str, ip: str, prefixlen: int) -> None:
        index = self._index(ifname)
        with self._call(f"add address {ip}/{prefixlen} to {ifname}") as ipr:
            ipr.addr("add", index=index, address=ip, prefixlen=prefixlen)

    def address_delete(self, ifname: str, ip: str, prefixlen: int) -> None:
        index = self._index(ifname)
        with self._call(f"delete address {ip}/{prefixlen} from {ifname}") as ipr:
            ipr.addr("del", index=index, address=ip, prefixlen=prefixlen)

    # --- routes -----------------------------------------------------------------------

    def routes(self, ip_version: int) -> list[Route]:
        with self._call("dump routes") as ipr:
            names = {msg["index"]: msg.get("ifname") for msg in ipr.get_links()}
            raw = list(ipr.get_routes(family=_family(ip_version)))
        out = []
        for msg in raw:
            if msg.get("table", msg["table"]) != MAIN_TABLE or msg.get("multipath"):
                continue
            out.append(_route(msg, names, ip_version))
        return out

    def route_replace(self, route: Route) -> None:
        with self._call(f"replace route {route.dst}") as ipr:
            ipr.route("replace", **self._route_args(route, need_oif=True))

    def route_delete(self, route: Route) -> None:
        with self._call(f"delete route {route.dst}") as ipr:
            ipr.route("del", **self._route_args(route, need_oif=False))

    def _route_args(self, route: Route, *, need_oif: bool) -> dict[str, Any]:
        args: dict[str, Any] = {
            "family": _family(route.version),
            "dst": route.dst,
            "table": MAIN_TABLE,
            "proto": route.proto,
            "scope": _SCOPES[route.scope],
            "type": route.type,
        }
        if route.ifname:
            try:
                args["oif"] = self._index(route.ifname)
            except NetlinkError:
                if need_oif:
                    raise
        if route.gateway:
            args["gateway"] = route.gateway
        if route.onlink:
            args["flags"] = RTNH_F_ONLINK
        if route.metric:
            args["priority"] = route.metric
        return args

    # --- neighbours and FDB -------------------------------------------------------------

    def neighbours(self, ifname: str) -> list[Neighbour]:
        index = self._index(ifname)
        with self._call(f"dump neighbours of {ifname}") as ipr:
            raw = list(ipr.get_neighbours(ifindex=index, family=socket.AF_INET))
        return [
            Neighbour(ifname, str(msg.get("dst")), str(msg.get("lladdr")))
            for msg in raw
            if msg["state"] & NUD_PERMANENT and msg.get("dst") and msg.get("lladdr")
        ]

    def neighbour_replace(self, entry: Neighbour) -> None:
        index = self._index(entry.ifname)
        with self._call(f"replace neighbour {entry.ip}") as ipr:
            ipr.neigh(
                "replace",
                dst=entry.ip,
                lladdr=entry.mac,
                ifindex=index,
                state=NUD_PERMANENT,
                family=socket.AF_INET,
            )

    def neighbour_delete(self, entry: Neighbour) -> None:
        index = self._index(entry.ifname)
        with self._call(f"delete neighbour {entry.ip}") as ipr:
            ipr.neigh("del", dst=entry.ip, lladdr=entry.mac, ifindex=index, family=socket.AF_INET)

    def fdb_entries(self, ifname: str) -> list[FdbEntry]:
        index = self._index(ifname)
        with self._call(f"dump fdb of {ifname}") as ipr:
            raw = list(ipr.fdb("dump", ifindex=index))
        return [
            FdbEntry(ifname, str(msg.get("lladdr")), str(msg.get("dst")))
            for msg in raw
            if msg.get("dst") and msg.get("lladdr") and msg["ifindex"] == index
        ]

    def fdb_replace(self, entry: FdbEntry) -> None:
        index = self._index(entry.ifname)
        with self._call(f"replace fdb entry {entry.mac}") as ipr:
            ipr.fdb(
                "replace",
                ifindex=index,
                lladdr=entry.mac,
                dst=entry.dst,
                state=NUD_PERMANENT,
                flags=NTF_SELF,
            )

    def fdb_delete(self, entry: FdbEntry) -> None:
        index = self._index(entry.ifname)
        with self._call(f"delete fdb entry {entry.mac}") as ipr:
            ipr.fdb("del", ifindex=index, lladdr=entry.mac, dst=entry.dst, flags=NTF_SELF)


def _link(msg: Any, names: dict[int, Any]) -> Link:
    flags = int(msg["flags"])
    kind, vxlan = "", None
    info = msg.get_attr("IFLA_LINKINFO")
    if info is not None:
        kind = str(info.get_attr("IFLA_INFO_KIND") or "")
        data = info.get_attr("IFLA_INFO_DATA")
        if kind == "vxlan" and data is not None:
            vxlan = VxlanInfo(
                vni=int(data.get_attr("IFLA_VXLAN_ID") or 0),
                port=int(data.get_attr("IFLA_VXLAN_PORT") or 0),
                local=str(data.get_attr("IFLA_VXLAN_LOCAL") or ""),
                parent=str(names.get(data.get_attr("IFLA_VXLAN_LINK"), "") or ""),
            )
    return Link(
        name=str(msg.get("ifname")),
        index=int(msg["index"]),
        kind=kind,
        mtu=int(msg.get("mtu") or 0),
        mac=str(msg.get("address") or ""),
        admin_up=bool(flags & IFF_UP),
        lower_up=bool(flags & IFF_LOWER_UP),
        vxlan=vxlan,
    )


def _route(msg: Any, names: dict[int, Any], ip_version: int) -> Route:
    dst = msg.get("dst") or ("::" if ip_version == 6 else "0.0.0.0")
    return Route(
        dst=f"{dst}/{msg['dst_len']}",
        ifname=str(names.get(msg.get("oif"), "") or ""),
        gateway=str(msg.get("gateway") or ""),
        type=_TYPE_NAMES.get(msg["type"], str(msg["type"])),
        scope=_SCOPE_NAMES.get(msg["scope"], str(msg["scope"])),
        proto=int(msg["proto"]),
        onlink=bool(msg["flags"] & RTNH_F_ONLINK),
        metric=int(msg.get("priority") or 0),
    )


class LinkMonitor:
    """Calls ``on_change()`` after every burst of link or address events.

    The callback only signals "look again": the dataplane re-dumps links on
    its own thread, so a lost or garbled event costs nothing but latency
    (and the periodic route refresh rescans anyway).
    """

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="felix-link-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # The thread blocks in a netlink read; it is a daemon and dies with us.
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with IPRoute() as ipr:
                    ipr.bind(groups=RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)
                    while not self._stopping.is_set():
                        if ipr.get():
                            self._on_change()
            except Exception:
                log.exception("Link monitor failed; restarting it in 1s")
                self._on_change()
                self._stopping.wait(1.0)
