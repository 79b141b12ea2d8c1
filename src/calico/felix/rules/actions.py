"""iptables rule targets (``--jump X``, ``--goto X``, ``MARK`` ...) as values.

An :class:`Action` is the exact text iptables-restore receives plus, for
``--jump``/``--goto``, the chain it refers to.  The table driver needs that
reference to know which chains are reachable from the kernel hooks (only those
are programmed) and to refuse a rule set that jumps to a chain nobody defined.

The spellings are Calico's, byte for byte (``felix/iptables/actions.go``):
marks print with Go's ``%#x`` (so a zero mark is ``0x0`` in ``SetMaskedMark``
but a literal ``0`` in ``ClearMark``).  Keeping them identical keeps our rule
hashes identical to a real Felix's, which a test checks against iptables-save
output quoted from Calico issues.
"""

from __future__ import annotations

from dataclasses import dataclass

# iptables refuses --log-prefix values longer than 29 characters; the whole
# restore transaction would then fail, so a long configured prefix is cut.
_MAX_LOG_PREFIX = 29


@dataclass(frozen=True, slots=True)
class Action:
    """A rule target.  ``target`` names the chain for jump/goto actions."""

    text: str
    target: str | None = None

    @property
    def is_return(self) -> bool:
        return self.text == "--jump RETURN"

    def __str__(self) -> str:
        return self.text


ACCEPT = Action("--jump ACCEPT")
DROP = Action("--jump DROP")
REJECT = Action("--jump REJECT")
RETURN = Action("--jump RETURN")
NOTRACK = Action("--jump NOTRACK")


def jump(chain: str) -> Action:
    return Action(f"--jump {chain}", chain)


def goto(chain: str) -> Action:
    """Like jump, but a RETURN in ``chain`` returns past the calling chain."""
    return Action(f"--goto {chain}", chain)


def set_mark(mark: int) -> Action:
    """Set the given bits, leaving every other bit of the packet mark alone."""
    return Action(f"--jump MARK --set-mark {mark:#x}/{mark:#x}")


def set_masked_mark(mark: int, mask: int) -> Action:
    return Action(f"--jump MARK --set-mark {mark:#x}/{mask:#x}")


def clear_mark(mark: int) -> Action:
    return Action(f"--jump MARK --set-mark 0/{mark:#x}")


def log(prefix: str) -> Action:
    text = prefix.replace('"', "")[: _MAX_LOG_PREFIX - 2]
    return Action(f'--jump LOG --log-prefix "{text}: " --log-level 5')


def masquerade(to_ports: str = "") -> Action:
    if to_ports:
        return Action(f"--jump MASQUERADE --to-ports {to_ports}")
    return Action("--jump MASQUERADE")


def snat(to_source: str) -> Action:
    return Action(f"--jump SNAT --to-source {to_source}")


def dnat(address: str, port: int = 0) -> Action:
    if port == 0:
        return Action(f"--jump DNAT --to-destination {address}")
    host = f"[{address}]" if ":" in address else address
    return Action(f"--jump DNAT --to-destination {host}:{port}")


def deny(filter_deny_action: str, table: str = "filter") -> Action:
    """The configured IptablesFilterDenyAction: DROP (default) or REJECT.

    The kernel accepts REJECT only in the filter table (an iptables-restore
    with REJECT in a raw or mangle chain fails as a whole), so everywhere
    else a deny is a DROP.
    """
    return REJECT if filter_deny_action == "REJECT" and table == "filter" else DROP


def verb(action: Action) -> str:
    """``Drop``/``Reject``: how Calico names the deny action inside comments."""
    return action.text.removeprefix("--jump ").capitalize()
