"""CNI results: parse any supported version, print the one the runtime asked for.

The shape changed across spec versions (SPEC.md section 5, libcni
``types/040`` and ``types/100``):

* 0.3.0 - 0.4.0: every ``ips[]`` entry carries ``"version": "4"|"6"``;
* 1.0.0 dropped that field;
* 1.1.0 added ``mtu``, ``socketPath`` and ``pciID`` to interfaces and
  ``mtu``, ``advmss``, ``priority``, ``table``, ``scope`` to routes.

A result is parsed leniently (a delegated IPAM plugin may answer in an older
version than ours, and ``prevResult`` comes in the config's version) and
printed strictly: fields the requested version does not define are left out.
Delegated IPAM plugins answer the abbreviated form: no ``interfaces`` and no
``interface`` index in ``ips``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from calico.cni.spec import DECODE_FAILURE, CniError, at_least

_ROUTE_EXTRAS_11 = ("mtu", "advmss", "priority", "table", "scope")


@dataclass
class Interface:
    name: str
    mac: str = ""
    mtu: int = 0
    sandbox: str = ""
    socket_path: str = ""
    pci_id: str = ""

    def to_json(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.mac:
            out["mac"] = self.mac
        if at_least(version, "1.1.0"):
            extras = {"mtu": self.mtu, "socketPath": self.socket_path, "pciID": self.pci_id}
            out.update({k: v for k, v in extras.items() if v})
        if self.sandbox:
            out["sandbox"] = self.sandbox
        return out


@dataclass
class IPConfig:
    address: str  # CIDR, e.g. 10.65.0.5/32
    gateway: str = ""
    interface: int | None = None

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_interface(self.address).ip

    def to_json(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not at_least(version, "1.0.0"):
            out["version"] = str(self.ip.version)
        if self.interface is not None:
            out["interface"] = self.interface
        out["address"] = self.address
        if self.gateway:
            out["gateway"] = self.gateway
        return out


@dataclass
class Route:
    dst: str
    gw: str = ""
    extras: dict[str, int] = field(default_factory=dict)  # the 1.1.0 fields

    def to_json(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"dst": self.dst}
        if self.gw:
            out["gw"] = self.gw
        if at_least(version, "1.1.0"):
            out.update(self.extras)
        return out


@dataclass
class DNS:
    nameservers: list[str] = field(default_factory=list)
    domain: str = ""
    search: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.nameservers or self.domain or self.search or self.options)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"nameservers": self.nameservers, "domain": self.domain}
        out.update(search=self.search, options=self.options)
        return {k: v for k, v in out.items() if v}

    @classmethod
    def from_json(cls, raw: Any) -> DNS:
        raw = _object({} if raw is None else raw, "dns")
        return cls(
            nameservers=_strings(raw.get("nameservers"), "dns.nameservers"),
            domain=_string(raw.get("domain"), "dns.domain"),
            search=_strings(raw.get("search"), "dns.search"),
            options=_strings(raw.get("options"), "dns.options"),
        )


@dataclass
class Result:
    interfaces: list[Interface] = field(default_factory=list)
    ips: list[IPConfig] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    dns: DNS = field(default_factory=DNS)

    def to_json(self, version: str) -> dict[str, Any]:
        return {
            "cniVersion": version,
            "interfaces": [i.to_json(version) for i in self.interfaces],
            "ips": [ip.to_json(version) for ip in self.ips],
            "routes": [r.to_json(version) for r in self.routes],
            "dns": self.dns.to_json(),
        }

    @classmethod
    def from_json(cls, raw: Any, what: str = "result") -> Result:
        """Parse a result of any supported version; error 6 names the bad field."""
        raw = _object(raw, what)
        return cls(
            interfaces=[_interface(i, what) for i in _list(raw.get("interfaces"), what)],
            ips=[_ip_config(i, what) for i in _list(raw.get("ips"), what)],
            routes=[_route(r, what) for r in _list(raw.get("routes"), what)],
            dns=DNS.from_json(raw.get("dns")),
        )

    def then(self, mine: Result) -> Result:
        """This (previous) result followed by ``mine``, as a chained plugin reports it:
        our interface indices shift past the interfaces already listed."""
        shift = len(self.interfaces)
        shifted = [
            IPConfig(ip.address, ip.gateway, None if ip.interface is None else ip.interface + shift)
            for ip in mine.ips
        ]
        return Result(
            interfaces=self.interfaces + mine.interfaces,
            ips=self.ips + shifted,
            routes=self.routes + mine.routes,
            dns=self.dns or mine.dns,
        )


# -- lenient parsing -------------------------------------------------------------


def _interface(raw: Any, what: str) -> Interface:
    raw = _object(raw, f"{what}.interfaces[]")
    return Interface(
        name=_string(raw.get("name"), f"{what}.interfaces[].name"),
        mac=_string(raw.get("mac"), f"{what}.interfaces[].mac"),
        mtu=int(raw.get("mtu") or 0),
        sandbox=_string(raw.get("sandbox"), f"{what}.interfaces[].sandbox"),
        socket_path=_string(raw.get("socketPath"), f"{what}.interfaces[].socketPath"),
        pci_id=_string(raw.get("pciID"), f"{what}.interfaces[].pciID"),
    )


def _ip_config(raw: Any, what: str) -> IPConfig:
    raw = _object(raw, f"{what}.ips[]")
    address = _string(raw.get("address"), f"{what}.ips[].address")
    try:
        ipaddress.ip_interface(address)
    except ValueError:
        raise CniError(DECODE_FAILURE, f"invalid {what}", f"ips[].address {address!r}") from None
    interface = raw.get("interface")
    if interface is not None and not isinstance(interface, int):
        raise CniError(DECODE_FAILURE, f"invalid {what}", f"ips[].interface {interface!r}")
    return IPConfig(address, _string(raw.get("gateway"), f"{what}.ips[].gateway"), interface)


def _route(raw: Any, what: str) -> Route:
    raw = _object(raw, f"{what}.routes[]")
    extras = {k: raw[k] for k in _ROUTE_EXTRAS_11 if isinstance(raw.get(k), int)}
    return Route(
        _string(raw.get("dst"), f"{what}.routes[].dst"), _string(raw.get("gw"), ""), extras
    )


def _object(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise CniError(DECODE_FAILURE, f"invalid {what}", "expected a JSON object")
    return raw


def _list(raw: Any, what: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CniError(DECODE_FAILURE, f"invalid {what}", "expected a JSON list")
    return raw


def _string(raw: Any, what: str) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise CniError(DECODE_FAILURE, f"invalid {what}", f"expected a string, got {raw!r}")
    return raw


def _strings(raw: Any, what: str) -> list[str]:
    return [_string(item, what) for item in _list(raw, what)]
