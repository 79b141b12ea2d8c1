"""Failsafe chains: host ports that stay open whatever host endpoint policy says.

``cali-failsafe-in`` / ``cali-failsafe-out`` accept FailsafeInboundHostPorts /
FailsafeOutboundHostPorts (ssh, BGP, etcd, the Kubernetes API ...) so that a
bad host endpoint policy cannot cut a node off from its own control plane.
Every host endpoint chain jumps to them first.  An entry may carry a CIDR
(``net``), which limits it to peers in that network and to its IP family.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from calico.felix.config import ProtoPort
from calico.felix.messages import PortRange
from calico.felix.rules import actions, names
from calico.felix.rules.config import RendererConfig
from calico.felix.rules.matches import Match
from calico.felix.rules.types import Chain, IptRule


def failsafe_in_chain(cfg: RendererConfig, ip_version: int, *, raw: bool) -> Chain:
    """Inbound failsafe ports; in raw also replies to outbound failsafe traffic.

    Raw runs before conntrack, so replies must be let through explicitly or a
    doNotTrack policy could untrack half of a failsafe connection.
    """
    rules = _failsafe_rules(cfg.failsafe_inbound_host_ports, ip_version, dest=True, on_src=True)
    if raw:
        rules += _failsafe_rules(
            cfg.failsafe_outbound_host_ports, ip_version, dest=False, on_src=True
        )
    return Chain(names.CHAIN_FAILSAFE_IN, tuple(rules))


def failsafe_out_chain(cfg: RendererConfig, ip_version: int, *, raw: bool) -> Chain:
    rules = _failsafe_rules(cfg.failsafe_outbound_host_ports, ip_version, dest=True, on_src=False)
    if raw:
        rules += _failsafe_rules(
            cfg.failsafe_inbound_host_ports, ip_version, dest=False, on_src=False
        )
    return Chain(names.CHAIN_FAILSAFE_OUT, tuple(rules))


def _failsafe_rules(
    ports: Iterable[ProtoPort], ip_version: int, *, dest: bool, on_src: bool
) -> list[IptRule]:
    """``dest``: match the destination port (else the source, for replies).
    ``on_src``: a ProtoPort's ``net`` restricts the source (else the destination)."""
    rules = []
    for pp in ports:
        port = [PortRange(pp.port, pp.port)]
        m = Match().protocol(pp.protocol)
        m = m.dest_ports(port) if dest else m.source_ports(port)
        if pp.net:
            try:
                if ipaddress.ip_network(pp.net, strict=False).version != ip_version:
                    continue
            except ValueError:
                continue  # config validation reports it; never break the table
            m = m.source_net(pp.net) if on_src else m.dest_net(pp.net)
        rules.append(IptRule(m, actions.ACCEPT))
    return rules
