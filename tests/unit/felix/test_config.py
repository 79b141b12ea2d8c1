from __future__ import annotations

from pathlib import Path

import pytest

from calico.errors import ConfigError
from calico.felix.config import ProtoPort, load_config_file, resolve


def test_builtin_defaults() -> None:
    cfg = resolve(env={}, hostname="h1")
    assert cfg.felix_hostname == "h1"
    assert cfg.interface_prefix == ("cali",)
    assert cfg.default_endpoint_to_host_action == "DROP"
    assert cfg.iptables_refresh_interval == 180.0
    assert cfg.vxlan_port == 4789
    assert ProtoPort("tcp", 22) in cfg.failsafe_inbound_host_ports
    assert ProtoPort("udp", 53) in cfg.failsafe_outbound_host_ports
    assert len(cfg.failsafe_inbound_host_ports) == 9


def test_precedence_env_over_file_over_node_over_global() -> None:
    global_spec = {"logPrefix": "global", "vxlanPort": 1, "healthPort": 1, "metadataPort": 1}
    host_spec = {"logPrefix": "host", "vxlanPort": 2, "healthPort": 2}
    file_values = {"LogPrefix": "file", "VXLANPort": "3"}
    env = {"FELIX_LOGPREFIX": "env"}
    cfg = resolve(
        env=env, file_values=file_values, host_spec=host_spec, global_spec=global_spec, hostname="h"
    )
    assert cfg.log_prefix == "env"
    assert cfg.vxlan_port == 3
    assert cfg.health_port == 2
    assert cfg.metadata_port == 1


def test_env_names_are_case_insensitive_and_enums_normalised() -> None:
    cfg = resolve(env={"FELIX_DefaultEndpointToHostAction": "return"}, hostname="h")
    assert cfg.default_endpoint_to_host_action == "RETURN"
    cfg = resolve(env={}, global_spec={"defaultEndpointToHostAction": "Accept"}, hostname="h")
    assert cfg.default_endpoint_to_host_action == "ACCEPT"


def test_interface_prefix_list_and_durations() -> None:
    cfg = resolve(
        env={"FELIX_INTERFACEPREFIX": "cali, tap"},
        global_spec={"iptablesRefreshInterval": "1m30s", "routeRefreshInterval": "500ms"},
        hostname="h",
    )
    assert cfg.interface_prefix == ("cali", "tap")
    assert cfg.iptables_refresh_interval == 90.0
    assert cfg.route_refresh_interval == 0.5


def test_failsafe_ports_from_env_and_spec() -> None:
    cfg = resolve(env={"FELIX_FAILSAFEINBOUNDHOSTPORTS": "tcp:22, udp:161, 8080"}, hostname="h")
    assert cfg.failsafe_inbound_host_ports == (
        ProtoPort("tcp", 22),
        ProtoPort("udp", 161),
        ProtoPort("tcp", 8080),
    )
    cfg = resolve(env={"FELIX_FAILSAFEOUTBOUNDHOSTPORTS": "none"}, hostname="h")
    assert cfg.failsafe_outbound_host_ports == ()
    spec = {"failsafeInboundHostPorts": [{"protocol": "TCP", "port": 2222, "net": "10.0.0.0/8"}]}
    cfg = resolve(env={}, global_spec=spec, hostname="h")
    assert cfg.failsafe_inbound_host_ports == (ProtoPort("tcp", 2222, "10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"FELIX_DEFAULTENDPOINTTOHOSTACTION": "Maybe"}, "FELIX_DefaultEndpointToHostAction"),
        ({"FELIX_VXLANPORT": "abc"}, "'abc'"),
        ({"FELIX_HEALTHENABLED": "perhaps"}, "HealthEnabled"),
        ({"FELIX_IPTABLESREFRESHINTERVAL": "10 minutes"}, "IptablesRefreshInterval"),
        ({"FELIX_FAILSAFEINBOUNDHOSTPORTS": "icmp:1"}, "icmp"),
        ({"FELIX_FAILSAFEINBOUNDHOSTPORTS": "tcp:70000"}, "70000"),
    ],
)
def test_bad_values_name_param_and_value(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(env=env, hostname="h")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_datastore_value_names_spec_field() -> None:
    with pytest.raises(ConfigError, match=r"spec\.vxlanPort"):
        resolve(env={}, global_spec={"vxlanPort": "x"}, hostname="h")


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "felix.cfg"
    path.write_text("[global]\nLogPrefix = fromfile\nHealthEnabled = true\n")
    values = load_config_file(str(path))
    cfg = resolve(env={}, file_values=values, hostname="h")
    assert cfg.log_prefix == "fromfile"
    assert cfg.health_enabled is True
    assert load_config_file(str(path) + ".missing") == {}
