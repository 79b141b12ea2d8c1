"""Policy and profile rules → iptables rules (Calico's ``felix/rules/policy.go``).

A policy becomes two chains, ``cali-pi-<id>`` (ingress) and ``cali-po-<id>``
(egress); a profile ``cali-pri-<name>`` / ``cali-pro-<name>``.  Each Calico
rule becomes one or more iptables rules and reports its verdict to the
endpoint chain through the packet mark: allow sets the accept mark and
returns, pass sets the pass mark and returns, deny sets the drop mark and
drops (or rejects), log logs and carries on.

Why one Calico rule may need several iptables rules
---------------------------------------------------
iptables cannot express every Calico rule in one line:

* ``multiport`` holds 15 port slots, and two multiport matches in one rule
  are ANDed where Calico ORs its ports;
* a rule has one ``--source`` and one ``--destination``, where Calico allows
  lists of positive and negated CIDRs;
* named ports are IP,port sets that must be ORed with the numeric ports.

Such parts are rendered as *blocks* ahead of the main rule (see
:mod:`calico.felix.rules.blocks`), and the main rule then also requires the scratch0
mark, which the blocks leave set only if every block matched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from calico.errors import ValidationError
from calico.felix.messages import Policy, PolicyID, Profile, ProfileID, Rule
from calico.felix.rules import actions, names
from calico.felix.rules.blocks import MatchBlocks, Side
from calico.felix.rules.config import RendererConfig
from calico.felix.rules.matches import Match, split_ports
from calico.felix.rules.rule_match import filter_rule_to_ip_version, rule_match
from calico.felix.rules.types import Chain, IptRule

# felix/types/policy_id.go: the long kind names used in chain comments.
_LONG_KIND = {
    "np": "NetworkPolicy",
    "gnp": "GlobalNetworkPolicy",
    "knp": "KubernetesNetworkPolicy",
    "kcnp": "KubernetesClusterNetworkPolicy",
    "snp": "StagedNetworkPolicy",
    "sgnp": "StagedGlobalNetworkPolicy",
    "sknp": "StagedKubernetesNetworkPolicy",
}
STAGED_KINDS = frozenset({"snp", "sgnp", "sknp"})
_LOG_SPECIFIER = re.compile(r"%[tknp]")

OwnerID = PolicyID | ProfileID


def policy_to_chains(
    cfg: RendererConfig, policy_id: PolicyID, policy: Policy, ip_version: int, table: str
) -> list[Chain]:
    """``[cali-pi-<id>, cali-po-<id>]`` for ``table``; nothing for a staged policy.

    Staged policies never enforce, so felix programs no chains for them.
    ``table`` matters only for deny rules (REJECT exists only in filter).
    """
    if policy_id.kind in STAGED_KINDS:
        return []
    kind = _LONG_KIND.get(policy_id.kind, policy_id.kind)
    label = f"{policy_id.namespace}/{policy_id.name}" if policy_id.namespace else policy_id.name
    render = _ChainRenderer(cfg, ip_version, policy_id, policy.tier, table)
    return [
        Chain(
            names.policy_chain_name(names.POLICY_INBOUND_PREFIX, policy_id),
            render(policy.inbound_rules, f"{kind} {label} ingress"),
        ),
        Chain(
            names.policy_chain_name(names.POLICY_OUTBOUND_PREFIX, policy_id),
            render(policy.outbound_rules, f"{kind} {label} egress"),
        ),
    ]


def profile_to_chains(
    cfg: RendererConfig, profile_id: ProfileID, profile: Profile, ip_version: int, table: str
) -> list[Chain]:
    """``[cali-pri-<name>, cali-pro-<name>]`` for ``table``."""
    name = profile_id.name
    render = _ChainRenderer(cfg, ip_version, profile_id, "", table)
    return [
        Chain(
            names.profile_chain_name(names.PROFILE_INBOUND_PREFIX, name),
            render(profile.inbound_rules, f"Profile {name} ingress"),
        ),
        Chain(
            names.profile_chain_name(names.PROFILE_OUTBOUND_PREFIX, name),
            render(profile.outbound_rules, f"Profile {name} egress"),
        ),
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class _ChainRenderer:
    """The context shared by both chains of one policy or profile."""

    cfg: RendererConfig
    ip_version: int
    owner: OwnerID
    tier: str
    table: str

    def __call__(self, rules: Sequence[Rule], comment: str) -> tuple[IptRule, ...]:
        return rules_to_iptables(
            self.cfg, rules, self.ip_version, self.owner, self.tier, comment, self.table
        )


def rules_to_iptables(
    cfg: RendererConfig,
    rules: Sequence[Rule],
    ip_version: int,
    owner: OwnerID,
    tier: str,
    chain_comment: str = "",
    table: str = "filter",
) -> tuple[IptRule, ...]:
    """The body of one policy/profile chain.

    Trailing RETURN rules are dropped (falling off the end returns anyway).
    ``chain_comment`` lands on the first rule, on an otherwise empty rule if
    the chain has none, so that ``iptables-save`` shows what the chain is.
    """
    out: list[IptRule] = []
    for rule in rules:
        out.extend(rule_to_iptables(cfg, rule, ip_version, owner, tier, table))
    while out and out[-1].action is not None and out[-1].action.is_return:
        out.pop()
    if chain_comment:
        first = out[0] if out else IptRule()
        out[:1] = [first.with_comments(chain_comment)]
    return tuple(out)


def rule_to_iptables(
    cfg: RendererConfig,
    rule: Rule,
    ip_version: int,
    owner: OwnerID,
    tier: str,
    table: str = "filter",
) -> list[IptRule]:
    """One Calico rule as iptables rules: match blocks, then match + actions."""
    filtered = filter_rule_to_ip_version(rule, ip_version)
    if filtered is None:
        return []
    blocks = MatchBlocks(cfg.marks.scratch0, cfg.marks.scratch1)
    rest = _extract_blocks(blocks, filtered, ip_version)
    match = rule_match(rest, ip_version)
    if blocks.used:
        match = match.mark_single_bit_set(cfg.marks.scratch0)
    out = blocks.rules + _with_actions(cfg, rule.action, match, owner, tier, table)
    notes = tuple(f"{k}={v}" for k, v in rule.annotations)
    return [r.with_comments(*notes) for r in out] if notes else out


def _extract_blocks(blocks: MatchBlocks, rule: Rule, ip_version: int) -> Rule:
    """Render the parts that do not fit one iptables rule; return the rest.

    The order matters: positive blocks first (the first one may write the
    all-blocks bit directly), negated CIDR blocks last.
    """
    for side in (Side.SRC, Side.DST):
        rule = _port_block(blocks, rule, side, ip_version)
    for side in (Side.SRC, Side.DST):
        rule = _cidr_block(blocks, rule, side)
    for side in (Side.SRC, Side.DST):
        rule = _negated_cidr_block(blocks, rule, side)
    return rule


def _port_block(blocks: MatchBlocks, rule: Rule, side: Side, ip_version: int) -> Rule:
    """Numeric and named ports are ORed: a block unless one multiport match does."""
    if side is Side.SRC:
        ports, named = rule.src_ports, rule.src_named_port_ip_set_ids
    else:
        ports, named = rule.dst_ports, rule.dst_named_port_ip_set_ids
    splits = split_ports(ports)
    if len(splits) + len(named) <= 1:
        return rule
    set_names = [names.ipset_name(ip_version, i) for i in named]
    blocks.port_block(rule.protocol, splits, set_names, side)
    if side is Side.SRC:
        return dataclasses.replace(rule, src_ports=(), src_named_port_ip_set_ids=())
    return dataclasses.replace(rule, dst_ports=(), dst_named_port_ip_set_ids=())


def _cidr_block(blocks: MatchBlocks, rule: Rule, side: Side) -> Rule:
    """One CIDR fits the main rule; more are ORed in a block."""
    nets = rule.src_net if side is Side.SRC else rule.dst_net
    if len(nets) <= 1:
        return rule
    blocks.cidr_block(nets, side)
    if side is Side.SRC:
        return dataclasses.replace(rule, src_net=())
    return dataclasses.replace(rule, dst_net=())


def _negated_cidr_block(blocks: MatchBlocks, rule: Rule, side: Side) -> Rule:
    """The main rule has one address slot per side, shared by positive and
    negated CIDRs; negated ones that do not fit go to a block."""
    if side is Side.SRC:
        positive, negated = rule.src_net, rule.not_src_net
    else:
        positive, negated = rule.dst_net, rule.not_dst_net
    if len(positive) + len(negated) <= 1:
        return rule
    blocks.negated_cidr_block(negated, side)
    if side is Side.SRC:
        return dataclasses.replace(rule, not_src_net=())
    return dataclasses.replace(rule, not_dst_net=())


def _with_actions(
    cfg: RendererConfig, action: str, match: Match, owner: OwnerID, tier: str, table: str
) -> list[IptRule]:
    """Attach the rule's action: set the verdict mark on match, then act on it.

    Splitting "match → set mark" from "mark → RETURN/DROP" is what lets a
    verdict travel back to the endpoint chain, which does the final ACCEPT
    only after the other endpoint's policy (same-host traffic) has run too.
    """
    marks = cfg.marks
    if action == "log":
        log_match = (
            Match().limit(cfg.log_rate_limit, cfg.log_rate_limit_burst)
            if cfg.log_rate_limit
            else Match()
        )
        return [IptRule(log_match + match, actions.log(log_prefix(cfg.log_prefix, owner, tier)))]
    if action in ("", "allow"):
        mark, verdict = marks.accept, actions.RETURN
    elif action in ("next-tier", "pass"):
        mark, verdict = marks.pass_, actions.RETURN
    elif action == "deny":
        mark, verdict = marks.drop, actions.deny(cfg.filter_deny_action, table)
    else:
        raise ValidationError("unknown rule action", field="action", value=action)
    return [
        IptRule(match, actions.set_mark(mark)),
        IptRule(Match().mark_single_bit_set(mark), verdict),
    ]


def log_prefix(template: str, owner: OwnerID, tier: str) -> str:
    """Expand ``%t`` (tier), ``%k`` (kind), ``%n`` (name), ``%p`` (ns/name)."""
    template = template or "calico-packet"
    if isinstance(owner, PolicyID):
        kind, name, namespace = owner.kind, owner.name, owner.namespace
    else:
        kind, name, namespace = "pro", owner.name, ""
    values = {
        "%t": tier,
        "%k": kind,
        "%n": name,
        "%p": f"{namespace}/{name}" if namespace else name,
    }
    return _LOG_SPECIFIER.sub(lambda m: values[m.group(0)], template)
