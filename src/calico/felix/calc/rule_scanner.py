"""Active rules -> dataplane rules, and the IP sets those rules need.

Calico's ``RuleScanner``.  The dataplane matches on IP sets, not selectors,
so every active policy's and profile's rules are rewritten here:

* a source/destination selector becomes a ``hash:net`` set whose ID is the
  selector's unique ID (``s:...``), so identical selectors share one set;
* a named port becomes a ``hash:ip,port`` set,
  ``MakeUniqueID("n", "<selector id>,<proto>,<port name>")``, filtered by the
  rule's positive selector in that direction (``all()`` if none);
* as in Calico, a positive selector absorbs the negated one,
  ``(sel) && (!(notSel))``, so the rule needs one set instead of two, and
  the selector set is dropped when named ports already cover it (the named
  port sets are filtered by it) and there are no numeric ports.

IP sets are reference counted by the policies/profiles that use them: the
first user activates a set, the last one to go deactivates it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Protocol as _Protocol

from calico.felix.calc.model import ModelRule, PolicyModel, ProfileModel
from calico.felix.messages import IPSetType, Policy, PolicyID, Profile, ProfileID, Protocol, Rule
from calico.selector import parse

RuleOwner = PolicyID | ProfileID
_RULE_ID_LENGTH = 16


def make_unique_id(prefix: str, content: str) -> str:
    """Calico's ``hash.MakeUniqueID``: ``prefix:`` + base64url(SHA-224(prefix:content))."""
    digest = hashlib.sha224(f"{prefix}:{content}".encode()).digest()
    return f"{prefix}:{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


@dataclass(frozen=True, slots=True)
class IPSetSpec:
    """What an IP set stands for; ``id`` is derived from the rest."""

    selector: str  # canonical selector text
    named_port: str = ""
    protocol: str = ""  # tcp | udp | sctp | any, for a named-port set
    id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        selector_id = parse(self.selector).unique_id
        if self.named_port:
            selector_id = make_unique_id("n", f"{selector_id},{self.protocol},{self.named_port}")
        object.__setattr__(self, "id", selector_id)

    @property
    def type(self) -> IPSetType:
        return IPSetType.IP_AND_PORT if self.named_port else IPSetType.NET


class IPSetCallbacks(_Protocol):
    def on_ipset_active(self, spec: IPSetSpec) -> None: ...

    def on_ipset_inactive(self, spec: IPSetSpec) -> None: ...


class RulesCallbacks(_Protocol):
    def on_policy_active(self, policy_id: PolicyID, policy: Policy) -> None: ...

    def on_policy_inactive(self, policy_id: PolicyID) -> None: ...

    def on_profile_active(self, profile_id: ProfileID, profile: Profile) -> None: ...

    def on_profile_inactive(self, profile_id: ProfileID) -> None: ...


class RuleScanner:
    def __init__(self, ipsets: IPSetCallbacks, output: RulesCallbacks):
        self._ipsets = ipsets
        self._output = output
        self._uses: dict[RuleOwner, frozenset[str]] = {}  # owner -> IP set ids
        self._users: dict[str, int] = {}  # IP set id -> number of owners
        self._specs: dict[str, IPSetSpec] = {}

    def on_policy_active(self, policy_id: PolicyID, policy: PolicyModel) -> None:
        specs: dict[str, IPSetSpec] = {}
        seed = policy_id.chain_id
        inbound = _scan_rules(policy.inbound_rules, specs, f"pol-in-{seed}")
        outbound = _scan_rules(policy.outbound_rules, specs, f"pol-out-{seed}")
        self._set_uses(policy_id, specs)
        message = Policy(
            namespace=policy_id.namespace,
            inbound_rules=inbound,
            outbound_rules=outbound,
            untracked=policy.untracked,
            pre_dnat=policy.pre_dnat,
            apply_on_forward=policy.apply_on_forward,
            original_selector=policy.selector,
            tier=policy.tier,
        )
        self._output.on_policy_active(policy_id, message)

    def on_policy_inactive(self, policy_id: PolicyID) -> None:
        self._set_uses(policy_id, {})
        self._output.on_policy_inactive(policy_id)

    def on_profile_active(self, name: str, profile: ProfileModel) -> None:
        specs: dict[str, IPSetSpec] = {}
        inbound = _scan_rules(profile.inbound_rules, specs, f"prof-in-{name}")
        outbound = _scan_rules(profile.outbound_rules, specs, f"prof-out-{name}")
        profile_id = ProfileID(name)
        self._set_uses(profile_id, specs)
        self._output.on_profile_active(profile_id, Profile(inbound, outbound))

    def on_profile_inactive(self, name: str) -> None:
        profile_id = ProfileID(name)
        self._set_uses(profile_id, {})
        self._output.on_profile_inactive(profile_id)

    def _set_uses(self, owner: RuleOwner, specs: dict[str, IPSetSpec]) -> None:
        old = self._uses.pop(owner, frozenset())
        new = frozenset(specs)
        if new:
            self._uses[owner] = new
        for set_id in new - old:
            count = self._users.get(set_id, 0)
            self._users[set_id] = count + 1
            if count == 0:
                self._specs[set_id] = specs[set_id]
                self._ipsets.on_ipset_active(specs[set_id])
        for set_id in old - new:
            count = self._users[set_id] - 1
            if count:
                self._users[set_id] = count
            else:
                del self._users[set_id]
                self._ipsets.on_ipset_inactive(self._specs.pop(set_id))


def _scan_rules(
    rules: tuple[ModelRule, ...], specs: dict[str, IPSetSpec], seed: str
) -> tuple[Rule, ...]:
    scanned = [_scan_rule(rule, specs) for rule in rules]
    return _with_rule_ids(scanned, seed)


def _scan_rule(rule: ModelRule, specs: dict[str, IPSetSpec]) -> Rule:
    src, not_src = _combine(rule.src_selector, rule.not_src_selector)
    dst, not_dst = _combine(rule.dst_selector, rule.not_dst_selector)
    protocol = _named_port_protocol(rule.protocol)

    def named(ports: tuple[str, ...], positive: str) -> tuple[str, ...]:
        return _ids(specs, [IPSetSpec(positive or "all()", port, protocol) for port in ports])

    def selector_sets(
        sel: str, numeric: tuple[object, ...], named_ports: tuple[str, ...]
    ) -> tuple[str, ...]:
        # Named-port sets are already filtered by the selector; only numeric
        # ports (or no ports at all) still need the plain selector set.
        if not sel or (named_ports and not numeric):
            return ()
        return _ids(specs, [IPSetSpec(sel)])

    return Rule(
        action=rule.action,
        ip_version=rule.ip_version,
        protocol=rule.protocol,
        not_protocol=rule.not_protocol,
        src_net=rule.src_net,
        not_src_net=rule.not_src_net,
        dst_net=rule.dst_net,
        not_dst_net=rule.not_dst_net,
        src_ports=rule.src_ports,
        not_src_ports=rule.not_src_ports,
        dst_ports=rule.dst_ports,
        not_dst_ports=rule.not_dst_ports,
        src_named_port_ip_set_ids=named(rule.src_named_ports, src),
        not_src_named_port_ip_set_ids=named(rule.not_src_named_ports, src),
        dst_named_port_ip_set_ids=named(rule.dst_named_ports, dst),
        not_dst_named_port_ip_set_ids=named(rule.not_dst_named_ports, dst),
        icmp_type=rule.icmp_type,
        icmp_code=rule.icmp_code,
        not_icmp_type=rule.not_icmp_type,
        not_icmp_code=rule.not_icmp_code,
        src_ip_set_ids=selector_sets(src, rule.src_ports, rule.src_named_ports),
        not_src_ip_set_ids=_ids(specs, [IPSetSpec(not_src)] if not_src else []),
        dst_ip_set_ids=selector_sets(dst, rule.dst_ports, rule.dst_named_ports),
        not_dst_ip_set_ids=_ids(specs, [IPSetSpec(not_dst)] if not_dst else []),
        annotations=rule.annotations,
    )


def _combine(positive: str, negated: str) -> tuple[str, str]:
    """Fold the negated selector into the positive one when there is one.

    Without a positive selector the negation must also admit traffic from
    outside any known endpoint, so it has to stay a separate (negated) set.
    """
    if positive and negated:
        return str(parse(f"({positive}) && (!({negated}))")), ""
    return positive, negated


def _named_port_protocol(protocol: Protocol | None) -> str:
    """The port protocol a named port in this rule matches (Calico's ProtocolFrom)."""
    if protocol is None:
        return "any"
    if protocol in ("udp", 17):
        return "udp"
    if protocol in ("sctp", 132):
        return "sctp"
    return "tcp"


def _ids(specs: dict[str, IPSetSpec], new: list[IPSetSpec]) -> tuple[str, ...]:
    for spec in new:
        specs[spec.id] = spec
    return tuple(spec.id for spec in new)


def _with_rule_ids(rules: list[Rule], seed: str) -> tuple[Rule, ...]:
    """Give each rule a stable ID that chains in the seed and every rule before it,
    so a rule's ID changes when it moves (Calico's ``fillInRuleIDs``)."""
    digest = hashlib.sha224(seed.encode()).digest()
    out = []
    for rule in rules:
        digest = hashlib.sha224(digest + repr(rule).encode()).digest()
        rule_id = base64.urlsafe_b64encode(digest).decode()[:_RULE_ID_LENGTH]
        out.append(dataclasses.replace(rule, rule_id=rule_id))
    return tuple(out)
