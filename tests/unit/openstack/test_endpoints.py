"""Neutron port -> WorkloadEndpoint, with networking-calico's test ports (lower-cased:
Calico names are lower case, as Neutron's UUIDs are)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from calico.errors import ValidationError
from calico.openstack.endpoints import (
    PortExtra,
    endpoint_name,
    is_endpoint_port,
    tap_name,
    workload_endpoint,
)
from calico.openstack.labels import sanitize

PORT1: dict[str, Any] = {
    "binding:vif_type": "tap",
    "binding:host_id": "felix-host-1",
    "id": "deadbeef-1234-5678",
    "tenant_id": "jane3",
    "network_id": "calico-network-id",
    "device_id": "instance-1",
    "device_owner": "compute:nova",
    "fixed_ips": [{"subnet_id": "subnet-id-10.65.0--24", "ip_address": "10.65.0.2"}],
    "mac_address": "00:11:22:33:44:55",
    "admin_state_up": True,
    "security_groups": ["sgid-default"],
    "status": "ACTIVE",
    "allowed_address_pairs": [{"ip_address": "23.23.23.2", "mac_address": "fa:16:3e:c4:cd:3f"}],
}
PORT3_V6: dict[str, Any] = {
    **PORT1,
    "id": "hello-1234-5678",
    "binding:host_id": "felix-host-2",
    "device_id": "instance-3",
    "fixed_ips": [
        {"subnet_id": "subnet-id-2001:db8:a41:2--64", "ip_address": "2001:db8:a41:2::12"}
    ],
    "allowed_address_pairs": [],
}
EXTRA = PortExtra(
    subnet_gateways={
        "subnet-id-10.65.0--24": "10.65.0.1",
        "subnet-id-2001:db8:a41:2--64": "2001:db8:a41:2::1",
    },
    sg_names={"sgid-default": "My default SG"},
    network_name="calico-network-name",
    project_name="pname_jane3",
    project_parent_id="gibson",
    floating_ips=[("10.65.0.2", "192.168.0.1")],
)

# networking-calico's ep_deadbeef_value_v3, less its non-Calico "allowedIps"
# field (carried in an annotation instead).
EXPECTED_PORT1 = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "WorkloadEndpoint",
    "metadata": {
        "name": "felix--host--1-openstack-instance--1-deadbeef--1234--5678",
        "namespace": "openstack",
        "labels": {
            "sg.projectcalico.org/openstack-sgid-default": "My_default_SG",
            "sg-name.projectcalico.org/openstack-My_default_SG": "sgid-default",
            "projectcalico.org/namespace": "openstack",
            "projectcalico.org/orchestrator": "openstack",
            "projectcalico.org/openstack-project-id": "jane3",
            "projectcalico.org/openstack-project-name": "pname_jane3",
            "projectcalico.org/openstack-project-parent-id": "gibson",
            "projectcalico.org/openstack-network-name": "calico-network-name",
        },
        "annotations": {
            "openstack.projectcalico.org/network-id": "calico-network-id",
            "openstack.projectcalico.org/allowed-ips": "23.23.23.2/32",
        },
    },
    "spec": {
        "orchestrator": "openstack",
        "workload": "instance-1",
        "node": "felix-host-1",
        "endpoint": "deadbeef-1234-5678",
        "ipNetworks": ["10.65.0.2/32", "23.23.23.2/32"],
        "ipNATs": [{"internalIP": "10.65.0.2", "externalIP": "192.168.0.1"}],
        "ipv4Gateway": "10.65.0.1",
        "interfaceName": "tapdeadbeef-12",
        "mac": "00:11:22:33:44:55",
    },
}


def test_port_becomes_networking_calicos_workload_endpoint() -> None:
    assert workload_endpoint(PORT1, EXTRA, "openstack").to_dict() == EXPECTED_PORT1


def test_ipv6_fixed_ip_is_a_128_with_the_v6_gateway() -> None:
    spec = workload_endpoint(
        PORT3_V6, PortExtra(subnet_gateways=EXTRA.subnet_gateways), "openstack"
    ).spec
    assert spec.ip_networks == ["2001:db8:a41:2::12/128"]
    assert spec.ipv6_gateway == "2001:db8:a41:2::1"
    assert spec.ipv4_gateway == ""


V4 = {"subnet_id": "s4", "ip_address": "10.0.0.5"}
V6 = {"subnet_id": "s6", "ip_address": "fd00::5"}


@pytest.mark.parametrize(
    ("fixed_ips", "pairs", "networks", "allowed"),
    [
        ([], [], [], None),
        ([V4], [], ["10.0.0.5/32"], None),
        ([V4, V6], [], ["10.0.0.5/32", "fd00::5/128"], None),
        ([V4], [{"ip_address": "10.9.9.9"}], ["10.0.0.5/32", "10.9.9.9/32"], "10.9.9.9/32"),
        # An allowed address pair may be a CIDR in Neutron; Calico wants hosts.
        (
            [],
            [{"ip_address": "10.9.9.9/32"}, {"ip_address": "fd00::9"}],
            ["10.9.9.9/32", "fd00::9/128"],
            "10.9.9.9/32,fd00::9/128",
        ),
    ],
)
def test_ip_networks(
    fixed_ips: list[Any], pairs: list[Any], networks: list[str], allowed: str | None
) -> None:
    port = {**PORT1, "fixed_ips": fixed_ips, "allowed_address_pairs": pairs}
    wep = workload_endpoint(port, PortExtra(), "openstack")
    assert wep.spec.ip_networks == networks
    assert wep.metadata.annotations.get("openstack.projectcalico.org/allowed-ips") == allowed


def test_last_gateway_of_a_family_wins_and_missing_subnets_give_none() -> None:
    port = {
        **PORT1,
        "fixed_ips": [
            {"subnet_id": "a", "ip_address": "10.0.0.5"},
            {"subnet_id": "b", "ip_address": "10.1.0.5"},
            {"subnet_id": "gone", "ip_address": "10.2.0.5"},
        ],
    }
    extra = PortExtra(subnet_gateways={"a": "10.0.0.1", "b": "10.1.0.1", "gone": None})
    assert workload_endpoint(port, extra, "openstack").spec.ipv4_gateway == "10.1.0.1"


@pytest.mark.parametrize(
    ("host", "device", "port_id", "name"),
    [
        (
            "felix-host-1",
            "instance-1",
            "deadbeef-1234-5678",
            "felix--host--1-openstack-instance--1-deadbeef--1234--5678",
        ),
        ("h", "d", "p", "h-openstack-d-p"),
        ("compute.example.org", "vm", "1-2", "compute.example.org-openstack-vm-1--2"),
    ],
)
def test_names_double_dashes(host: str, device: str, port_id: str, name: str) -> None:
    assert endpoint_name({"binding:host_id": host, "device_id": device, "id": port_id}) == name


def test_explicit_host_overrides_the_binding() -> None:
    wep = workload_endpoint(PORT1, PortExtra(), "openstack-region-r1", host="other")
    assert wep.name.startswith("other-openstack-")
    assert wep.spec.node == "other"
    assert wep.namespace == "openstack-region-r1"
    assert wep.metadata.labels["projectcalico.org/namespace"] == "openstack-region-r1"


def test_tap_name_is_novas() -> None:
    port_id = "3f1c9a2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
    assert tap_name(port_id) == "tap3f1c9a2e-5b"
    assert tap_name(port_id) == ("tap" + port_id)[:14]


@pytest.mark.parametrize(
    ("owner", "is_endpoint"),
    [
        ("compute:nova", True),
        ("compute:az-1", True),
        ("kuryr:container", True),
        ("network:dhcp", False),
        ("network:router_interface", False),
        ("", False),
        (None, False),
    ],
)
def test_only_vm_ports_are_endpoints(owner: str | None, is_endpoint: bool) -> None:
    assert is_endpoint_port({**PORT1, "device_owner": owner}) is is_endpoint


@pytest.mark.parametrize(
    ("sgs", "names", "labels"),
    [
        ([], {}, {}),
        (["a"], {}, {"sg.projectcalico.org/openstack-a": ""}),
        (
            ["a", "b"],
            {"a": "web", "b": "db servers!"},
            {
                "sg.projectcalico.org/openstack-a": "web",
                "sg-name.projectcalico.org/openstack-web": "a",
                "sg.projectcalico.org/openstack-b": "db_servers",
                "sg-name.projectcalico.org/openstack-db_servers": "b",
            },
        ),
    ],
)
def test_security_group_labels(
    sgs: list[str], names: dict[str, str], labels: dict[str, str]
) -> None:
    wep = workload_endpoint(
        {**PORT1, "security_groups": sgs}, PortExtra(sg_names=names), "openstack"
    )
    got = {k: v for k, v in wep.metadata.labels.items() if k.startswith("sg")}
    assert got == labels


def test_project_labels_need_a_project() -> None:
    port = copy.deepcopy(PORT1)
    del port["tenant_id"]
    wep = workload_endpoint(port, PortExtra(), "openstack")
    assert not [k for k in wep.metadata.labels if "openstack-project" in k]
    port["project_id"] = "p1"
    wep = workload_endpoint(port, PortExtra(project_name="Team A (prod)"), "openstack")
    assert wep.metadata.labels["projectcalico.org/openstack-project-id"] == "p1"
    assert wep.metadata.labels["projectcalico.org/openstack-project-name"] == "Team_A__prod"
    assert wep.metadata.labels["projectcalico.org/openstack-project-parent-id"] == ""


def test_fqdn_annotation_from_dns_assignment() -> None:
    port = {
        **PORT1,
        "dns_assignment": [
            {"hostname": "vm1", "ip_address": "10.65.0.2", "fqdn": "vm1.example.org."}
        ],
    }
    annotations = workload_endpoint(port, PortExtra(), "openstack").metadata.annotations
    assert annotations["openstack.projectcalico.org/fqdn"] == "vm1.example.org."


def test_an_unrepresentable_port_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match=r"spec\.endpoint"):
        workload_endpoint({**PORT1, "id": "UPPER-case"}, PortExtra(), "openstack")


@pytest.mark.parametrize(
    ("raw", "max_length", "clean"),
    [
        ("My default SG", 63, "My_default_SG"),
        ("--x--", 63, "x"),
        ("_a.b-c_", 63, "a.b-c"),
        ("ünïcode", 63, "n_code"),
        ("a" * 70, 63, "a" * 63),
        ("abcdef-", 6, "abcdef"),
        ("abcde-f", 6, "abcde"),
        ("", 63, ""),
    ],
)
def test_sanitize_label_values(raw: str, max_length: int, clean: str) -> None:
    assert sanitize(raw, max_length) == clean
