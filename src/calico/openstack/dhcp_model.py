"""What one host's DHCP server must serve, computed from the datastore.

Inputs: the DHCP subnet keys (``subnets.py`` writes them) and this host's
OpenStack WorkloadEndpoints.  Output: a :class:`DhcpConfig`, the subnets in
use on this host and one reservation per (port, fixed IP), which
``dnsmasq.py`` renders.  Pure functions, no I/O.

Only fixed IPs get a reservation: the allowed-address-pair IPs an endpoint
also lists (the ``allowed-ips`` annotation, see ``labels.py``) belong to
something else behind the VM.  A fixed IP is matched to the subnet that
contains it, preferring the endpoint's own network (two networks may reuse
a CIDR).  IPv6 subnets are not served yet: they need router advertisements
and DHCPv6 on the taps, which this agent does not set up.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from calico.errors import ValidationError
from calico.openstack import labels as lbl
from calico.resources import WorkloadEndpoint, parse_resource

_log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class DhcpSubnet:
    id: str
    network_id: str
    cidr: ipaddress.IPv4Network
    gateway: str | None = None
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination CIDR, next hop)
    dns_servers: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class DhcpHost:
    """A reservation: the VM with ``mac`` gets ``ip`` from ``subnet_id``."""

    port_id: str
    mac: str
    ip: str
    subnet_id: str
    interface: str  # the port's tap, for the log


@dataclass(frozen=True)
class DhcpConfig:
    subnets: tuple[DhcpSubnet, ...] = ()  # those with at least one reservation
    hosts: tuple[DhcpHost, ...] = ()

    @property
    def gateways(self) -> tuple[str, ...]:
        return tuple(sorted({s.gateway for s in self.subnets if s.gateway}))


def parse_subnet(subnet_id: str, value: str) -> DhcpSubnet | None:
    """A subnet key's value as a DhcpSubnet; None (logged) if unusable or IPv6."""
    try:
        raw = json.loads(value)
        cidr = ipaddress.ip_network(raw["cidr"], strict=False)
        routes = tuple(
            (str(r["destination"]), str(r["nexthop"])) for r in raw.get("host_routes") or ()
        )
    except (ValueError, KeyError, TypeError) as exc:
        _log.warning("subnet %s: unusable DHCP data %r (%s)", subnet_id, value, exc)
        return None
    if not isinstance(cidr, ipaddress.IPv4Network):
        _log.info("subnet %s: IPv6 is not served by this DHCP agent", subnet_id)
        return None
    return DhcpSubnet(
        id=subnet_id,
        network_id=str(raw.get("network_id") or ""),
        cidr=cidr,
        gateway=raw.get("gateway_ip") or None,
        host_routes=routes,
        dns_servers=tuple(raw.get("dns_servers") or ()),
    )


def parse_endpoint(key: str, value: str) -> WorkloadEndpoint | None:
    """The WorkloadEndpoint stored under ``key``; None (logged) if invalid."""
    try:
        wep = parse_resource(json.loads(value))
    except (ValueError, ValidationError) as exc:
        _log.warning("ignoring invalid endpoint %s: %s", key, exc)
        return None
    return wep if isinstance(wep, WorkloadEndpoint) else None


def desired_config(
    subnets: Mapping[str, DhcpSubnet], endpoints: Iterable[WorkloadEndpoint], host: str
) -> DhcpConfig:
    """The reservations for ``host``'s OpenStack endpoints, and their subnets."""
    hosts: list[DhcpHost] = []
    for wep in endpoints:
        if wep.spec.node == host and wep.spec.orchestrator == "openstack":
            hosts += _reservations(wep, subnets)
    used = {h.subnet_id for h in hosts}
    return DhcpConfig(
        subnets=tuple(sorted(s for s in subnets.values() if s.id in used)),
        hosts=tuple(sorted(hosts)),
    )


def _reservations(wep: WorkloadEndpoint, subnets: Mapping[str, DhcpSubnet]) -> list[DhcpHost]:
    if not wep.spec.mac:
        return []  # nothing to match the VM's requests by
    annotations = wep.metadata.annotations
    allowed = set(filter(None, annotations.get(lbl.ALLOWED_IPS_ANNOTATION, "").split(",")))
    network_id = annotations.get(lbl.NETWORK_ID_ANNOTATION)
    found = []
    for cidr in wep.spec.ip_networks:
        if cidr in allowed:
            continue
        ip = ipaddress.ip_interface(cidr).ip
        subnet = _subnet_for(ip, network_id, subnets)
        if subnet is None:
            _log.debug("endpoint %s: no DHCP subnet for %s", wep.name, ip)
            continue
        found.append(
            DhcpHost(wep.spec.endpoint, wep.spec.mac, str(ip), subnet.id, wep.spec.interface_name)
        )
    return found


def _subnet_for(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
    network_id: str | None,
    subnets: Mapping[str, DhcpSubnet],
) -> DhcpSubnet | None:
    matches = sorted(s for s in subnets.values() if ip in s.cidr)
    for subnet in matches:
        if network_id and subnet.network_id == network_id:
            return subnet
    return matches[0] if matches else None
