"""The fields of FelixConfigurationSpec, in Calico's order (api felixconfig.go).

Declarations only; defaults and cross-field rules are in ``felixconfig.py``.
Every field is optional: an unset field means "Felix's built-in default"
(REFERENCE 2.13), which Felix applies when it reads its configuration.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from calico.resources._base import CalicoModel
from calico.resources._felix_types import (
    AllowAction,
    BPFConntrackTimeouts,
    BPFLogFilters,
    BPFLogLevel,
    ChainInsertMode,
    ConntrackScaling,
    DenyAction,
    EndpointToHostAction,
    ExternalServiceMode,
    FeatureDetectOverride,
    FeatureGates,
    GoTuning,
    HealthTimeoutOverride,
    IfaceFilter,
    ListenPort,
    LogPrefix,
    LoopPrevention,
    MaglevLimit,
    Mask32,
    Port16,
    PrometheusHost,
    ProtoPort,
    RateLimit,
    RegexText,
    RoutePriority,
    RouteSourceMode,
    RouteTableIDRange,
    RouteTableRange,
    RPFMode,
    Severity,
    SpoofingMode,
)
from calico.resources._numorstring import DSCP, Port
from calico.resources._types import (
    Cidr,
    Duration,
    EmptyIsUnset,
    InterfaceName,
    IPv4Addr,
    IPv4CidrText,
    IPv6Addr,
    NonEmpty,
    Selector,
)

EnabledDisabled = Literal["Enabled", "Disabled"]


class FelixConfigurationFields(CalicoModel):
    node_selector: Selector | None = None
    use_internal_dataplane_driver: bool | None = None
    dataplane_driver: str = ""
    dataplane_watchdog_timeout: Duration | None = None
    ipv6_support: bool | None = None
    route_refresh_interval: Duration | None = None
    interface_refresh_interval: Duration | None = None
    iptables_refresh_interval: Duration | None = None
    iptables_post_write_check_interval: Duration | None = None
    iptables_lock_probe_interval: Duration | None = None
    feature_detect_override: FeatureDetectOverride = ""
    feature_gates: FeatureGates = ""
    ipsets_refresh_interval: Duration | None = None
    max_ipset_size: int | None = None
    iptables_backend: Literal["Legacy", "NFT", "Auto"] | None = None
    xdp_refresh_interval: Duration | None = None
    netlink_timeout: Duration | None = None
    metadata_addr: str = ""
    metadata_port: int | None = None
    openstack_region: str = ""
    interface_prefix: str = ""
    interface_exclude: str = ""
    chain_insert_mode: ChainInsertMode = ""
    default_endpoint_to_host_action: EndpointToHostAction = ""
    iptables_filter_allow_action: AllowAction = ""
    iptables_mangle_allow_action: AllowAction = ""
    iptables_filter_deny_action: DenyAction = ""
    log_prefix: LogPrefix = ""
    log_action_rate_limit: RateLimit | None = None
    log_action_rate_limit_burst: Annotated[int, Field(ge=0, le=9999)] | None = None
    log_file_path: str = ""
    log_severity_file: Severity = ""
    log_severity_screen: Severity = ""
    log_severity_sys: Severity = ""
    log_debug_filename_regex: RegexText = ""
    ipip_enabled: bool | None = None
    ipip_mtu: int | None = Field(None, alias="ipipMTU")
    vxlan_enabled: bool | None = None
    vxlan_mtu: int | None = Field(None, alias="vxlanMTU")
    vxlan_mtu_v6: int | None = Field(None, alias="vxlanMTUV6")
    vxlan_port: int | None = None
    vxlan_vni: int | None = Field(None, alias="vxlanVNI")
    allow_vxlan_packets_from_workloads: bool | None = Field(
        None, alias="allowVXLANPacketsFromWorkloads"
    )
    allow_ipip_packets_from_workloads: bool | None = Field(
        None, alias="allowIPIPPacketsFromWorkloads"
    )
    reporting_interval: Duration | None = None
    reporting_ttl: Duration | None = Field(None, alias="reportingTTL")
    endpoint_reporting_enabled: bool | None = None
    endpoint_reporting_delay: Duration | None = None
    endpoint_status_path_prefix: str = ""
    iptables_mark_mask: Mask32 | None = None
    disable_conntrack_invalid_check: bool | None = None
    health_enabled: bool | None = None
    health_host: str | None = None
    health_port: int | None = None
    health_timeout_overrides: list[HealthTimeoutOverride] = Field(default_factory=list)
    prometheus_metrics_enabled: bool | None = None
    prometheus_metrics_host: PrometheusHost = ""
    prometheus_metrics_port: int | None = None
    prometheus_go_metrics_enabled: bool | None = None
    prometheus_process_metrics_enabled: bool | None = None
    prometheus_wireguard_metrics_enabled: bool | None = Field(
        None, alias="prometheusWireGuardMetricsEnabled"
    )
    prometheus_metrics_ca_file: str | None = Field(None, alias="prometheusMetricsCAFile")
    prometheus_metrics_cert_file: str | None = None
    prometheus_metrics_key_file: str | None = None
    prometheus_metrics_client_auth: (
        Literal[
            "RequireAndVerifyClientCert",
            "RequireAnyClientCert",
            "VerifyClientCertIfGiven",
            "NoClientCert",
        ]
        | None
    ) = None
    failsafe_inbound_host_ports: list[ProtoPort] | None = None
    failsafe_outbound_host_ports: list[ProtoPort] | None = None
    kube_node_port_ranges: Annotated[list[Port], Field(max_length=7)] | None = None
    policy_sync_path_prefix: str = ""
    usage_reporting_enabled: bool | None = None
    usage_reporting_initial_delay: Duration | None = None
    usage_reporting_interval: Duration | None = None
    nat_port_range: Port | None = None
    nat_outgoing_address: IPv4Addr = ""
    nat_outgoing_exclusions: Literal["IPPoolsOnly", "IPPoolsAndHostIPs"] | None = None
    device_route_source_address: IPv4Addr = ""
    device_route_source_address_ipv6: IPv6Addr = Field("", alias="deviceRouteSourceAddressIPv6")
    device_route_protocol: int | None = None
    remove_external_routes: bool | None = None
    program_cluster_routes: (
        Literal["Enabled", "Disabled", "EnabledIPIPOnly", "EnabledNoEncapOnly"] | None
    ) = None
    ip_forwarding: Annotated[EnabledDisabled | None, EmptyIsUnset] = None
    external_nodes_list: list[Annotated[IPv4CidrText, NonEmpty]] | None = None
    debug_memory_profile_path: str = ""
    debug_disable_log_dropping: bool | None = None
    debug_simulate_calc_graph_hang_after: Duration | None = None
    debug_simulate_dataplane_hang_after: Duration | None = None
    debug_simulate_dataplane_apply_delay: Duration | None = None
    debug_host: str | None = None
    debug_port: Port16 | None = None
    iptables_nat_outgoing_interface_filter: IfaceFilter = Field(
        "", alias="iptablesNATOutgoingInterfaceFilter"
    )
    sidecar_acceleration_enabled: bool | None = None
    xdp_enabled: bool | None = None
    generic_xdp_enabled: bool | None = Field(None, alias="genericXDPEnabled")
    nftables_mode: Literal["Disabled", "Enabled", "Auto"] | None = None
    nftables_flow_table_offload: Literal["All", "Disabled"] | None = None
    nftables_flow_table_data_iface_pattern: RegexText = ""
    nftables_refresh_interval: Duration | None = None
    nftables_filter_allow_action: AllowAction = ""
    nftables_mangle_allow_action: AllowAction = ""
    nftables_filter_deny_action: DenyAction = ""
    nftables_mark_mask: Mask32 | None = None
    bpf_enabled: bool | None = None
    bpf_overlay_host_source_ip: Literal["TunnelAddress", "HostAddress"] | None = Field(
        None, alias="bpfOverlayHostSourceIP"
    )
    bpf_disable_unprivileged: bool | None = None
    bpf_jit_hardening: Literal["Auto", "Strict"] | None = Field(None, alias="bpfJITHardening")
    # Declared without omitempty in Go: always printed, "" when unset.
    bpf_log_level: BPFLogLevel = ""
    bpf_conntrack_log_level: Annotated[Literal["Off", "Debug"] | None, EmptyIsUnset] = None
    bpf_conntrack_mode: Literal["Auto", "Userspace", "BPFProgram"] | None = None
    bpf_conntrack_timeouts: BPFConntrackTimeouts | None = None
    bpf_ip_frag_timeout: Duration | None = Field(None, alias="bpfIPFragTimeout")
    bpf_log_filters: BPFLogFilters | None = None
    bpf_ctlb_log_filter: str = Field("", alias="bpfCTLBLogFilter")
    bpf_data_iface_pattern: RegexText = ""
    bpf_l3_iface_pattern: RegexText = ""
    bpf_connect_time_load_balancing_enabled: bool | None = None
    bpf_connect_time_load_balancing: Literal["TCP", "Enabled", "Disabled"] | None = None
    bpf_host_networked_nat_without_ctlb: EnabledDisabled | None = Field(
        None, alias="bpfHostNetworkedNATWithoutCTLB"
    )
    bpf_external_service_mode: ExternalServiceMode = ""
    bpf_dsr_optout_cidrs: list[Cidr] | None = Field(None, alias="bpfDSROptoutCIDRs")
    bpf_ext_to_service_connmark: Mask32 | None = None
    bpf_kube_proxy_iptables_cleanup_enabled: bool | None = None
    bpf_kube_proxy_min_sync_period: Duration | None = None
    bpf_kube_proxy_healthz_port: Port16 | None = None
    bpf_psnat_ports: Port | None = Field(None, alias="bpfPSNATPorts")
    bpf_map_size_nat_frontend: int | None = Field(None, alias="bpfMapSizeNATFrontend")
    bpf_map_size_nat_backend: int | None = Field(None, alias="bpfMapSizeNATBackend")
    bpf_map_size_nat_affinity: int | None = Field(None, alias="bpfMapSizeNATAffinity")
    bpf_map_size_route: int | None = None
    bpf_map_size_conntrack: int | None = None
    bpf_map_size_per_cpu_conntrack: int | None = None
    bpf_map_size_conntrack_scaling: ConntrackScaling = ""
    bpf_map_size_conntrack_cleanup_queue: Annotated[int, Field(ge=1)] | None = None
    bpf_map_size_ipsets: int | None = Field(None, alias="bpfMapSizeIPSets")
    bpf_map_size_if_state: int | None = None
    bpf_host_conntrack_bypass: bool | None = None
    bpf_ip_fragment_reassembly_enabled: bool | None = Field(
        None, alias="bpfIPFragmentReassemblyEnabled"
    )
    bpf_enforce_rpf: RPFMode = Field("", alias="bpfEnforceRPF")
    bpf_policy_debug_enabled: bool | None = None
    bpf_force_track_packets_from_ifaces: list[Annotated[IfaceFilter, NonEmpty]] | None = None
    bpf_disable_gro_for_ifaces: RegexText = Field("", alias="bpfDisableGROForIfaces")
    bpf_exclude_cidrs_from_nat: list[Cidr] | None = Field(None, alias="bpfExcludeCIDRsFromNAT")
    bpf_export_buffer_size_mb: int | None = Field(None, alias="bpfExportBufferSizeMB")
    istio_ambient_mode: EnabledDisabled | None = None
    istio_dscp_mark: DSCP | None = Field(None, alias="istioDSCPMark")
    cgroup_v2_path: str = ""
    flow_logs_policy_evaluation_mode: Literal["None", "Continuous"] | None = None
    bpf_redirect_to_peer: Annotated[EnabledDisabled | None, EmptyIsUnset] = None
    bpf_attach_type: Literal["TC", "TCX", "Netkit"] | None = None
    flow_logs_flush_interval: Duration | None = None
    flow_logs_collector_debug_trace: bool | None = None
    flow_logs_goldmane_server: str | None = None
    flow_logs_local_reporter: EnabledDisabled | None = None
    bpf_profiling: Annotated[EnabledDisabled | None, EmptyIsUnset] = None
    route_source: RouteSourceMode = ""
    route_table_ranges: list[RouteTableIDRange] | None = None
    route_table_range: RouteTableRange | None = None
    route_sync_disabled: bool | None = None
    ipv4_normal_route_priority: RoutePriority | None = None
    ipv4_elevated_route_priority: RoutePriority | None = None
    ipv6_normal_route_priority: RoutePriority | None = None
    ipv6_elevated_route_priority: RoutePriority | None = None
    live_migration_route_convergence_time: Duration | None = None
    wireguard_enabled: bool | None = None
    wireguard_enabled_v6: bool | None = None
    wireguard_threading_enabled: bool | None = None
    wireguard_listening_port: ListenPort | None = None
    wireguard_listening_port_v6: ListenPort | None = None
    wireguard_routing_rule_priority: Annotated[int, Field(ge=1, le=32765)] | None = None
    wireguard_interface_name: InterfaceName = ""
    wireguard_interface_name_v6: InterfaceName = ""
    wireguard_mtu: int | None = Field(None, alias="wireguardMTU")
    wireguard_mtu_v6: int | None = Field(None, alias="wireguardMTUV6")
    wireguard_host_encryption_enabled: bool | None = None
    wireguard_keep_alive: Duration | None = None
    aws_src_dst_check: Literal["DoNothing", "Enable", "Disable"] | None = None
    service_loop_prevention: LoopPrevention = ""
    workload_source_spoofing: SpoofingMode = ""
    mtu_iface_pattern: RegexText = ""
    floating_ips: EnabledDisabled | None = Field(None, alias="floatingIPs")
    local_subnet_l2_reachability: Literal["Disabled", "PodsAndLoadBalancers"] | None = None
    local_subnet_l2_reachability_refresh_interval: Duration | None = None
    windows_manage_firewall_rules: EnabledDisabled | None = None
    go_gc_threshold: GoTuning | None = Field(None, alias="goGCThreshold")
    go_memory_limit_mb: GoTuning | None = Field(None, alias="goMemoryLimitMB")
    go_max_procs: GoTuning | None = None
    require_mtu_file: bool | None = Field(None, alias="requireMTUFile")
    bpf_maglev_max_endpoints_per_service: MaglevLimit | None = None
    bpf_maglev_max_services: MaglevLimit | None = None

    _always_emit: ClassVar[frozenset[str]] = frozenset({"bpf_log_level"})
