"""What the dataplane needs from felix's configuration: :class:`DataplaneConfig`.

Built once at start-up from :class:`calico.felix.config.FelixConfig` plus the
encapsulation the IP pools ask for (:func:`encapsulation`).  Everything here
is fixed for the life of the process: when any of it changes, felix exits
with :data:`calico.felix.daemon.EXIT_CONFIG_CHANGED` and calico-node starts
it again, as Calico does, rather than trying to re-plumb a running dataplane.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from calico.felix.config import FelixConfig
from calico.felix.messages import IPAMPool
from calico.felix.rules import Marks, RendererConfig

# Calico: ``vxlanMode``/``ipipMode`` other than Never on any pool turns the
# device on, unless the FelixConfiguration says explicitly.
_ENCAP_OFF = ("", "Never")


@dataclass(frozen=True, slots=True)
class Encapsulation:
    vxlan: bool = False
    ipip: bool = False


def encapsulation(config: FelixConfig, pools: Iterable[IPAMPool]) -> Encapsulation:
    """Which tunnel devices this host needs (Calico's EncapsulationCalculator)."""
    pools = list(pools)
    vxlan = config.vxlan_enabled
    if vxlan is None:
        vxlan = any(p.vxlan_mode not in _ENCAP_OFF and ":" not in p.cidr for p in pools)
    ipip = config.ipip_enabled
    if ipip is None:
        ipip = any(p.ipip_mode not in _ENCAP_OFF and ":" not in p.cidr for p in pools)
    return Encapsulation(vxlan=vxlan, ipip=ipip)


@dataclass(frozen=True, slots=True)
class DataplaneConfig:
    hostname: str
    ip_versions: tuple[int, ...] = (4,)
    workload_iface_prefixes: tuple[str, ...] = ("cali",)
    device_route_protocol: int = 80
    remove_external_routes: bool = True
    encap: Encapsulation = field(default_factory=Encapsulation)
    vxlan_vni: int = 4096
    vxlan_port: int = 4789
    vxlan_mtu: int = 0  # 0: parent device MTU - 50
    ipip_mtu: int = 0  # 0: parent device MTU - 20
    ipip_tunnel_address: str = ""  # this Node's spec.bgp.ipv4IPIPTunnelAddr
    iptables_backend: str = "auto"
    chain_insert_mode: str = "insert"
    iptables_refresh_interval: float = 180.0
    ipsets_refresh_interval: float = 90.0
    route_refresh_interval: float = 90.0
    min_apply_interval: float = 0.1  # coalesce bursts of updates
    route_cleanup_grace: float = 10.0
    max_iptables_failures: int = 5  # consecutive failed applies before felix gives up
    rules: RendererConfig = field(default_factory=RendererConfig)  # see renderer_config()

    @classmethod
    def from_felix(
        cls, cfg: FelixConfig, encap: Encapsulation, *, ipip_tunnel_address: str = ""
    ) -> DataplaneConfig:
        return cls(
            hostname=cfg.felix_hostname,
            ip_versions=(4, 6) if cfg.ipv6_support else (4,),
            workload_iface_prefixes=cfg.interface_prefix,
            device_route_protocol=cfg.device_route_protocol,
            remove_external_routes=cfg.remove_external_routes,
            encap=encap,
            vxlan_vni=cfg.vxlan_vni,
            vxlan_port=cfg.vxlan_port,
            vxlan_mtu=cfg.vxlan_mtu,
            ipip_mtu=cfg.ipip_mtu,
            ipip_tunnel_address=ipip_tunnel_address,
            iptables_backend=cfg.iptables_backend,
            chain_insert_mode=cfg.chain_insert_mode,
            iptables_refresh_interval=cfg.iptables_refresh_interval,
            ipsets_refresh_interval=cfg.ipsets_refresh_interval,
            route_refresh_interval=cfg.route_refresh_interval,
            rules=rules_config(cfg),
        )

    def renderer_config(self) -> RendererConfig:
        """``rules`` with the fields this config owns (one source of truth for
        the encapsulation, interface prefixes and VXLAN port)."""
        return replace(
            self.rules,
            workload_iface_prefixes=self.workload_iface_prefixes,
            ipip_enabled=self.encap.ipip,
            ipip_tunnel_address=self.ipip_tunnel_address,
            vxlan_enabled=self.encap.vxlan,
            vxlan_port=self.vxlan_port,
        )


def rules_config(cfg: FelixConfig) -> RendererConfig:
    """The rule renderer's settings that come straight from FelixConfig."""
    return RendererConfig(
        workload_iface_prefixes=cfg.interface_prefix,
        default_endpoint_to_host_action=cfg.default_endpoint_to_host_action,
        filter_deny_action=cfg.iptables_filter_deny_action,
        filter_allow_action=cfg.iptables_filter_allow_action,
        failsafe_inbound_host_ports=cfg.failsafe_inbound_host_ports,
        failsafe_outbound_host_ports=cfg.failsafe_outbound_host_ports,
        allow_vxlan_packets_from_workloads=cfg.allow_vxlan_packets_from_workloads,
        allow_ipip_packets_from_workloads=cfg.allow_ipip_packets_from_workloads,
        nat_outgoing_address=cfg.nat_outgoing_address,
        log_prefix=cfg.log_prefix,
        disable_conntrack_invalid=cfg.disable_conntrack_invalid_check,
        openstack_special_cases="tap" in cfg.interface_prefix,
        metadata_addr=cfg.metadata_addr,
        metadata_port=cfg.metadata_port,
        marks=Marks.from_mask(cfg.iptables_mark_mask),
    )
