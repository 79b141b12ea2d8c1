"""Which packets a Calico rule matches: IP-family filtering and the match text.

:func:`filter_rule_to_ip_version` decides whether a rule means anything in one
IP family; :func:`rule_match` renders what is left of a rule, after the match
blocks (:mod:`calico.felix.rules.blocks`) have taken the parts that do not fit,
as one iptables match, in Calico's fragment order: positive criteria first
(protocol, source, destination, ICMP), then the negated ones.
"""

from __future__ import annotations

import dataclasses

from calico.felix.messages import Rule
from calico.felix.rules import names
from calico.felix.rules.matches import Match, split_ports


def filter_rule_to_ip_version(rule: Rule, ip_version: int) -> Rule | None:
    """``rule`` with only this family's CIDRs, or None if it does not apply.

    A rule without an IP version is rendered for both families.  If filtering
    empties a CIDR field that had entries, the rule means nothing in this
    family and is dropped.  A negated catch-all (``! 0.0.0.0/0``) can never
    match, so such a rule is dropped too.
    """
    if rule.ip_version not in (None, ip_version):
        return None
    src = _family_nets(rule.src_net, ip_version, negated=False)
    not_src = _family_nets(rule.not_src_net, ip_version, negated=True)
    dst = _family_nets(rule.dst_net, ip_version, negated=False)
    not_dst = _family_nets(rule.not_dst_net, ip_version, negated=True)
    if src is None or not_src is None or dst is None or not_dst is None:
        return None
    return dataclasses.replace(
        rule, src_net=src, not_src_net=not_src, dst_net=dst, not_dst_net=not_dst
    )


def _family_nets(
    nets: tuple[str, ...], ip_version: int, *, negated: bool
) -> tuple[str, ...] | None:
    kept = tuple(n for n in nets if (":" in n) == (ip_version == 6))
    if nets and not kept:
        return None
    if negated and any(n in ("0.0.0.0/0", "::/0") for n in kept):
        return None
    return kept


def rule_match(rule: Rule, ip_version: int) -> Match:
    """The single-rule match for whatever the blocks left over (policy.go order)."""
    v6 = ip_version == 6

    def ipset(set_id: str) -> str:
        return names.ipset_name(ip_version, set_id)

    m = Match()
    if rule.protocol is not None:
        m = m.protocol(rule.protocol)
    for net in rule.src_net:
        m = m.source_net(net)
    for i in rule.src_ip_set_ids:
        m = m.source_ip_set(ipset(i))
    if rule.src_ports:
        m = m.source_ports(rule.src_ports)
    for i in rule.src_named_port_ip_set_ids:
        m = m.source_ip_port_set(ipset(i))
    for net in rule.dst_net:
        m = m.dest_net(net)
    for i in rule.dst_ip_set_ids:
        m = m.dest_ip_set(ipset(i))
    if rule.dst_ports:
        m = m.dest_ports(rule.dst_ports)
    for i in rule.dst_named_port_ip_set_ids:
        m = m.dest_ip_port_set(ipset(i))
    if rule.icmp_type is not None:
        m = m.icmp_type(rule.icmp_type, rule.icmp_code, v6=v6)
    return m + _negated_match(rule, ip_version)


def _negated_match(rule: Rule, ip_version: int) -> Match:
    def ipset(set_id: str) -> str:
        return names.ipset_name(ip_version, set_id)

    m = Match()
    if rule.not_protocol is not None:
        m = m.not_protocol(rule.not_protocol)
    for net in rule.not_src_net:
        m = m.not_source_net(net)
    for i in rule.not_src_ip_set_ids:
        m = m.not_source_ip_set(ipset(i))
    for group in split_ports(rule.not_src_ports):
        m = m.not_source_ports(group)
    for i in rule.not_src_named_port_ip_set_ids:
        m = m.not_source_ip_port_set(ipset(i))
    for net in rule.not_dst_net:
        m = m.not_dest_net(net)
    for i in rule.not_dst_ip_set_ids:
        m = m.not_dest_ip_set(ipset(i))
    for group in split_ports(rule.not_dst_ports):
        m = m.not_dest_ports(group)
    for i in rule.not_dst_named_port_ip_set_ids:
        m = m.not_dest_ip_port_set(ipset(i))
    if rule.not_icmp_type is not None:
        m = m.not_icmp_type(rule.not_icmp_type, rule.not_icmp_code, v6=ip_version == 6)
    return m
