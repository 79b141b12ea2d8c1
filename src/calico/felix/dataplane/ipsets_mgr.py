"""IP set messages → the IP set drivers of each family.

The calc graph's set IDs are family-neutral: a selector set holds every
matching endpoint's IPv4 and IPv6 addresses.  Each family's
:class:`~calico.felix.ipsets.IPSets` keeps only its own members, so every
message goes to every family (Calico's ``ipSetsManager``, one per family).
"""

from __future__ import annotations

from collections.abc import Mapping

from calico.felix.dataplane.manager import ManagerBase
from calico.felix.ipsets import IPSets
from calico.felix.messages import DataplaneMessage, IPSetDeltaUpdate, IPSetRemove, IPSetUpdate


class IPSetsManager(ManagerBase):
    def __init__(self, ipsets: Mapping[int, IPSets]) -> None:
        self._ipsets = ipsets
        self._active: set[str] = set()

    def on_update(self, msg: DataplaneMessage) -> None:
        if not isinstance(msg, IPSetUpdate | IPSetDeltaUpdate | IPSetRemove):
            return
        for ipsets in self._ipsets.values():
            ipsets.on_message(msg)
        if isinstance(msg, IPSetUpdate):
            self._active.add(msg.id)
        elif isinstance(msg, IPSetRemove):
            self._active.discard(msg.id)

    @property
    def active_count(self) -> int:
        """How many policy IP sets exist (per family)."""
        return len(self._active)
