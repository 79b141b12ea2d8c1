"""What the rule renderer needs to know: :class:`RendererConfig` and :class:`Marks`.

A deliberately small subset of felix's configuration; the dataplane builds it
from :class:`calico.felix.config.FelixConfig` once at start-up.

Marks carry verdicts between chains and tables (REFERENCE 5.5).  They are
allocated lowest bit first from ``IptablesMarkMask`` (default ``0xffff0000``):
accept ``0x10000``, pass ``0x20000``, drop ``0x40000``, scratch0 ``0x80000``,
scratch1 ``0x100000``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from calico.errors import ConfigError
from calico.felix.config import ProtoPort

DEFAULT_FAILSAFE_INBOUND = (
    ProtoPort("tcp", 22),
    ProtoPort("udp", 68),
    ProtoPort("tcp", 179),
    ProtoPort("tcp", 2379),
    ProtoPort("tcp", 2380),
    ProtoPort("tcp", 5473),
    ProtoPort("tcp", 6443),
    ProtoPort("tcp", 6666),
    ProtoPort("tcp", 6667),
)
DEFAULT_FAILSAFE_OUTBOUND = (
    ProtoPort("udp", 53),
    ProtoPort("udp", 67),
    ProtoPort("tcp", 179),
    ProtoPort("tcp", 2379),
    ProtoPort("tcp", 2380),
    ProtoPort("tcp", 5473),
    ProtoPort("tcp", 6443),
    ProtoPort("tcp", 6666),
    ProtoPort("tcp", 6667),
)


@dataclass(frozen=True, slots=True)
class Marks:
    accept: int = 0x10000
    pass_: int = 0x20000
    drop: int = 0x40000
    scratch0: int = 0x80000
    scratch1: int = 0x100000

    @classmethod
    def from_mask(cls, mask: int) -> Marks:
        """Allocate the five bits lowest-first from ``mask``, as felix does."""
        bits = [1 << i for i in range(32) if mask & (1 << i)]
        if len(bits) < 5:
            raise ConfigError(f"IptablesMarkMask {mask:#x} has fewer than the 5 bits felix needs")
        return cls(*bits[:5])

    @property
    def all_calico(self) -> int:
        """The bits felix clears before it starts making decisions."""
        return self.accept | self.pass_ | self.scratch0 | self.scratch1


@dataclass(frozen=True, slots=True)
class RendererConfig:
    """Inputs of :class:`calico.felix.rules.RuleRenderer`.

    ``*_action`` fields take Calico's values: DefaultEndpointToHostAction is
    DROP, RETURN or ACCEPT; IptablesFilterDenyAction DROP or REJECT;
    IptablesFilterAllowAction and IptablesMangleAllowAction ACCEPT or RETURN.
    Tunnel addresses enable the nat POSTROUTING rules that fix the source
    address of host traffic leaving through a tunnel.  ``nat_outgoing`` is
    only the initial state of ``cali-nat-outgoing``; the dataplane re-renders
    that chain when the set of masquerading pools changes.
    """

    workload_iface_prefixes: tuple[str, ...] = ("cali",)
    default_endpoint_to_host_action: str = "DROP"
    filter_deny_action: str = "DROP"
    filter_allow_action: str = "ACCEPT"
    mangle_allow_action: str = "ACCEPT"
    failsafe_inbound_host_ports: tuple[ProtoPort, ...] = DEFAULT_FAILSAFE_INBOUND
    failsafe_outbound_host_ports: tuple[ProtoPort, ...] = DEFAULT_FAILSAFE_OUTBOUND
    ipip_enabled: bool = False
    ipip_tunnel_address: str = ""
    vxlan_enabled: bool = False
    vxlan_enabled_v6: bool = False
    vxlan_port: int = 4789
    vxlan_tunnel_address: str = ""
    vxlan_tunnel_address_v6: str = ""
    allow_vxlan_packets_from_workloads: bool = False
    allow_ipip_packets_from_workloads: bool = False
    nat_outgoing: bool = False
    nat_outgoing_address: str = ""
    log_prefix: str = "calico-packet"
    log_rate_limit: str = ""
    log_rate_limit_burst: int = 0
    disable_conntrack_invalid: bool = False
    openstack_special_cases: bool = False
    metadata_addr: str = "127.0.0.1"
    metadata_port: int = 8775
    marks: Marks = field(default_factory=Marks)

    def __post_init__(self) -> None:
        _check(
            "DefaultEndpointToHostAction",
            self.default_endpoint_to_host_action,
            ("DROP", "RETURN", "ACCEPT"),
        )
        _check("IptablesFilterDenyAction", self.filter_deny_action, ("DROP", "REJECT"))
        _check("IptablesFilterAllowAction", self.filter_allow_action, ("ACCEPT", "RETURN"))
        _check("IptablesMangleAllowAction", self.mangle_allow_action, ("ACCEPT", "RETURN"))
        if not self.workload_iface_prefixes:
            raise ConfigError("InterfacePrefix: at least one workload interface prefix is needed")


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
