"""NetworkPolicyPort -> Calico rule protocol and destination ports.

Source: libcalico-go ``conversion.go`` (``k8sRuleToCalico``,
``k8sPortToCalico``, ``SimplifyPorts``).  Calico writes one rule per
protocol, so the ports of a k8s rule are grouped by protocol:

* a port without ``protocol`` is TCP (the k8s default, made explicit because
  a Calico rule with ports needs a protocol);
* a port entry without ``port`` allows every port of its protocol, and wins
  over numbered entries of the same protocol;
* ``endPort`` makes a range ``"port:endPort"``; a named port is kept by name
  (Felix resolves it per endpoint through named-port IP sets);
* protocols come out sorted by name (``SCTP`` < ``TCP`` < ``UDP``), and each
  protocol's ports are simplified: when there are at least two numeric ports,
  named ports come first, then the numeric ones merged into sorted ranges;
  otherwise the entries stay as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from calico.k8s import _names
from calico.k8s._raw import fail, join, mapping, only_fields, string

PROTOCOLS = ("TCP", "UDP", "SCTP")
DEFAULT_PROTOCOL = "TCP"
PORT_MAX = 65535

CalicoPort = int | str  # 80, "80:90" or a port name, as Calico's JSON has them


@dataclass(frozen=True, slots=True)
class PolicyPort:
    """One validated k8s NetworkPolicyPort; ``port`` None means all ports."""

    protocol: str
    port: CalicoPort | None = None


@dataclass(frozen=True, slots=True)
class PortMatch:
    """What one group of Calico rules matches: None protocol means any traffic."""

    protocol: str | None
    ports: tuple[CalicoPort, ...] = ()


def parse_port(raw: object, path: str) -> PolicyPort:
    """Validate one entry of a rule's ``ports`` (k8s ``ValidateNetworkPolicyPort``)."""
    obj = mapping(raw, path)
    only_fields(obj, ("protocol", "port", "endPort"), path)
    protocol = string(obj.get("protocol"), join(path, "protocol")) or DEFAULT_PROTOCOL
    if protocol not in PROTOCOLS:
        fail("must be one of TCP, UDP, SCTP", join(path, "protocol"), protocol)
    port = obj.get("port")
    end_port = obj.get("endPort")
    if port is None:
        if end_port is not None:
            fail("may not be set without port", join(path, "endPort"), end_port)
        return PolicyPort(protocol)
    if isinstance(port, str):
        _names.port_name(port, join(path, "port"))
        if end_port is not None:
            fail("may not be set when port is a name", join(path, "endPort"), end_port)
        return PolicyPort(protocol, port)
    start = _port_number(port, join(path, "port"))
    if end_port is None:
        return PolicyPort(protocol, start)
    end = _port_number(end_port, join(path, "endPort"))
    if end < start:
        fail(f"must be greater than or equal to port ({start})", join(path, "endPort"), end)
    return PolicyPort(protocol, _range_text(start, end))


def _port_number(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail("must be a port number or a port name", path, value)
    if not 1 <= value <= PORT_MAX:
        fail(f"must be between 1 and {PORT_MAX}", path, value)
    return value


def _range_text(start: int, end: int) -> CalicoPort:
    # Calico's Port{Min, Max} marshals as a plain number when Min == Max.
    return start if start == end else f"{start}:{end}"


def port_matches(ports: list[PolicyPort]) -> list[PortMatch]:
    """Group a k8s rule's ports by protocol, one PortMatch per Calico rule."""
    if not ports:
        return [PortMatch(None)]
    by_protocol: dict[str, list[CalicoPort] | None] = {}
    for entry in ports:
        if entry.port is None:
            by_protocol[entry.protocol] = None  # all ports of this protocol
            continue
        listed = by_protocol.get(entry.protocol, [])
        if listed is None:
            continue  # already all ports; a specific one adds nothing
        by_protocol[entry.protocol] = [*listed, entry.port]
    return [
        PortMatch(protocol, tuple(simplify_ports(by_protocol[protocol] or [])))
        for protocol in sorted(by_protocol)
    ]


def simplify_ports(ports: list[CalicoPort]) -> list[CalicoPort]:
    """Calico's ``SimplifyPorts``: named ports, then numeric ports merged into ranges."""
    names = [port for port in ports if _bounds(port) is None]
    spans = sorted(bounds for port in ports if (bounds := _bounds(port)) is not None)
    if len(ports) <= 1 or sum(high - low + 1 for low, high in spans) <= 1:
        return list(ports)
    merged: list[tuple[int, int]] = []
    for low, high in spans:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return [*names, *(_range_text(low, high) for low, high in merged)]


def _bounds(port: CalicoPort) -> tuple[int, int] | None:
    """(min, max) of a numeric port or ``"N:M"`` range; None for a port name."""
    if isinstance(port, int):
        return port, port
    low, colon, high = port.partition(":")
    if colon and low.isdigit() and high.isdigit():
        return int(low), int(high)
    return None
