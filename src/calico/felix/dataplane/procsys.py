"""Sysctls: the ``/proc/sys`` seam and the per-interface settings felix applies.

Keys are paths below ``/proc/sys`` (``net/ipv4/conf/cali123/proxy_arp``),
not dotted names, because interface names may contain dots
(``vxlan.calico``) and ``sysctl`` would read those as separators.

Writing the file directly, rather than running ``sysctl -w``, gives a real
error: inside a network namespace some keys are read-only and ``sysctl -w``
prints an error yet exits 0 (MACHINE.md).  A write is still only trusted
once the value reads back, which also catches keys the kernel silently
clamps.

What felix sets on each workload interface (Calico's
``configureProcSysForInterface``), and why:

* ``proxy_arp=1``: the workload's gateway ``169.254.1.1`` exists nowhere; the
  host answers ARP for it (and for anything else) with its own MAC.  The
  kernel only answers when it has a route to the address out of *another*
  interface, which on a real host is the default route;
* ``neigh/<if>/proxy_delay=0``: otherwise every proxy ARP reply is held back
  for a random time of up to 0.8 s;
* ``forwarding=1``: route packets arriving from the workload;
* ``route_localnet=1``: allow NAT to the host's loopback (metadata service);
* ``rp_filter``: the namespace default (``conf/default/rp_filter``, 0 in a
  fresh namespace), or 0 if the workload may spoof some source prefixes.
  Anti-spoofing does not depend on it: the raw table's ``rpfilter`` match
  drops spoofed sources whatever this says;
* ``ipv6/conf/<if>/accept_ra=0``: never let a workload route the host;
* with IPv6: ``proxy_ndp=1`` and ``forwarding=1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

PROC_SYS = Path("/proc/sys")


class ProcSys(Protocol):
    def read(self, key: str) -> str | None:
        """The current value, or None if the key does not exist."""
        ...

    def write(self, key: str, value: str) -> None:
        """Set ``key``; raises OSError if it cannot be written or does not stick."""
        ...


class RealProcSys:
    def __init__(self, root: Path = PROC_SYS) -> None:
        self._root = root

    def read(self, key: str) -> str | None:
        try:
            return (self._root / key).read_text().strip()
        except OSError:
            return None

    def write(self, key: str, value: str) -> None:
        (self._root / key).write_text(value)
        if self.read(key) != value:
            raise OSError(f"/proc/sys/{key}: wrote {value}, reads back {self.read(key)}")


def interface_sysctls(
    ifname: str, *, rp_filter: str, ipv6: bool
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(required, best_effort)`` key/value pairs for workload interface ``ifname``.

    A failure to write a required key means the interface is not correctly
    configured; best-effort keys may be missing (IPv6 disabled on the link).
    """
    required = [
        (f"net/ipv4/conf/{ifname}/route_localnet", "1"),
        (f"net/ipv4/conf/{ifname}/proxy_arp", "1"),
        (f"net/ipv4/conf/{ifname}/forwarding", "1"),
        (f"net/ipv4/conf/{ifname}/rp_filter", rp_filter),
    ]
    best_effort = [
        (f"net/ipv4/neigh/{ifname}/proxy_delay", "0"),
        (f"net/ipv6/conf/{ifname}/accept_ra", "0"),
    ]
    if ipv6:
        best_effort += [
            (f"net/ipv6/conf/{ifname}/proxy_ndp", "1"),
            (f"net/ipv6/conf/{ifname}/forwarding", "1"),
        ]
    return required, best_effort


def global_sysctls(*, ipv6: bool) -> list[tuple[str, str]]:
    """Forwarding on: a Calico host is a router."""
    keys = [("net/ipv4/ip_forward", "1")]
    if ipv6:
        keys.append(("net/ipv6/conf/all/forwarding", "1"))
    return keys
