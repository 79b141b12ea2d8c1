"""Match fragments: an immutable builder for the match part of a rule.

``Match().protocol("tcp").dest_ports([PortRange(80, 80)])`` renders as
``-p tcp -m multiport --destination-ports 80``.  Every method returns a new
:class:`Match`; ``a + b`` concatenates two matches.  The strings are the ones
Calico's ``felix/iptables/match_builder.go`` produces, so rendered rules (and
therefore rule hashes) are identical to a real Felix's.

Two kernel details shape the fragments:

* ``multiport`` takes at most 15 port "slots" (a range uses two).  Splitting
  longer lists is the policy renderer's job (:func:`split_ports`); this module
  renders whatever it is given.
* Mark matches use a value/mask pair.  A single-bit test is written
  ``--mark B/B``; "bit clear" is written ``--mark 0/B`` (a literal ``0``, as
  Calico writes it, not ``0x0``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from calico.felix.messages import PortRange

# iptables' multiport match accepts up to 15 ports; a range costs two.
MULTIPORT_SLOTS = 15


def _ports(ports: Iterable[PortRange]) -> str:
    return ",".join(str(p) for p in ports)


@dataclass(frozen=True, slots=True)
class Match:
    parts: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " ".join(self.parts)

    def __add__(self, other: Match) -> Match:
        return Match(self.parts + other.parts)

    def _with(self, fragment: str) -> Match:
        return Match((*self.parts, fragment))

    # --- protocol and addresses ---------------------------------------------

    def protocol(self, proto: str | int) -> Match:
        return self._with(f"-p {proto}")

    def not_protocol(self, proto: str | int) -> Match:
        return self._with(f"! -p {proto}")

    def source_net(self, cidr: str) -> Match:
        return self._with(f"--source {cidr}")

    def not_source_net(self, cidr: str) -> Match:
        return self._with(f"! --source {cidr}")

    def dest_net(self, cidr: str) -> Match:
        return self._with(f"--destination {cidr}")

    def not_dest_net(self, cidr: str) -> Match:
        return self._with(f"! --destination {cidr}")

    # --- IP sets --------------------------------------------------------------

    def source_ip_set(self, name: str) -> Match:
        return self._with(f"-m set --match-set {name} src")

    def not_source_ip_set(self, name: str) -> Match:
        return self._with(f"-m set ! --match-set {name} src")

    def dest_ip_set(self, name: str) -> Match:
        return self._with(f"-m set --match-set {name} dst")

    def not_dest_ip_set(self, name: str) -> Match:
        return self._with(f"-m set ! --match-set {name} dst")

    def source_ip_port_set(self, name: str) -> Match:
        return self._with(f"-m set --match-set {name} src,src")

    def not_source_ip_port_set(self, name: str) -> Match:
        return self._with(f"-m set ! --match-set {name} src,src")

    def dest_ip_port_set(self, name: str) -> Match:
        return self._with(f"-m set --match-set {name} dst,dst")

    def not_dest_ip_port_set(self, name: str) -> Match:
        return self._with(f"-m set ! --match-set {name} dst,dst")

    # --- ports ----------------------------------------------------------------

    def source_ports(self, ports: Sequence[PortRange]) -> Match:
        return self._with(f"-m multiport --source-ports {_ports(ports)}")

    def not_source_ports(self, ports: Sequence[PortRange]) -> Match:
        return self._with(f"-m multiport ! --source-ports {_ports(ports)}")

    def dest_ports(self, ports: Sequence[PortRange]) -> Match:
        return self._with(f"-m multiport --destination-ports {_ports(ports)}")

    def not_dest_ports(self, ports: Sequence[PortRange]) -> Match:
        return self._with(f"-m multiport ! --destination-ports {_ports(ports)}")

    def dest_port(self, port: int) -> Match:
        """The single-port ``--dport`` form (needs ``-p tcp|udp`` before it)."""
        return self._with(f"--dport {port}")

    # --- ICMP -----------------------------------------------------------------

    def icmp_type(self, icmp_type: int, code: int | None = None, *, v6: bool = False) -> Match:
        return self._with(_icmp(icmp_type, code, v6, negate=False))

    def not_icmp_type(self, icmp_type: int, code: int | None = None, *, v6: bool = False) -> Match:
        return self._with(_icmp(icmp_type, code, v6, negate=True))

    # --- marks ----------------------------------------------------------------

    def mark_clear(self, mark: int) -> Match:
        return self._with(f"-m mark --mark 0/{mark:#x}")

    def mark_single_bit_set(self, mark: int) -> Match:
        if mark.bit_count() != 1:
            raise ValueError(f"mark {mark:#x} is not a single bit")
        return self.mark_matches_with_mask(mark, mark)

    def mark_matches_with_mask(self, mark: int, mask: int) -> Match:
        return self._with(f"-m mark --mark {mark:#x}/{mask:#x}")

    # --- interfaces, conntrack, address types, misc ----------------------------

    def in_interface(self, name: str) -> Match:
        return self._with(f"--in-interface {name}")

    def out_interface(self, name: str) -> Match:
        return self._with(f"--out-interface {name}")

    def conntrack_state(self, states: str) -> Match:
        return self._with(f"-m conntrack --ctstate {states}")

    def not_conntrack_state(self, states: str) -> Match:
        return self._with(f"-m conntrack ! --ctstate {states}")

    def rpf_check_failed(self) -> Match:
        return self._with("-m rpfilter --invert --validmark")

    def src_addr_type(self, addr_type: str, *, limit_iface_out: bool = False) -> Match:
        suffix = " --limit-iface-out" if limit_iface_out else ""
        return self._with(f"-m addrtype --src-type {addr_type}{suffix}")

    def not_src_addr_type(self, addr_type: str, *, limit_iface_out: bool = False) -> Match:
        suffix = " --limit-iface-out" if limit_iface_out else ""
        return self._with(f"-m addrtype ! --src-type {addr_type}{suffix}")

    def dest_addr_type(self, addr_type: str) -> Match:
        return self._with(f"-m addrtype --dst-type {addr_type}")

    def limit(self, rate: str, burst: int = 0) -> Match:
        if burst:
            return self._with(f"-m limit --limit {rate} --limit-burst {burst}")
        return self._with(f"-m limit --limit {rate}")


def _icmp(icmp_type: int, code: int | None, v6: bool, *, negate: bool) -> str:
    value = str(icmp_type) if code is None else f"{icmp_type}/{code}"
    bang = "! " if negate else ""
    if v6:
        return f"-m icmp6 {bang}--icmpv6-type {value}"
    return f"-m icmp {bang}--icmp-type {value}"


def split_ports(ports: Sequence[PortRange]) -> list[list[PortRange]]:
    """Split a port list into groups that each fit one multiport match."""
    groups: list[list[PortRange]] = []
    current: list[PortRange] = []
    free = MULTIPORT_SLOTS
    for port in ports:
        needed = 1 if port.first == port.last else 2
        if needed > free:
            groups.append(current)
            current, free = [], MULTIPORT_SLOTS
        current.append(port)
        free -= needed
    if current:
        groups.append(current)
    return groups
