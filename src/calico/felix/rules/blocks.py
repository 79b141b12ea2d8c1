"""Match blocks: OR-ing what one iptables rule cannot (Calico's matchBlockBuilder).

A Calico rule ORs its ports, its named ports and its CIDRs, and ANDs "none of
these" for the negated CIDR lists.  When that does not fit one iptables rule
the policy renderer emits blocks before the main rule::

    reset rule                      scratch0 := 0 (or 1 if the first block is negated)
    positive block (src ports)      any match -> scratch0 := 1        (first positive block)
    positive block (dst ports)      any match -> scratch1 := 1
                                    scratch1 clear -> scratch0 := 0   (AND into scratch0)
    negated block (!src CIDRs)      any match -> scratch0 := 0
    main rule                       ... -m mark --mark scratch0/scratch0

Invariant: after each block, scratch0 is set only if every block so far
matched.  The first positive block writes scratch0 directly (one rule fewer
per block); later positive blocks use scratch1 and AND it in.

One deliberate difference from Calico: Calico never clears scratch1 between
positive blocks, so with three or more (e.g. src ports, dst ports and src
CIDRs all overflowing) a dst-port match leaves scratch1 set and the src-CIDR
block can no longer fail: the rule matches packets from the wrong sources.
We clear scratch1 before the third and later positive blocks.  Rules with at
most two positive blocks render exactly as in Calico.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from calico.felix.messages import PortRange, Protocol
from calico.felix.rules import actions
from calico.felix.rules.matches import Match
from calico.felix.rules.types import IptRule


class Side(enum.Enum):
    SRC = "src"
    DST = "dst"

    def net(self, m: Match, cidr: str) -> Match:
        return m.source_net(cidr) if self is Side.SRC else m.dest_net(cidr)

    def ports(self, m: Match, ports: Sequence[PortRange]) -> Match:
        return m.source_ports(ports) if self is Side.SRC else m.dest_ports(ports)

    def ip_port_set(self, m: Match, name: str) -> Match:
        return m.source_ip_port_set(name) if self is Side.SRC else m.dest_ip_port_set(name)


class MatchBlocks:
    """Accumulates block rules; ``used`` says whether the main rule needs scratch0."""

    def __init__(self, all_blocks_bit: int, this_block_bit: int) -> None:
        self._all = all_blocks_bit
        self._this = this_block_bit
        self._positive_blocks = 0
        self.rules: list[IptRule] = []
        self.used = False

    def port_block(
        self,
        protocol: Protocol | None,
        splits: Sequence[Sequence[PortRange]],
        named_port_sets: Sequence[str],
        side: Side,
    ) -> None:
        """OR of numeric port groups (each with the protocol) and IP,port sets."""
        base = Match() if protocol is None else Match().protocol(protocol)
        matches = [side.ports(base, split) for split in splits]
        matches += [side.ip_port_set(Match(), name) for name in named_port_sets]
        self._positive_block(matches)

    def cidr_block(self, cidrs: Sequence[str], side: Side) -> None:
        self._positive_block([side.net(Match(), cidr) for cidr in cidrs])

    def negated_cidr_block(self, cidrs: Sequence[str], side: Side) -> None:
        """Any listed CIDR matching clears the all-blocks bit: "none of these"."""
        self._start(initial=self._all)
        for cidr in cidrs:
            self.rules.append(IptRule(side.net(Match(), cidr), actions.clear_mark(self._all)))

    def _positive_block(self, matches: Sequence[Match]) -> None:
        self._start(initial=0)
        first = self._positive_blocks == 0
        if self._positive_blocks >= 2:
            # scratch1 may still be set by the previous block; see module docstring.
            self.rules.append(IptRule(action=actions.clear_mark(self._this)))
        bit = self._all if first else self._this
        self.rules.extend(IptRule(m, actions.set_mark(bit)) for m in matches)
        if not first:
            # all-blocks &&= this-block
            self.rules.append(
                IptRule(Match().mark_clear(self._this), actions.clear_mark(self._all))
            )
        self._positive_blocks += 1

    def _start(self, *, initial: int) -> None:
        """Write the reset rule before the first block of a rule."""
        if self.used:
            return
        both = self._all | self._this
        self.rules.append(IptRule(action=actions.set_masked_mark(initial, both)))
        self.used = True
