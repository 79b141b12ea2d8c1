"""Reading a table back from ``iptables-save -t <table>``.

We deliberately parse very little (Calico's design goal 4): rules do not
round-trip through the kernel in the form we wrote them (iptables-save puts
``-p tcp`` before our comment, prints ``-j`` for ``--jump``, ``--set-xmark``
for ``--set-mark`` ...), so comparing rule text would see drift everywhere.
Instead we keep, per chain, only the list of our ``cali:<hash>`` IDs (``""``
for a rule that has none) and, for chains we do not own, the full saved lines
so that our own rules there can be deleted by value without disturbing
anybody else's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from calico.errors import DataplaneError
from calico.felix.rules.names import CHAIN_PREFIX

_HASH_COMMENT = re.compile(r'--comment "?cali:([A-Za-z0-9_-]+)"?')
# iptables-nft prints this (and exits 0) for tables written by the nft tool
# in a form it cannot represent; treating the output as empty would make us
# believe the table has no rules at all.
_NFT_INCOMPATIBLE = re.compile(r"^# Table .* is incompatible, use 'nft' tool")


def is_ours(chain: str) -> bool:
    return chain.startswith(CHAIN_PREFIX)


@dataclass
class TableState:
    """What one table holds: rule hashes per chain, full lines of foreign chains."""

    hashes: dict[str, list[str]] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)

    def copy(self) -> TableState:
        return TableState(
            {k: list(v) for k, v in self.hashes.items()},
            {k: list(v) for k, v in self.lines.items()},
        )


def parse_save(text: str, table: str) -> TableState:
    state = TableState()
    in_table = False
    for line in text.splitlines():
        if _NFT_INCOMPATIBLE.match(line):
            raise DataplaneError(
                f"iptables-save cannot read table {table}: it holds nft rules iptables-nft "
                "does not understand; remove them with the nft tool"
            )
        if line.startswith("*"):
            in_table = line[1:].strip() == table
        elif not in_table:
            continue
        elif line.startswith(":"):
            chain = line[1:].split()[0]
            state.hashes.setdefault(chain, [])
            if not is_ours(chain):
                state.lines.setdefault(chain, [])
        elif line.startswith("-A "):
            _add_rule(state, line)
    return state


def _add_rule(state: TableState, line: str) -> None:
    chain = line.split()[1]
    found = _HASH_COMMENT.search(line)
    state.hashes.setdefault(chain, []).append(found.group(1) if found else "")
    if not is_ours(chain):
        state.lines.setdefault(chain, []).append(line)
