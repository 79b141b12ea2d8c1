"""The fixed skeleton of the filter, raw and mangle tables (Calico's ``static.go``).

Kernel chains get one jump each into a ``cali-`` chain (see :func:`kernel_hooks`);
everything else lives in chains we own.  Per table (REFERENCE 5.1):

* filter: ``cali-INPUT`` (tunnel packets only from known hosts; workload
  traffic to ``cali-wl-to-host``; host endpoint ingress policy),
  ``cali-FORWARD`` (both endpoints' policy; the final ACCEPT is an append to
  FORWARD), ``cali-OUTPUT`` (host endpoint egress; host→workload unpoliced),
  ``cali-wl-to-host`` (egress policy, then DefaultEndpointToHostAction),
  failsafe chains (:mod:`calico.felix.rules.failsafe`).
* raw: ``cali-PREROUTING`` (anti-spoofing: mark packets from workloads, let
  ``cali-rpf-skip`` accept allowed spoofed prefixes, then drop what fails the
  strict reverse-path check; untracked host policy), ``cali-OUTPUT``.
* mangle: pre-DNAT host policy and host egress policy for DNAT'd traffic.

The nat table is in :mod:`calico.felix.rules.nat`.
"""

from __future__ import annotations

from collections.abc import Iterable

from calico.felix.messages import PortRange, WorkloadEndpoint
from calico.felix.rules import actions, names
from calico.felix.rules.actions import Action
from calico.felix.rules.config import RendererConfig
from calico.felix.rules.endpoints import PROTO_IPIP, PROTO_UDP
from calico.felix.rules.matches import Match
from calico.felix.rules.types import Chain, IptRule

PROTO_ICMPV6 = 58
# ICMPv6 a workload needs from its router: MLD query/report/done (130-132),
# router solicitation (133), neighbour solicitation/advertisement (135, 136).
_ICMPV6_ROUTER_TYPES = (130, 131, 132, 133, 135, 136)
_HOST_ACCEPTED = "Host endpoint policy accepted packet."


def _allow(cfg: RendererConfig) -> Action:
    return actions.ACCEPT if cfg.filter_allow_action == "ACCEPT" else actions.RETURN


def _mangle_allow(cfg: RendererConfig) -> Action:
    return actions.ACCEPT if cfg.mangle_allow_action == "ACCEPT" else actions.RETURN


def _accepted(cfg: RendererConfig) -> Match:
    return Match().mark_single_bit_set(cfg.marks.accept)


def _port(port: int) -> list[PortRange]:
    return [PortRange(port, port)]


# --- filter ----------------------------------------------------------------------


def filter_forward_chain(cfg: RendererConfig) -> Chain:
    marks = cfg.marks
    rules = [
        # Start clean, but keep accept: raw/mangle use it to say "already allowed".
        IptRule(action=actions.clear_mark(marks.all_calico & ~marks.accept)),
        IptRule(Match().mark_clear(marks.accept), actions.jump(names.CHAIN_FROM_HEP_FORWARD)),
    ]
    for prefix in cfg.workload_iface_prefixes:
        rules += [
            IptRule(
                Match().in_interface(f"{prefix}+"), actions.jump(names.CHAIN_FROM_WORKLOAD_DISPATCH)
            ),
            IptRule(
                Match().out_interface(f"{prefix}+"), actions.jump(names.CHAIN_TO_WORKLOAD_DISPATCH)
            ),
        ]
    rules += [
        IptRule(action=actions.jump(names.CHAIN_TO_HEP_FORWARD)),
        IptRule(action=actions.jump(names.CHAIN_CIDR_BLOCK)),
    ]
    return Chain(names.CHAIN_FILTER_FORWARD, tuple(rules))


def filter_forward_append_rules(cfg: RendererConfig) -> tuple[IptRule, ...]:
    """Appended to FORWARD: accept what policy accepted, and mark forwarded traffic
    so mangle POSTROUTING does not apply host endpoint policy to it."""
    return (
        IptRule(_accepted(cfg), _allow(cfg), ("Policy explicitly accepted packet.",)),
        IptRule(action=actions.set_mark(cfg.marks.accept)),
    )


def filter_input_chain(cfg: RendererConfig, ip_version: int) -> Chain:
    rules = _tunnel_input_rules(cfg, ip_version)
    rules += [
        IptRule(Match().in_interface(f"{prefix}+"), actions.goto(names.CHAIN_WORKLOAD_TO_HOST))
        for prefix in cfg.workload_iface_prefixes
    ]
    # Untracked or pre-DNAT host policy may already have accepted the packet.
    rules.append(IptRule(_accepted(cfg), _allow(cfg)))
    rules += _host_endpoint_policy(cfg, names.CHAIN_FROM_HOST_ENDPOINT, Match(), _allow(cfg))
    return Chain(names.CHAIN_FILTER_INPUT, tuple(rules))


def _host_endpoint_policy(
    cfg: RendererConfig, dispatch: str, dispatch_match: Match, allow: Action
) -> list[IptRule]:
    """Clear our marks, run host endpoint policy, allow what it accepted."""
    return [
        IptRule(action=actions.clear_mark(cfg.marks.all_calico)),
        IptRule(dispatch_match, actions.jump(dispatch)),
        IptRule(_accepted(cfg), allow, (_HOST_ACCEPTED,)),
    ]


def _tunnel_input_rules(cfg: RendererConfig, ip_version: int) -> list[IptRule]:
    """Accept IPIP/VXLAN only from known Calico hosts and to a local address."""
    deny, allow = actions.deny(cfg.filter_deny_action), _allow(cfg)
    local = Match().dest_addr_type("LOCAL")
    rules = []
    if ip_version == 4 and cfg.ipip_enabled:
        hosts = names.ipset_name(4, names.IPSET_ID_ALL_HOST_NETS)
        ipip = Match().protocol(PROTO_IPIP)
        rules += [
            IptRule(
                ipip.source_ip_set(hosts) + local, allow, ("Allow IPIP packets from Calico hosts",)
            ),
            IptRule(ipip, deny, (f"{actions.verb(deny)} IPIP packets from non-Calico hosts",)),
        ]
    if (ip_version == 4 and cfg.vxlan_enabled) or (ip_version == 6 and cfg.vxlan_enabled_v6):
        sources = names.ipset_name(ip_version, names.IPSET_ID_ALL_VXLAN_SOURCE_NETS)
        vxlan = Match().protocol(PROTO_UDP).dest_ports(_port(cfg.vxlan_port))
        fam = f"IPv{ip_version}"
        # Calico always DROPs foreign IPv4 VXLAN, but applies the deny action to IPv6.
        drop = actions.DROP if ip_version == 4 else deny
        rules += [
            IptRule(
                vxlan.source_ip_set(sources) + local,
                allow,
                (f"Allow {fam} VXLAN packets from allowed hosts",),
            ),
            IptRule(
                vxlan + local,
                drop,
                (f"{actions.verb(drop)} {fam} VXLAN packets from non-allowed hosts",),
            ),
        ]
    return rules


def workload_to_host_chain(cfg: RendererConfig, ip_version: int) -> Chain:
    allow = _allow(cfg)
    rules = []
    if ip_version == 6:
        icmp = Match().protocol(PROTO_ICMPV6)
        rules += [IptRule(icmp.icmp_type(t, v6=True), allow) for t in _ICMPV6_ROUTER_TYPES]
    if cfg.openstack_special_cases:
        rules += _openstack_wl_to_host_rules(cfg, ip_version, allow)
    rules.append(IptRule(action=actions.jump(names.CHAIN_FROM_WORKLOAD_DISPATCH)))
    # Reached only if egress policy allowed the packet (or it had none to run).
    final = {"DROP": actions.DROP, "ACCEPT": actions.ACCEPT, "RETURN": actions.RETURN}
    rules.append(
        IptRule(
            action=final[cfg.default_endpoint_to_host_action],
            comments=("Configured DefaultEndpointToHostAction",),
        )
    )
    return Chain(names.CHAIN_WORKLOAD_TO_HOST, tuple(rules))


def _openstack_wl_to_host_rules(
    cfg: RendererConfig, ip_version: int, allow: Action
) -> list[IptRule]:
    """Metadata server, DHCP and DNS are always reachable from OpenStack VMs."""
    rules = []
    if ip_version == 4 and cfg.metadata_addr and ":" not in cfg.metadata_addr:
        metadata = Match().protocol("tcp").dest_net(cfg.metadata_addr)
        rules.append(IptRule(metadata.dest_ports(_port(cfg.metadata_port)), allow))
    dhcp_client, dhcp_server = (68, 67) if ip_version == 4 else (546, 547)
    udp = Match().protocol("udp")
    rules += [
        IptRule(udp.source_ports(_port(dhcp_client)).dest_ports(_port(dhcp_server)), allow),
        IptRule(udp.dest_ports(_port(53)), allow),
    ]
    return rules


def filter_output_chain(cfg: RendererConfig, ip_version: int) -> Chain:
    allow = _allow(cfg)
    rules = [IptRule(_accepted(cfg), allow)]
    # Host→local workload traffic is not policed by the workload's ingress policy.
    rules += [
        IptRule(Match().out_interface(f"{prefix}+"), actions.RETURN)
        for prefix in cfg.workload_iface_prefixes
    ]
    local_src = Match().src_addr_type("LOCAL")
    if ip_version == 4 and cfg.ipip_enabled:
        hosts = names.ipset_name(4, names.IPSET_ID_ALL_HOST_NETS)
        rules.append(
            IptRule(
                Match().protocol(PROTO_IPIP).dest_ip_set(hosts) + local_src,
                allow,
                ("Allow IPIP packets to other Calico hosts",),
            )
        )
    if (ip_version == 4 and cfg.vxlan_enabled) or (ip_version == 6 and cfg.vxlan_enabled_v6):
        hosts = names.ipset_name(ip_version, names.IPSET_ID_ALL_VXLAN_SOURCE_NETS)
        vxlan = Match().protocol(PROTO_UDP).dest_ports(_port(cfg.vxlan_port))
        rules.append(
            IptRule(
                vxlan + local_src + Match().dest_ip_set(hosts),
                allow,
                (f"Allow IPv{ip_version} VXLAN packets to other allowed hosts",),
            )
        )
    # DNAT'd host traffic gets host endpoint policy in mangle POSTROUTING instead,
    # once the kernel has re-routed it to its real output interface.
    not_dnat = Match().not_conntrack_state("DNAT")
    rules += _host_endpoint_policy(cfg, names.CHAIN_TO_HOST_ENDPOINT, not_dnat, allow)
    return Chain(names.CHAIN_FILTER_OUTPUT, tuple(rules))


# --- raw ------------------------------------------------------------------------------


def raw_prerouting_chain(cfg: RendererConfig, ip_version: int) -> Chain:
    s0 = cfg.marks.scratch0  # "came from a workload"
    rules = [IptRule(action=actions.clear_mark(cfg.marks.all_calico))]
    rules += _vxlan_notrack(cfg, ip_version)
    rules += [
        IptRule(Match().in_interface(f"{prefix}+"), actions.set_mark(s0))
        for prefix in cfg.workload_iface_prefixes
    ]
    # cali-rpf-skip ACCEPTs the prefixes a workload may legitimately spoof.
    rules.append(
        IptRule(Match().mark_matches_with_mask(s0, s0), actions.jump(names.CHAIN_RPF_SKIP))
    )
    if cfg.openstack_special_cases and ip_version == 4:
        # DHCPDISCOVER comes from 0.0.0.0, which the rpfilter match rejects.
        dhcp = Match().protocol("udp").source_net("0.0.0.0")
        rules.append(IptRule(dhcp.source_ports(_port(68)).dest_ports(_port(67)), actions.ACCEPT))
    rules += [
        # Spoofed source: the reverse path does not lead back out of the interface.
        # (DROP even if the deny action is REJECT, which the raw table refuses.)
        IptRule(Match().mark_matches_with_mask(s0, s0).rpf_check_failed(), actions.DROP),
        IptRule(Match().mark_clear(s0), actions.jump(names.CHAIN_FROM_HOST_ENDPOINT)),
        IptRule(_accepted(cfg), actions.ACCEPT),
    ]
    return Chain(names.CHAIN_RAW_PREROUTING, tuple(rules))


def raw_output_chain(cfg: RendererConfig, ip_version: int) -> Chain:
    rules = [
        IptRule(action=actions.clear_mark(cfg.marks.all_calico)),
        IptRule(action=actions.jump(names.CHAIN_TO_HOST_ENDPOINT)),
        *_vxlan_notrack(cfg, ip_version),
        IptRule(_accepted(cfg), actions.ACCEPT),
    ]
    return Chain(names.CHAIN_RAW_OUTPUT, tuple(rules))


def _vxlan_notrack(cfg: RendererConfig, ip_version: int) -> list[IptRule]:
    """VXLAN picks a different source port per direction: tracking it only
    fills conntrack with unreplied flows."""
    if (ip_version == 4 and cfg.vxlan_enabled) or (ip_version == 6 and cfg.vxlan_enabled_v6):
        return [IptRule(Match().protocol("udp").dest_port(cfg.vxlan_port), actions.NOTRACK)]
    return []


def rpf_skip_chain(endpoints: Iterable[WorkloadEndpoint], ip_version: int) -> Chain:
    """``cali-rpf-skip``: accept the allowSpoofedSourcePrefixes of each workload."""
    rules = [
        IptRule(Match().in_interface(ep.name).source_net(prefix), actions.ACCEPT)
        for ep in sorted(endpoints, key=lambda e: e.name)
        for prefix in ep.allow_spoofed_source_prefixes
        if (":" in prefix) == (ip_version == 6)
    ]
    return Chain(names.CHAIN_RPF_SKIP, tuple(rules))


# --- mangle ---------------------------------------------------------------------------


def mangle_prerouting_chain(cfg: RendererConfig) -> Chain:
    allow = _mangle_allow(cfg)
    rules = (
        IptRule(Match().conntrack_state("RELATED,ESTABLISHED"), allow),
        IptRule(_accepted(cfg), allow),
        IptRule(action=actions.jump(names.CHAIN_FROM_HOST_ENDPOINT)),  # pre-DNAT policy
        IptRule(_accepted(cfg), allow, (_HOST_ACCEPTED,)),
    )
    return Chain(names.CHAIN_MANGLE_PREROUTING, rules)


def mangle_postrouting_chain(cfg: RendererConfig) -> Chain:
    """Host endpoint egress policy for DNAT'd host traffic.

    Linux rewrites a DNAT'd packet's destination in nat OUTPUT but picks the
    new output interface only after filter OUTPUT; by mangle POSTROUTING the
    interface is right.  Forwarded packets carry the accept mark (set by the
    FORWARD append rule) and skip this.  Allow is RETURN in mangle.
    """
    rules = (
        IptRule(_accepted(cfg), actions.RETURN),
        IptRule(action=actions.clear_mark(cfg.marks.all_calico)),
        IptRule(Match().conntrack_state("DNAT"), actions.jump(names.CHAIN_TO_HOST_ENDPOINT)),
        IptRule(_accepted(cfg), actions.RETURN, (_HOST_ACCEPTED,)),
    )
    return Chain(names.CHAIN_MANGLE_POSTROUTING, rules)
