"""NAT outgoing: pools → ``network-ip-pools``/``masq-ipam-pools`` sets, ``cali-nat-outgoing``.

Calico's ``masqManager``.  Workloads in a pool with ``natOutgoing: true``
are masqueraded when they talk to anything outside *all* pools::

    -A cali-nat-outgoing -m set --match-set cali40masq-ipam-pools src
       -m set ! --match-set cali40network-ip-pools dst -j MASQUERADE

Both sets always exist (possibly empty), so the chain can be switched on
and off without ever referencing a missing set; the chain itself is empty
while no pool of that family masquerades.
"""

from __future__ import annotations

from collections.abc import Mapping

from calico.felix.dataplane.manager import ManagerBase
from calico.felix.dataplane.tables import IptablesTables
from calico.felix.ipsets import IPSets
from calico.felix.messages import (
    DataplaneMessage,
    IPAMPool,
    IPAMPoolRemove,
    IPAMPoolUpdate,
    IPSetType,
)
from calico.felix.rules import RuleRenderer, names


class MasqManager(ManagerBase):
    def __init__(
        self, renderer: RuleRenderer, tables: IptablesTables, ipsets: Mapping[int, IPSets]
    ) -> None:
        self._renderer = renderer
        self._tables = tables
        self._ipsets = ipsets
        self._pools: dict[str, IPAMPool] = {}
        self._dirty = True

    def on_update(self, msg: DataplaneMessage) -> None:
        if isinstance(msg, IPAMPoolUpdate):
            self._dirty |= self._pools.get(msg.id) != msg.pool
            self._pools[msg.id] = msg.pool
        elif isinstance(msg, IPAMPoolRemove):
            self._dirty |= self._pools.pop(msg.id, None) is not None

    def complete_deferred_work(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for version, ipsets in self._ipsets.items():
            pools = [p for p in self._pools.values() if (":" in p.cidr) == (version == 6)]
            every = [p.cidr for p in pools]
            masq = [p.cidr for p in pools if p.masquerade]
            ipsets.add_or_replace(names.IPSET_ID_NETWORK_POOLS, IPSetType.NET, every)
            ipsets.add_or_replace(names.IPSET_ID_NAT_OUTGOING_MASQ_POOLS, IPSetType.NET, masq)
            self._tables.get("nat", version).set_chains(
                [self._renderer.nat_outgoing_chain(bool(masq), version)]
            )
