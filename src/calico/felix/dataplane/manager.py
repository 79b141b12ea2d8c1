"""The contract between the dataplane driver and its managers.

A manager turns dataplane messages into desired state for the drivers
(iptables tables, IP sets, route tables) -- Calico's ``Manager`` interface:

* :meth:`Manager.on_update` records what a message says.  It must never
  touch the kernel: messages arrive before the datastore is in sync, and
  kernel writes must wait for that (a half-synced view would delete state
  that is still wanted);
* :meth:`Manager.on_interfaces` hands over the latest snapshot of the
  host's interfaces (read by the driver during apply);
* :meth:`Manager.complete_deferred_work` renders the recorded changes into
  the drivers.  It runs inside apply, so it may read the kernel, but the
  writes themselves are the drivers' job (or a manager's explicit
  ``apply_kernel`` step, for objects no generic driver handles: devices,
  FDB entries, sysctls).

:class:`ManagerBase` gives the no-op defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from calico.felix.dataplane.netlink import Address, Link
from calico.felix.messages import DataplaneMessage


@dataclass(frozen=True)
class Interfaces:
    """The host's interfaces and their addresses at one moment."""

    links: Mapping[str, Link] = field(default_factory=dict)
    addresses: Mapping[str, tuple[Address, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, links: list[Link], addresses: list[Address]) -> Interfaces:
        by_iface: dict[str, list[Address]] = {}
        for addr in addresses:
            by_iface.setdefault(addr.ifname, []).append(addr)
        return cls(
            {link.name: link for link in links},
            {name: tuple(addrs) for name, addrs in by_iface.items()},
        )

    def iface_with_ip(self, ip: str) -> str | None:
        """The interface that holds address ``ip`` (the parent of a tunnel)."""
        for name, addrs in sorted(self.addresses.items()):
            if any(a.ip == ip for a in addrs):
                return name
        return None


class Manager(Protocol):
    def on_update(self, msg: DataplaneMessage) -> None: ...

    def on_interfaces(self, interfaces: Interfaces) -> None: ...

    def complete_deferred_work(self) -> None: ...


class ManagerBase:
    def on_update(self, msg: DataplaneMessage) -> None:
        del msg

    def on_interfaces(self, interfaces: Interfaces) -> None:
        del interfaces

    def complete_deferred_work(self) -> None:
        pass
