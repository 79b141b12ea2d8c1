"""IP-set membership: the addresses behind each active rule selector.

Calico's ``SelectorAndNamedPortIndex``.  Unlike the policy-selector index,
this one holds *every* endpoint in the cluster (a rule ``from app == "web"``
must admit the web pods of every host) plus the network sets.  Each active
IP set is a selector, optionally with a named port:

* a plain selector set (``hash:net``) gets each matching item's addresses as
  CIDRs: ``10.0.0.1/32`` for endpoints, the declared nets for network sets;
* a named-port set (``hash:ip,port``) gets ``<ip>,<proto>:<port>`` for every
  address of every matching endpoint that declares a port of that name (and
  protocol, unless the rule gave none: "any").

Two items may contribute the same member (a shared IP during a migration, a
network set overlapping a pod): members are reference counted and reported
added on the first contribution, removed when the last one goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from calico.felix.calc.labelindex import LabelIndex
from calico.felix.calc.model import EndpointModel, LabelItemID, NamedPort, NetworkSetModel
from calico.selector import Selector

MemberCallback = Callable[[str, str], None]  # (ip set id, member)

# The kernel cannot store a /0 in a hash:net set; Calico splits it in two.
_SPLIT_ZERO = {
    "0.0.0.0/0": ("0.0.0.0/1", "128.0.0.0/1"),
    "::/0": ("::/1", "8000::/1"),
}


@dataclass(frozen=True, slots=True)
class _SetDef:
    selector: Selector
    named_port: str  # "" for a plain selector set
    protocol: str  # tcp | udp | sctp | any; "" for a plain selector set


@dataclass(frozen=True, slots=True)
class _ItemData:
    nets: tuple[str, ...]
    ports: tuple[NamedPort, ...]


class IPSetMemberIndex:
    def __init__(self, on_member_added: MemberCallback, on_member_removed: MemberCallback):
        self._on_added = on_member_added
        self._on_removed = on_member_removed
        self._index: LabelIndex[LabelItemID, str] = LabelIndex(
            self._match_started, self._match_stopped
        )
        self._sets: dict[str, _SetDef] = {}
        self._items: dict[LabelItemID, _ItemData] = {}
        self._contrib: dict[tuple[str, LabelItemID], tuple[str, ...]] = {}
        self._refcounts: dict[str, dict[str, int]] = {}

    def rebalance(self) -> None:
        """Re-tune the selector index to the items now known (speed only)."""
        self._index.rebalance()

    def members(self, set_id: str) -> frozenset[str]:
        return frozenset(self._refcounts.get(set_id, ()))

    # -- IP sets (from the rule scanner) ----------------------------------

    def update_ipset(
        self, set_id: str, selector: Selector, named_port: str = "", protocol: str = ""
    ) -> None:
        """Start tracking an IP set; its members are reported as they are found."""
        self._sets[set_id] = _SetDef(selector, named_port, protocol)
        self._refcounts.setdefault(set_id, {})
        self._index.update_selector(set_id, selector)

    def delete_ipset(self, set_id: str) -> None:
        """Stop tracking an IP set, silently: the set itself is going away."""
        if self._sets.pop(set_id, None) is None:
            return
        for item_id in self._index.items_matching(set_id):
            del self._contrib[(set_id, item_id)]
        del self._refcounts[set_id]
        self._index.delete_selector(set_id)  # its callbacks now find no set: no-ops

    # -- items (all endpoints and network sets) ----------------------------

    def update_endpoint(self, endpoint: EndpointModel) -> None:
        self._update_item(
            endpoint.id, endpoint.labels, endpoint.profile_ids, endpoint.nets, endpoint.ports
        )

    def update_network_set(self, netset: NetworkSetModel) -> None:
        nets = tuple(part for net in netset.nets for part in _SPLIT_ZERO.get(net, (net,)))
        self._update_item(netset.id, netset.labels, netset.profile_ids, nets, ())

    def delete_item(self, item_id: LabelItemID) -> None:
        self._index.delete_item(item_id)
        self._items.pop(item_id, None)

    def update_parent(self, parent_id: str, labels: Mapping[str, str]) -> None:
        self._index.update_parent(parent_id, labels)

    def delete_parent(self, parent_id: str) -> None:
        self._index.delete_parent(parent_id)

    def _update_item(
        self,
        item_id: LabelItemID,
        labels: Mapping[str, str],
        parents: Sequence[str],
        nets: tuple[str, ...],
        ports: tuple[NamedPort, ...],
    ) -> None:
        data = _ItemData(nets, ports)
        old = self._items.get(item_id)
        # Store the new addresses first: sets that start matching below
        # compute their contribution from them.
        self._items[item_id] = data
        self._index.update_item(item_id, labels, parents)
        if old is not None and old != data:
            # Sets that still match may need different members now.
            for set_id in list(self._index.selectors_matching(item_id)):
                self._recontribute(set_id, item_id)

    # -- contributions -----------------------------------------------------

    def _match_started(self, set_id: str, item_id: LabelItemID) -> None:
        definition = self._sets.get(set_id)
        if definition is None:
            return
        members = _contribution(definition, self._items[item_id])
        self._contrib[(set_id, item_id)] = members
        for member in members:
            self._incref(set_id, member)

    def _match_stopped(self, set_id: str, item_id: LabelItemID) -> None:
        if set_id not in self._sets:
            return
        for member in self._contrib.pop((set_id, item_id)):
            self._decref(set_id, member)

    def _recontribute(self, set_id: str, item_id: LabelItemID) -> None:
        old = self._contrib[(set_id, item_id)]
        new = _contribution(self._sets[set_id], self._items[item_id])
        if old == new:
            return
        self._contrib[(set_id, item_id)] = new
        for member in new:  # add before remove: a kept member never blips
            self._incref(set_id, member)
        for member in old:
            self._decref(set_id, member)

    def _incref(self, set_id: str, member: str) -> None:
        counts = self._refcounts[set_id]
        count = counts.get(member, 0)
        counts[member] = count + 1
        if count == 0:
            self._on_added(set_id, member)

    def _decref(self, set_id: str, member: str) -> None:
        counts = self._refcounts[set_id]
        count = counts[member] - 1
        if count:
            counts[member] = count
        else:
            del counts[member]
            self._on_removed(set_id, member)


def _contribution(definition: _SetDef, item: _ItemData) -> tuple[str, ...]:
    if not definition.named_port:
        return item.nets
    members = []
    for port in item.ports:
        if port.name != definition.named_port:
            continue
        if definition.protocol not in ("any", port.protocol):
            continue
        for net in item.nets:
            address = net.partition("/")[0]
            members.append(f"{address},{port.protocol}:{port.port}")
    return tuple(members)
