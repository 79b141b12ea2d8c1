"""The Calico network config: defaults, type errors (7), unsupported values (2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from calico.cni.config import DEFAULT_IPAM_LOCK_FILE, DEFAULT_NODENAME_FILE, NetConf
from calico.cni.spec import INVALID_CONFIG, TRY_AGAIN_LATER, UNSUPPORTED_FIELD, CniError

BASE: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "name": "net",
    "type": "calico",
    "ipam": {"type": "calico-ipam"},
}


def parse(**extra: Any) -> NetConf:
    return NetConf.from_json({**BASE, **extra})


def test_defaults() -> None:
    conf = parse()
    assert conf.ipam.type == "calico-ipam"
    assert (conf.ipam.assign_ipv4, conf.ipam.assign_ipv6) == (True, False)
    assert conf.mtu == 0
    assert conf.nodename_file == DEFAULT_NODENAME_FILE
    assert conf.ipam_lock_file == DEFAULT_IPAM_LOCK_FILE
    assert conf.policy_type == ""
    assert conf.prev_result is None
    assert conf.datastore == {}


def test_calico_fields() -> None:
    conf = parse(
        mtu=1400,
        nodename="n1",
        policy={"type": "k8s"},
        log_level="DEBUG",
        container_settings={"allow_ip_forwarding": True},
        ipam={
            "type": "calico-ipam",
            "assign_ipv4": "false",
            "assign_ipv6": "true",
            "ipv6_pools": ["fd00::/64"],
        },
        datastore_type="etcdv3",
        etcd_endpoints="http://10.0.0.1:2379",
        sqlite_path="/x.db",
        prevResult={"ips": []},
        args={"cni": {}},
        unknown_key="ignored",
    )
    assert conf.mtu == 1400
    assert conf.nodename == "n1"
    assert conf.policy_type == "k8s"
    assert conf.log_level == "debug"
    assert conf.allow_ip_forwarding
    assert (conf.ipam.assign_ipv4, conf.ipam.assign_ipv6) == (False, True)
    assert conf.ipam.ipv6_pools == ("fd00::/64",)
    assert conf.datastore == {
        "DATASTORE_TYPE": "etcdv3",
        "ETCD_ENDPOINTS": "http://10.0.0.1:2379",
        "CALICO_SQLITE_PATH": "/x.db",
    }
    assert conf.prev_result == {"ips": []}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"mtu": "1500"}, "mtu"),
        ({"mtu": True}, "mtu"),
        ({"mtu": -1}, "mtu"),
        ({"nodename": 5}, "nodename"),
        ({"ipam": {}}, "ipam.type"),
        ({"ipam": "calico-ipam"}, "ipam"),
        ({"ipam": {"type": "calico-ipam", "assign_ipv4": "yes"}}, "ipam.assign_ipv4"),
        ({"ipam": {"type": "calico-ipam", "ipv4_pools": "10.0.0.0/8"}}, "ipam.ipv4_pools"),
        ({"nodename_file_optional": "true"}, "nodename_file_optional"),
        ({"log_level": "loud"}, "log_level"),
        ({"container_settings": {"allow_ip_forwarding": 1}}, "allow_ip_forwarding"),
    ],
)
def test_type_errors_are_code_7_naming_the_field(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(CniError) as info:
        parse(**extra)
    assert info.value.code == INVALID_CONFIG
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        ({"datastore_type": "kubernetes"}, "datastore_type=kubernetes"),
        ({"policy": {"type": "calico"}}, "policy.type=calico"),
        ({"device_type": "netkit"}, "device_type=netkit"),
        ({"mode": "vxlan"}, "mode=vxlan"),
        ({"feature_control": {"floating_ips": True}}, "feature_control.floating_ips=true"),
    ],
)
def test_unsupported_values_are_code_2_naming_field_and_value(
    extra: dict[str, Any], text: str
) -> None:
    with pytest.raises(CniError) as info:
        parse(**extra)
    assert info.value.code == UNSUPPORTED_FIELD
    assert text in info.value.details


def test_nodename_resolution(tmp_path: Path) -> None:
    missing = tmp_path / "nodename"
    with pytest.raises(CniError) as info:
        parse(nodename_file=str(missing)).resolve_nodename()
    assert info.value.code == TRY_AGAIN_LATER
    missing.write_text("from-file\n")
    assert parse(nodename_file=str(missing)).resolve_nodename() == "from-file"
    assert parse(nodename_file=str(missing), nodename="explicit").resolve_nodename() == "explicit"
    optional = parse(
        nodename_file=str(tmp_path / "none"), nodename_file_optional=True, hostname="legacy"
    )
    assert optional.resolve_nodename() == "legacy"


def test_datastore_config_overrides_the_environment() -> None:
    env = {"DATASTORE_TYPE": "etcdv3", "CALICO_SQLITE_PATH": "/env.db"}
    cfg = parse(datastore_type="sqlite", sqlite_path="/conf.db").datastore_config(env)
    assert (cfg.type, cfg.sqlite_path) == ("sqlite", "/conf.db")
    assert parse().datastore_config(env).type == "etcdv3"
    with pytest.raises(CniError) as info:
        parse(etcd_endpoints="not a url").datastore_config({})
    assert info.value.code == INVALID_CONFIG


def test_mtu_from_config() -> None:
    assert parse(mtu=1400).resolve_mtu() == 1400
