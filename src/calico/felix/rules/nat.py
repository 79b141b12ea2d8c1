"""The nat table: NAT-outgoing, floating IPs, OpenStack metadata (``nat.go``, ``static.go``).

``cali-nat-outgoing`` masquerades traffic from pools with natOutgoing (IP set
``masq-ipam-pools``) to anywhere outside all pools (``network-ip-pools``).

Host traffic leaving through a tunnel device must carry the tunnel's own
address, or the far end cannot route the reply; ``cali-POSTROUTING`` fixes the
source of packets that leave through ``tunl0`` / ``vxlan.calico`` from another
local address.  With VXLAN on, masqueraded UDP must not pick the VXLAN port as
its source port (replies would hit the "VXLAN from unknown host" drop, Calico
issue #12244), so UDP gets a port range that excludes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from calico.felix.messages import PortRange, WorkloadEndpoint
from calico.felix.rules import actions, names
from calico.felix.rules.config import RendererConfig
from calico.felix.rules.endpoints import PROTO_UDP
from calico.felix.rules.matches import Match
from calico.felix.rules.types import Chain, IptRule

IPIP_IFACE = "tunl0"
VXLAN_IFACE = "vxlan.calico"
VXLAN_IFACE_V6 = "vxlan-v6.calico"
OPENSTACK_METADATA_CIDR = "169.254.169.254/32"


def nat_prerouting_chain(cfg: RendererConfig, ip_version: int) -> Chain:
    rules = [IptRule(action=actions.jump(names.CHAIN_FIP_DNAT))]
    if ip_version == 4 and cfg.openstack_special_cases and cfg.metadata_addr:
        metadata = Match().protocol("tcp").dest_ports([PortRange(80, 80)])
        rules.append(
            IptRule(
                metadata.dest_net(OPENSTACK_METADATA_CIDR),
                actions.dnat(cfg.metadata_addr, cfg.metadata_port),
            )
        )
    return Chain(names.CHAIN_NAT_PREROUTING, tuple(rules))


def nat_output_chain() -> Chain:
    return Chain(names.CHAIN_NAT_OUTPUT, (IptRule(action=actions.jump(names.CHAIN_FIP_DNAT)),))


def nat_postrouting_chain(cfg: RendererConfig, ip_version: int) -> Chain:
    rules = [
        IptRule(action=actions.jump(names.CHAIN_FIP_SNAT)),
        IptRule(action=actions.jump(names.CHAIN_NAT_OUTGOING)),
    ]
    vxlan_on = cfg.vxlan_enabled if ip_version == 4 else cfg.vxlan_enabled_v6
    udp_ports = masq_port_range_excluding(cfg.vxlan_port) if vxlan_on else ""
    for tunnel in _tunnel_ifaces(cfg, ip_version):
        # Out via the tunnel, from a local address that is not the tunnel's own.
        wrong_source = (
            Match()
            .out_interface(tunnel)
            .not_src_addr_type("LOCAL", limit_iface_out=True)
            .src_addr_type("LOCAL")
        )
        if udp_ports:
            udp = Match().protocol(PROTO_UDP) + wrong_source
            rules.append(IptRule(udp, actions.masquerade(udp_ports)))
        rules.append(IptRule(wrong_source, actions.masquerade()))
    return Chain(names.CHAIN_NAT_POSTROUTING, tuple(rules))


def _tunnel_ifaces(cfg: RendererConfig, ip_version: int) -> list[str]:
    if ip_version == 6:
        return [VXLAN_IFACE_V6] if cfg.vxlan_enabled_v6 and cfg.vxlan_tunnel_address_v6 else []
    ifaces = []
    if cfg.ipip_enabled and cfg.ipip_tunnel_address:
        ifaces.append(IPIP_IFACE)
    if cfg.vxlan_enabled and cfg.vxlan_tunnel_address:
        ifaces.append(VXLAN_IFACE)
    return ifaces


def masq_port_range_excluding(port: int) -> str:
    """The wider of 1024..port-1 and port+1..65535 (iptables takes one range)."""
    if not 0 < port <= 65535:
        return ""
    low, high = 1024, 65535
    if port - low >= high - port:
        return f"{low}-{port - 1}"
    return f"{port + 1}-{high}"


def nat_outgoing_chain(cfg: RendererConfig, active: bool, ip_version: int) -> Chain:
    """``cali-nat-outgoing``: empty unless some pool has natOutgoing."""
    if not active:
        return Chain(names.CHAIN_NAT_OUTGOING)
    match = (
        Match()
        .source_ip_set(names.ipset_name(ip_version, names.IPSET_ID_NAT_OUTGOING_MASQ_POOLS))
        .not_dest_ip_set(names.ipset_name(ip_version, names.IPSET_ID_NETWORK_POOLS))
    )
    if cfg.nat_outgoing_address:
        return Chain(
            names.CHAIN_NAT_OUTGOING, (IptRule(match, actions.snat(cfg.nat_outgoing_address)),)
        )
    return Chain(names.CHAIN_NAT_OUTGOING, (IptRule(match, actions.masquerade()),))


def floating_ip_chains(endpoints: Iterable[WorkloadEndpoint], ip_version: int) -> list[Chain]:
    """``cali-fip-dnat`` (external → internal) and ``cali-fip-snat`` (a workload
    reaching its own external IP gets that IP as its source)."""
    nats = [n for ep in endpoints for n in (ep.ipv4_nat if ip_version == 4 else ep.ipv6_nat)]
    dnat = tuple(
        IptRule(Match().dest_net(n.ext_ip), actions.dnat(n.int_ip))
        for n in sorted(nats, key=lambda n: n.ext_ip)
    )
    snat = tuple(
        IptRule(Match().dest_net(n.int_ip).source_net(n.int_ip), actions.snat(n.ext_ip))
        for n in sorted(nats, key=lambda n: n.int_ip)
    )
    return [Chain(names.CHAIN_FIP_DNAT, dnat), Chain(names.CHAIN_FIP_SNAT, snat)]
