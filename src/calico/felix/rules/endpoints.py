"""Per-endpoint chains (Calico's ``felix/rules/endpoints.go``).

A workload gets ``cali-tw-<iface>`` (traffic *to* it: its ingress policy) and
``cali-fw-<iface>`` (traffic *from* it: egress).  A host endpoint gets
``cali-th-`` / ``cali-fh-`` (host egress / ingress) and, for applyOnForward
policy, ``cali-thfw-`` / ``cali-fhfw-``; plus mangle chains for pre-DNAT and
DNAT'd host traffic and raw chains for untracked (doNotTrack) policy.

Every chain has the same skeleton, in this order (REFERENCE 5.2):

1. admin down: a single deny rule, nothing else;
2. conntrack: RELATED,ESTABLISHED allowed, INVALID denied (not in raw);
3. host endpoints: jump to the failsafe chain;
4. clear the accept and pass marks;
5. from-workload chains: deny VXLAN and IPIP packets (they could tunnel
   past egress policy) unless configured otherwise;
6. per tier with policies in this direction: clear pass, jump to each
   policy while pass is clear and return as soon as one accepted; then,
   unless the tier's default action is Pass, deny what no policy passed;
7. profiles (only normal chains): jump to each, return if one accepted;
8. deny.

Allow travels as "accept mark set, RETURN": a packet between two local
workloads must pass the sender's egress chain *and* the receiver's ingress
chain before cali-FORWARD accepts it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from calico.felix.messages import HostEndpoint, PortRange, TierInfo, WorkloadEndpoint
from calico.felix.rules import actions, names
from calico.felix.rules.actions import Action
from calico.felix.rules.config import RendererConfig
from calico.felix.rules.matches import Match
from calico.felix.rules.policy import STAGED_KINDS
from calico.felix.rules.types import Chain, IptRule

PROTO_IPIP = 4
PROTO_UDP = 17


class ChainType(enum.Enum):
    NORMAL = "normal"  # filter (and mangle egress) chains: profiles and final deny
    UNTRACKED = "untracked"  # raw: no conntrack, allow = NOTRACK + accept, no deny
    PRE_DNAT = "pre-dnat"  # mangle ingress: no end-of-tier deny, no profiles
    FORWARD = "forward"  # applyOnForward: default allow when no tier applies


@dataclass(frozen=True, slots=True)
class _Spec:
    """How to render one endpoint chain."""

    chain: str
    table: str
    ingress: bool  # which policy list of each tier applies
    tiers: Sequence[TierInfo]
    profile_ids: Sequence[str]
    chain_type: ChainType
    allow: Action
    failsafe_chain: str = ""
    admin_up: bool = True
    drop_encap: bool = False


def workload_endpoint_chains(cfg: RendererConfig, endpoint: WorkloadEndpoint) -> list[Chain]:
    """``[cali-tw-<iface>, cali-fw-<iface>]`` for the filter table."""
    allow = actions.ACCEPT if cfg.filter_allow_action == "ACCEPT" else actions.RETURN

    def spec(prefix: str, ingress: bool) -> _Spec:
        return _Spec(
            names.endpoint_chain_name(prefix, endpoint.name),
            table="filter",
            ingress=ingress,
            tiers=endpoint.tiers,
            profile_ids=endpoint.profile_ids,
            chain_type=ChainType.NORMAL,
            allow=allow,
            admin_up=endpoint.state == "active",
            drop_encap=not ingress,  # encapsulated packets could tunnel past egress policy
        )

    return [
        endpoint_chain(cfg, spec(names.WORKLOAD_TO_ENDPOINT_PREFIX, True)),
        endpoint_chain(cfg, spec(names.WORKLOAD_FROM_ENDPOINT_PREFIX, False)),
    ]


def host_endpoint_chains(
    cfg: RendererConfig, endpoint: HostEndpoint, iface: str
) -> dict[str, list[Chain]]:
    """Chains per table (every table a key) for a host endpoint on ``iface``
    (``*`` for all interfaces)."""
    chains: dict[str, list[Chain]] = {
        "raw": [],
        "mangle": [_host_mangle_egress_chain(cfg, endpoint, iface)],
        "nat": [],
        "filter": _host_filter_chains(cfg, endpoint, iface),
    }
    if endpoint.pre_dnat_tiers:
        chains["mangle"].append(_host_pre_dnat_chain(cfg, endpoint, iface))
    if endpoint.untracked_tiers and iface != "*":
        # Calico ignores doNotTrack policy on the wildcard host endpoint.
        chains["raw"] = _host_raw_chains(cfg, endpoint, iface)
    return chains


def _host_filter_chains(cfg: RendererConfig, ep: HostEndpoint, iface: str) -> list[Chain]:
    allow = actions.ACCEPT if cfg.filter_allow_action == "ACCEPT" else actions.RETURN

    def spec(prefix: str, ingress: bool, forward: bool) -> _Spec:
        return _Spec(
            names.endpoint_chain_name(prefix, iface),
            table="filter",
            ingress=ingress,
            tiers=ep.forward_tiers if forward else ep.tiers,
            profile_ids=ep.profile_ids,
            chain_type=ChainType.FORWARD if forward else ChainType.NORMAL,
            allow=allow,
            failsafe_chain="" if forward else _failsafe(ingress),
        )

    return [
        endpoint_chain(cfg, spec(names.HOST_TO_ENDPOINT_PREFIX, False, False)),
        endpoint_chain(cfg, spec(names.HOST_FROM_ENDPOINT_PREFIX, True, False)),
        endpoint_chain(cfg, spec(names.HOST_TO_ENDPOINT_FORWARD_PREFIX, False, True)),
        endpoint_chain(cfg, spec(names.HOST_FROM_ENDPOINT_FORWARD_PREFIX, True, True)),
    ]


def _host_mangle_egress_chain(cfg: RendererConfig, ep: HostEndpoint, iface: str) -> Chain:
    """Host egress policy for DNAT'd host traffic, run in mangle POSTROUTING.

    Allow is RETURN here, not ACCEPT: the mangle table may hold other
    packet manipulations that our allowed traffic still needs.
    """
    return endpoint_chain(
        cfg,
        _Spec(
            names.endpoint_chain_name(names.HOST_TO_ENDPOINT_PREFIX, iface),
            table="mangle",
            ingress=False,
            tiers=ep.tiers,
            profile_ids=ep.profile_ids,
            chain_type=ChainType.NORMAL,
            allow=actions.RETURN,
            failsafe_chain=names.CHAIN_FAILSAFE_OUT,
        ),
    )


def _host_pre_dnat_chain(cfg: RendererConfig, ep: HostEndpoint, iface: str) -> Chain:
    allow = actions.ACCEPT if cfg.mangle_allow_action == "ACCEPT" else actions.RETURN
    return endpoint_chain(
        cfg,
        _Spec(
            names.endpoint_chain_name(names.HOST_FROM_ENDPOINT_PREFIX, iface),
            table="mangle",
            ingress=True,
            tiers=ep.pre_dnat_tiers,
            profile_ids=(),
            chain_type=ChainType.PRE_DNAT,
            allow=allow,
            failsafe_chain=names.CHAIN_FAILSAFE_IN,
        ),
    )


def _host_raw_chains(cfg: RendererConfig, ep: HostEndpoint, iface: str) -> list[Chain]:
    def spec(prefix: str, ingress: bool) -> _Spec:
        return _Spec(
            names.endpoint_chain_name(prefix, iface),
            table="raw",
            ingress=ingress,
            tiers=ep.untracked_tiers,
            profile_ids=(),
            chain_type=ChainType.UNTRACKED,
            allow=actions.ACCEPT,
            failsafe_chain=_failsafe(ingress),
        )

    return [
        endpoint_chain(cfg, spec(names.HOST_TO_ENDPOINT_PREFIX, False)),
        endpoint_chain(cfg, spec(names.HOST_FROM_ENDPOINT_PREFIX, True)),
    ]


def _failsafe(ingress: bool) -> str:
    return names.CHAIN_FAILSAFE_IN if ingress else names.CHAIN_FAILSAFE_OUT


def endpoint_chain(cfg: RendererConfig, spec: _Spec) -> Chain:
    deny = actions.deny(cfg.filter_deny_action, spec.table)
    if not spec.admin_up:
        return Chain(spec.chain, (IptRule(action=deny, comments=("Endpoint admin disabled",)),))
    rules: list[IptRule] = []
    if spec.chain_type is not ChainType.UNTRACKED:
        rules += conntrack_rules(cfg, spec.allow, deny)
    if spec.failsafe_chain:
        rules.append(IptRule(action=actions.jump(spec.failsafe_chain)))
    rules.append(IptRule(action=actions.clear_mark(cfg.marks.accept | cfg.marks.pass_)))
    if spec.drop_encap:
        rules += _encap_drop_rules(cfg, deny)
    for tier in spec.tiers:
        rules += _tier_rules(cfg, spec, tier, deny)
    if not spec.tiers and spec.chain_type is ChainType.FORWARD:
        rules += [
            IptRule(
                action=actions.set_mark(cfg.marks.accept),
                comments=("Allow forwarded traffic by default",),
            ),
            IptRule(action=actions.RETURN, comments=("Return for accepted forward traffic",)),
        ]
    if spec.chain_type is ChainType.NORMAL:
        rules += _profile_rules(cfg, spec, deny)
    return Chain(spec.chain, tuple(rules))


def conntrack_rules(cfg: RendererConfig, allow: Action, deny: Action) -> list[IptRule]:
    """Stateful: replies and related packets pass; INVALID ones are denied."""
    established = Match().conntrack_state("RELATED,ESTABLISHED")
    rules = []
    if allow != actions.ACCEPT:
        # Returning instead of accepting: flag the packet as allowed first.
        rules.append(IptRule(established, actions.set_mark(cfg.marks.accept)))
    rules.append(IptRule(established, allow))
    if not cfg.disable_conntrack_invalid:
        rules.append(IptRule(Match().conntrack_state("INVALID"), deny))
    return rules


def _encap_drop_rules(cfg: RendererConfig, deny: Action) -> list[IptRule]:
    verb = actions.verb(deny)
    rules = []
    if not cfg.allow_vxlan_packets_from_workloads:
        port = PortRange(cfg.vxlan_port, cfg.vxlan_port)
        rules.append(
            IptRule(
                Match().protocol(PROTO_UDP).dest_ports([port]),
                deny,
                (f"{verb} VXLAN encapped packets originating in workloads",),
            )
        )
    if not cfg.allow_ipip_packets_from_workloads:
        rules.append(
            IptRule(
                Match().protocol(PROTO_IPIP),
                deny,
                (f"{verb} IPinIP encapped packets originating in workloads",),
            )
        )
    return rules


def _tier_rules(cfg: RendererConfig, spec: _Spec, tier: TierInfo, deny: Action) -> list[IptRule]:
    policies = tier.ingress_policies if spec.ingress else tier.egress_policies
    if not policies:
        return []  # the tier does not apply in this direction
    marks = cfg.marks
    prefix = names.POLICY_INBOUND_PREFIX if spec.ingress else names.POLICY_OUTBOUND_PREFIX
    rules = [
        IptRule(action=actions.clear_mark(marks.pass_), comments=(f"Start of tier {tier.name}",))
    ]
    # Staged policies only report; they get no jump and never end a tier.
    enforced = [p for p in policies if p.kind not in STAGED_KINDS]
    accepted = Match().mark_single_bit_set(marks.accept)
    for policy_id in enforced:
        chain = names.policy_chain_name(prefix, policy_id)
        rules.append(IptRule(Match().mark_clear(marks.pass_), actions.jump(chain)))
        if spec.chain_type is ChainType.UNTRACKED:
            rules.append(IptRule(accepted, actions.NOTRACK))  # untracked allow
        rules.append(IptRule(accepted, actions.RETURN, ("Return if policy accepted",)))
    end_of_tier_deny = spec.chain_type in (ChainType.NORMAL, ChainType.FORWARD)
    if end_of_tier_deny and enforced and tier.default_action != "Pass":
        comment = f"End of tier {tier.name}. {actions.verb(deny)} if no policies passed packet"
        rules.append(IptRule(Match().mark_clear(marks.pass_), deny, (comment,)))
    return rules


def _profile_rules(cfg: RendererConfig, spec: _Spec, deny: Action) -> list[IptRule]:
    prefix = names.PROFILE_INBOUND_PREFIX if spec.ingress else names.PROFILE_OUTBOUND_PREFIX
    accepted = Match().mark_single_bit_set(cfg.marks.accept)
    rules = []
    for profile in spec.profile_ids:
        rules.append(IptRule(action=actions.jump(names.profile_chain_name(prefix, profile))))
        rules.append(IptRule(accepted, actions.RETURN, ("Return if profile accepted",)))
    rules.append(IptRule(action=deny, comments=(f"{actions.verb(deny)} if no profiles matched",)))
    return rules
