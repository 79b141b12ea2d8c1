"""IPReservations as an address filter, and the pool arithmetic that needs it.

An IPReservation (``spec.reservedCIDRs``) stops IPAM from handing out the
addresses it covers; it never releases existing allocations
(libcalico-go ``reserved.go``, ``addr_filter.go``).  Reservations may nest and
overlap, so every count here is a set operation, never a sum of sizes.

Two CIDRs either nest or are disjoint, which keeps the set algebra simple:
a reservation overlapping a block either covers it or lies inside it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence

from calico.ipam._types import IPAddress, IPNetwork

_log = logging.getLogger(__name__)


def parse_reserved_cidrs(entries: Iterable[str]) -> list[IPNetwork]:
    """CIDRs (or bare IPs, as /32 or /128) from ``reservedCIDRs`` entries.

    Malformed entries are skipped with a log line rather than failing every
    allocation in the cluster: validation should have refused them already.
    """
    cidrs: list[IPNetwork] = []
    for raw in entries:
        text = raw.strip()
        if not text:
            continue
        try:
            cidrs.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            _log.error("Ignoring malformed CIDR %r in IPReservation", raw)
    return cidrs


class Reservations:
    """The union of all reserved CIDRs (both IP versions)."""

    def __init__(self, cidrs: Iterable[IPNetwork] = ()) -> None:
        self.cidrs: tuple[IPNetwork, ...] = tuple(cidrs)

    def __bool__(self) -> bool:
        return bool(self.cidrs)

    def matches_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == r.version and ip in r for r in self.cidrs)

    def matches_some(self, cidr: IPNetwork) -> bool:
        return any(r.version == cidr.version and r.overlaps(cidr) for r in self.cidrs)

    def matches_whole(self, cidr: IPNetwork) -> bool:
        return self.count_in(cidr) == cidr.num_addresses

    def count_in(self, cidr: IPNetwork) -> int:
        """How many addresses of ``cidr`` are reserved."""
        return sum(piece.num_addresses for piece in self.pieces_in(cidr))

    def pieces_in(self, cidr: IPNetwork) -> list[IPNetwork]:
        """Disjoint reserved CIDRs inside ``cidr`` (all of it if one reservation covers it)."""
        inside: list[IPNetwork] = []
        for r in self.cidrs:
            if r.version != cidr.version or not r.overlaps(cidr):
                continue
            if _within(cidr, r):
                return [cidr]
            inside.append(r)
        return _outermost(inside)


def _outermost(cidrs: list[IPNetwork]) -> list[IPNetwork]:
    """Drop every CIDR nested in another; what is left is disjoint (CIDRs nest
    or are disjoint), so sizes can be summed."""
    kept: list[IPNetwork] = []
    for cidr in sorted(cidrs, key=lambda c: c.prefixlen):
        if not any(_within(cidr, k) for k in kept):
            kept.append(cidr)
    return kept


def _within(inner: IPNetwork, outer: IPNetwork) -> bool:
    return (
        inner.version == outer.version
        and inner.network_address in outer
        and inner.prefixlen >= outer.prefixlen
    )


def subtract(cidr: IPNetwork, holes: Iterable[IPNetwork]) -> list[IPNetwork]:
    """``cidr`` minus ``holes``, as a list of disjoint CIDRs."""
    remaining = [cidr]
    for hole in holes:
        if hole.version != cidr.version:
            continue
        nxt: list[IPNetwork] = []
        for piece in remaining:
            if _within(piece, hole):
                continue  # swallowed whole
            if _within(hole, piece):
                nxt.extend(_exclude(piece, hole))
            else:
                nxt.append(piece)
        remaining = nxt
    return remaining


def _exclude(piece: IPNetwork, hole: IPNetwork) -> list[IPNetwork]:
    # Two branches only so that the type checker sees matching versions.
    if isinstance(piece, ipaddress.IPv4Network) and isinstance(hole, ipaddress.IPv4Network):
        return list(piece.address_exclude(hole))
    if isinstance(piece, ipaddress.IPv6Network) and isinstance(hole, ipaddress.IPv6Network):
        return list(piece.address_exclude(hole))
    return [piece]


def count_pool_space(
    pool: IPNetwork, reservations: Reservations, blocks: Sequence[IPNetwork]
) -> tuple[int, int, int]:
    """``(capacity, reserved, available_outside_blocks)`` for a whole pool.

    ``available_outside_blocks`` counts addresses neither reserved nor inside one
    of ``blocks``: space no block has been carved from yet.  Addresses inside a
    block are the caller's business (it knows which are allocated).
    """
    assignable = subtract(pool, reservations.pieces_in(pool))
    outside_blocks = [p for piece in assignable for p in subtract(piece, blocks)]
    num_assignable = sum(p.num_addresses for p in assignable)
    return (
        pool.num_addresses,
        pool.num_addresses - num_assignable,
        sum(p.num_addresses for p in outside_blocks),
    )
