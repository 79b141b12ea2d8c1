"""The rendered form of iptables state: :class:`IptRule`, :class:`Chain`,
:class:`KernelHooks`.

These are what the rule renderer produces and what the table driver consumes.
A rule is one iptables line without its chain: a :class:`Match`, an optional
:class:`Action` and free-text comments.  The driver adds the ``cali:<hash>``
comment itself, because the hash depends on the rule's position in its chain.

Rendering follows Calico's iptables renderer exactly::

    -A <chain> [-m comment --comment "cali:<hash>"] [-m comment --comment "<c>"]... <match> <action>

Comments are made shell-safe the way Calico does it (anything outside
``[\\w @%+=:,./-]`` becomes ``_``) and cut to iptables' 256-byte limit, since
iptables-restore has no quoting that survives every character.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from calico.felix.rules.actions import Action
from calico.felix.rules.matches import Match

_SHELL_UNSAFE = re.compile(r"[^\w @%+=:,./-]", re.ASCII)
_MAX_COMMENT = 256


def escape_comment(text: str) -> str:
    return _SHELL_UNSAFE.sub("_", text)[:_MAX_COMMENT]


@dataclass(frozen=True, slots=True)
class IptRule:
    """One rule: ``match`` then ``action``; a rule without action only counts."""

    match: Match = field(default_factory=Match)
    action: Action | None = None
    comments: tuple[str, ...] = ()

    @property
    def target(self) -> str | None:
        """The chain this rule jumps or goes to, if any."""
        return self.action.target if self.action is not None else None

    def render(self, head: str, hash_fragment: str = "") -> str:
        """``head`` is ``-A chain``, ``-I chain`` or ``-R chain N``.

        ``hash_fragment`` is a full ``-m comment --comment "cali:..."`` clause,
        or the bare word ``HASH`` when rendering the text that gets hashed.
        """
        parts = [head]
        if hash_fragment:
            parts.append(hash_fragment)
        parts.extend(f'-m comment --comment "{escape_comment(c)}"' for c in self.comments)
        if self.match.parts:
            parts.append(str(self.match))
        if self.action is not None:
            parts.append(self.action.text)
        return " ".join(parts)

    def with_comments(self, *extra: str) -> IptRule:
        return IptRule(self.match, self.action, self.comments + extra)


@dataclass(frozen=True, slots=True)
class Chain:
    """A Calico-owned chain (name starts with ``cali-``) and its rules."""

    name: str
    rules: tuple[IptRule, ...] = ()

    def lines(self) -> list[str]:
        """The rules as ``-A <name> ...`` lines, without hash comments."""
        return [rule.render(f"-A {self.name}") for rule in self.rules]

    def references(self) -> frozenset[str]:
        return frozenset(r.target for r in self.rules if r.target is not None)


@dataclass(frozen=True, slots=True)
class KernelHooks:
    """Rules a table places into kernel chains (INPUT, FORWARD, ...).

    ``inserts`` go to the top of the kernel chain (or the bottom in "append"
    chain-insert mode); ``appends`` always go to the bottom.
    """

    inserts: Mapping[str, tuple[IptRule, ...]] = field(default_factory=dict)
    appends: Mapping[str, tuple[IptRule, ...]] = field(default_factory=dict)
