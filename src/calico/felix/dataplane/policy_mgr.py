"""Active policies and profiles → ``cali-pi-``/``cali-po-``/``cali-pri-``/``cali-pro-`` chains.

Which tables get which chains (Calico's ``policyManager``):

* filter: every policy and profile (workload and host endpoint chains);
* mangle: every policy and profile as well: host endpoint egress policy for
  DNAT'd traffic runs in mangle POSTROUTING with the normal tiers, and
  pre-DNAT policy in mangle PREROUTING;
* raw: untracked (doNotTrack) policies only.

Each table gets its own rendering (a deny in raw or mangle is always DROP:
those tables refuse REJECT).  The table driver only programs chains some
endpoint chain reaches, so a policy chain nobody uses costs no kernel work.
"""

from __future__ import annotations

from calico.felix.dataplane.manager import ManagerBase
from calico.felix.dataplane.tables import IptablesTables
from calico.felix.messages import (
    ActivePolicyRemove,
    ActivePolicyUpdate,
    ActiveProfileRemove,
    ActiveProfileUpdate,
    DataplaneMessage,
    PolicyID,
    ProfileID,
)
from calico.felix.rules import RuleRenderer
from calico.felix.rules.types import Chain

_Key = tuple[str, PolicyID | ProfileID]  # ("policy"|"profile", id)


class PolicyManager(ManagerBase):
    def __init__(self, renderer: RuleRenderer, tables: IptablesTables) -> None:
        self._renderer = renderer
        self._tables = tables
        # What each policy/profile put into each (table, version), for removal.
        self._programmed: dict[_Key, dict[tuple[str, int], set[str]]] = {}
        self.policy_count = 0

    def on_update(self, msg: DataplaneMessage) -> None:
        if isinstance(msg, ActivePolicyUpdate):
            self._program(("policy", msg.id), self._policy_chains(msg))
        elif isinstance(msg, ActivePolicyRemove):
            self._program(("policy", msg.id), {})
        elif isinstance(msg, ActiveProfileUpdate):
            self._program(("profile", msg.id), self._profile_chains(msg))
        elif isinstance(msg, ActiveProfileRemove):
            self._program(("profile", msg.id), {})
        else:
            return
        self.policy_count = sum(1 for kind, _ in self._programmed if kind == "policy")

    def _policy_chains(self, msg: ActivePolicyUpdate) -> dict[tuple[str, int], list[Chain]]:
        tables = ["filter", "mangle"] + (["raw"] if msg.policy.untracked else [])
        return {
            (table, v): self._renderer.policy_to_chains(msg.id, msg.policy, v, table)
            for v in self._tables.ip_versions
            for table in tables
        }

    def _profile_chains(self, msg: ActiveProfileUpdate) -> dict[tuple[str, int], list[Chain]]:
        return {
            (table, v): self._renderer.profile_to_chains(msg.id, msg.profile, v, table)
            for v in self._tables.ip_versions
            for table in ("filter", "mangle")
        }

    def _program(self, key: _Key, chains: dict[tuple[str, int], list[Chain]]) -> None:
        """Set the new chains, then remove the ones this object no longer has."""
        before = self._programmed.pop(key, {})
        after = {where: {c.name for c in cs} for where, cs in chains.items() if cs}
        for (table, version), new in chains.items():
            self._tables.get(table, version).set_chains(new)
        for (table, version), names in before.items():
            stale = names - after.get((table, version), set())
            if stale:
                self._tables.get(table, version).remove_chains(stale)
        if after:
            self._programmed[key] = after
