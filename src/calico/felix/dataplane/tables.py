"""Felix's iptables tables: one :class:`~calico.felix.iptables.Table` per table and family.

At construction every table gets its static skeleton (the ``cali-INPUT`` /
``cali-FORWARD`` / ... chains, failsafes, and initial forms of the dynamic
chains they reference) and the hooks that jump into it from the kernel
chains.  That is desired state only: nothing is written before the
dataplane's first apply, which comes after the datastore is in sync.
Managers then replace chains by name.

Apply order within a family is raw, mangle, nat, filter (the renderer's
``TABLES``); each is one ``iptables-restore`` transaction, so a failure
leaves that table exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator

from calico.felix.iptables import CommandRunner, Table
from calico.felix.rules import TABLES, RuleRenderer


class IptablesTables:
    def __init__(
        self,
        renderer: RuleRenderer,
        cmd: CommandRunner,
        ip_versions: tuple[int, ...],
        *,
        backend: str = "auto",
        insert_mode: str = "insert",
    ) -> None:
        self.ip_versions = ip_versions
        self._tables: dict[tuple[str, int], Table] = {}
        for version in ip_versions:
            for name in TABLES:
                table = Table(name, version, cmd, backend=backend, insert_mode=insert_mode)
                table.set_chains(renderer.static_chains(name, version))
                hooks = renderer.kernel_hooks(name, version)
                for chain, rules in hooks.inserts.items():
                    table.set_insert_rules(chain, rules)
                for chain, rules in hooks.appends.items():
                    table.set_append_rules(chain, rules)
                self._tables[(name, version)] = table

    def get(self, name: str, ip_version: int) -> Table:
        return self._tables[(name, ip_version)]

    def all(self) -> Iterator[Table]:
        """Every table, in apply order (per family: raw, mangle, nat, filter)."""
        for version in self.ip_versions:
            for name in TABLES:
                yield self._tables[(name, version)]

    def apply(self) -> None:
        for table in self.all():
            table.apply()

    def invalidate(self) -> None:
        """Re-read every table at the next apply: repairs drift (IptablesRefreshInterval)."""
        for table in self.all():
            table.invalidate()
