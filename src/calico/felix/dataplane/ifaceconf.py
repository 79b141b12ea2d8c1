"""Per-interface sysctls for workload interfaces, applied once per interface incarnation.

An interface is configured when it first appears, and again only if it is
re-created (new ifindex) or its rp_filter value must change (the endpoint
gained or lost allowSpoofedSourcePrefixes).  Sysctls of a deleted interface
vanish with it, so there is nothing to undo.  See :mod:`.procsys` for what
is written and why.

A failed required write leaves the interface in :attr:`failed`: its endpoint
reports ``down`` and the write is retried on the next apply.  Losing a race
with the interface's deletion looks the same and resolves itself when the
link disappears from the snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from calico.felix.dataplane.procsys import ProcSys, global_sysctls, interface_sysctls

log = logging.getLogger(__name__)

STRICT_RP_FILTER = "1"


class InterfaceConfigurator:
    def __init__(self, procsys: ProcSys, *, ipv6: bool) -> None:
        self._procsys = procsys
        self._ipv6 = ipv6
        self._default_rp_filter: str | None = None
        self._done: dict[str, tuple[int, str]] = {}  # ifname -> (ifindex, rp_filter)
        self.failed: set[str] = set()

    def configure_global(self) -> None:
        for key, value in global_sysctls(ipv6=self._ipv6):
            try:
                self._procsys.write(key, value)
            except OSError as exc:
                log.warning("Cannot set %s=%s: %s", key, value, exc)

    def configure(self, wanted: Mapping[str, tuple[int, bool]]) -> None:
        """``wanted`` maps each present workload interface to (ifindex, may spoof)."""
        for name in [n for n in self._done if n not in wanted]:
            del self._done[name]
        self.failed &= set(wanted)
        for name, (index, may_spoof) in sorted(wanted.items()):
            rp_filter = "0" if may_spoof else self._rp_filter_default()
            if self._done.get(name) == (index, rp_filter) and name not in self.failed:
                continue
            if self._write_all(name, rp_filter):
                self._done[name] = (index, rp_filter)
                self.failed.discard(name)
            else:
                self._done.pop(name, None)
                self.failed.add(name)

    def _write_all(self, name: str, rp_filter: str) -> bool:
        required, best_effort = interface_sysctls(name, rp_filter=rp_filter, ipv6=self._ipv6)
        log.info("Configuring sysctls of interface %s (rp_filter=%s)", name, rp_filter)
        for key, value in required:
            try:
                self._procsys.write(key, value)
            except OSError as exc:
                log.warning("Cannot configure interface %s: %s=%s: %s", name, key, value, exc)
                return False
        for key, value in best_effort:
            try:
                self._procsys.write(key, value)
            except OSError as exc:
                log.debug("Skipping %s=%s on %s: %s", key, value, name, exc)
        return True

    def _rp_filter_default(self) -> str:
        """The namespace default, as Calico reads it (strict if unreadable)."""
        if self._default_rp_filter is None:
            value = self._procsys.read("net/ipv4/conf/default/rp_filter")
            self._default_rp_filter = value if value in ("0", "1", "2") else STRICT_RP_FILTER
        return self._default_rp_filter
