"""WorkloadEndpoint and HostEndpoint, ported from validator_test.go."""

from __future__ import annotations

from typing import Any

import pytest

from calico.resources import (
    WorkloadEndpoint,
    WorkloadEndpointSpec,
    workload_endpoint_name,
)

from .helpers import doc, parse, rejects, roundtrip

K8S = {
    "node": "node1",
    "orchestrator": "k8s",
    "pod": "mypod-1",
    "endpoint": "eth0",
    "interfaceName": "cali012371237",
}
PORT = {"name": "a-valid-port", "protocol": "TCP", "port": 1234}


def wep(spec: dict[str, Any], name: str = "") -> dict[str, Any]:
    return doc("WorkloadEndpoint", {**K8S, **spec}, name=name, namespace="default")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (K8S, "node1-k8s-mypod--1-eth0"),
        (
            {"node": "node-1", "orchestrator": "cni", "containerID": "abc-123", "endpoint": "eth0"},
            "node--1-cni-abc--123-eth0",
        ),
        (
            {"node": "host1", "orchestrator": "libnetwork", "endpoint": "ep1"},
            "host1-libnetwork-libnetwork-ep1",
        ),
        (
            {"node": "host1", "orchestrator": "openstack", "workload": "vm-1", "endpoint": "tap1"},
            "host1-openstack-vm--1-tap1",
        ),
    ],
)
def test_workload_endpoint_names(spec: dict[str, Any], expected: str) -> None:
    model = WorkloadEndpointSpec.model_validate({"interfaceName": "cali1", **spec})
    assert workload_endpoint_name(model) == expected
    endpoint = parse(
        "WorkloadEndpoint", {"interfaceName": "cali1", **spec}, name="", namespace="ns"
    )
    assert endpoint.name == expected
    assert (
        parse("WorkloadEndpoint", {"interfaceName": "cali1", **spec}, name=expected).name
        == expected
    )


def test_name_must_match_the_spec() -> None:
    rejects(
        wep({}, name="node1-k8s-otherpod-eth0"),
        "metadata.name",
        "expected 'node1-k8s-mypod--1-eth0'",
    )


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"pod": ""}, "spec.pod"),
        ({"node": ""}, "spec.node"),
        ({"orchestrator": ""}, "spec.orchestrator"),
    ],
)
def test_name_segments_are_required(spec: dict[str, Any], field: str) -> None:
    rejects(wep(spec), field, "part of the endpoint's name")


def test_name_segments_must_not_start_with_a_dash() -> None:
    rejects(wep({"endpoint": "-eth0"}), "spec.endpoint", "start and end with an alphanumeric")
    # Workload IDs are not DNS names, but still may not end with '-'.
    rejects(wep({"orchestrator": "cni", "containerID": "abc-"}), "spec.containerID", "alphanumeric")


def test_workload_endpoint_roundtrip() -> None:
    endpoint = parse(
        "WorkloadEndpoint",
        {
            **K8S,
            "containerID": "Cath01234-G",
            "serviceAccountName": "default",
            "ipNetworks": ["10.0.0.1", "1.2.0.0/32", "aabb:aabb::ffff/128", "aabb:aabb::/128"],
            "ipNATs": [{"internalIP": "10.0.0.1", "externalIP": "100.200.0.0"}],
            "ipv4Gateway": "169.254.1.1",
            "profiles": ["kns.default", "ksa.default.default"],
            "mac": "ee:ee:ee:ee:ee:ee",
            "ports": [
                PORT,
                {"protocol": "UDP", "port": 53, "hostPort": 5353, "hostIP": "10.0.0.9"},
            ],
            "allowSpoofedSourcePrefixes": ["10.0.0.1", "192.168.0.0/16"],
            "qosControls": {"ingressBandwidth": 1000000, "dscp": "EF"},
        },
        name="",
        namespace="default",
    )
    assert isinstance(endpoint, WorkloadEndpoint)
    assert endpoint.spec.ip_networks[0] == "10.0.0.1/32"
    data = endpoint.to_dict()
    # Go has no omitempty on these port fields.
    assert data["spec"]["ports"][0] == {**PORT, "hostPort": 0, "hostIP": ""}
    roundtrip(endpoint)


VALID_WEP: list[tuple[str, dict[str, Any]]] = [
    ("interface only", {}),
    ("valid interface", {"interfaceName": "Valid_Iface.0-9"}),
    (
        "IPv6 NAT covered",
        {
            "ipNetworks": ["aabb:aabb::ffff/128"],
            "ipNATs": [{"internalIP": "aabb:aabb::ffff", "externalIP": "aabb::abcd"}],
        },
    ),
    (
        "both NATs covered",
        {
            "ipNetworks": ["1.2.3.4/32", "aabb:aabb::ffff/128"],
            "ipNATs": [
                {"internalIP": "1.2.3.4", "externalIP": "100.200.0.0"},
                {"internalIP": "aabb:aabb::ffff", "externalIP": "aabb::abcd"},
            ],
        },
    ),
    ("name-clashing ports", {"ports": [PORT, {**PORT, "protocol": "UDP", "port": 5456}]}),
    (
        "unnamed port with host port",
        {"ports": [{"protocol": "TCP", "port": 1234, "hostPort": 2345}]},
    ),
    ("SCTP port", {"ports": [{**PORT, "protocol": "SCTP"}]}),
]


@pytest.mark.parametrize(("case", "spec"), VALID_WEP, ids=[c for c, _ in VALID_WEP])
def test_valid_workload_endpoints(case: str, spec: dict[str, Any]) -> None:
    roundtrip(
        parse("WorkloadEndpoint", {**K8S, **spec}, name="", namespace="default"),
        written={**K8S, **spec},
    )


INVALID_WEP: list[tuple[str, dict[str, Any], str, str]] = [
    ("no interface", {"interfaceName": ""}, "spec.interfaceName", "required"),
    ("interface too long", {"interfaceName": "interfaceTooLong"}, "spec.interfaceName", "1 to 15"),
    ("& in interface", {"interfaceName": "Invalid&Intface"}, "spec.interfaceName", "1 to 15"),
    ("# in interface", {"interfaceName": "Invalid#Intface"}, "spec.interfaceName", "1 to 15"),
    (": in interface", {"interfaceName": "Invalid:Intface"}, "spec.interfaceName", "1 to 15"),
    (
        "IPv4 network with more than one address",
        {"ipNetworks": ["1.2.3.0/26"]},
        "spec.ipNetworks[0]",
        "/32 or /128",
    ),
    (
        "IPv6 network with more than one address",
        {"ipNetworks": ["aabb:aabb::/122"]},
        "spec.ipNetworks[0]",
        "/32 or /128",
    ),
    (
        "NAT and no networks",
        {"ipNATs": [{"internalIP": "100.200.0.0", "externalIP": "1.2.3.4"}]},
        "spec.ipNATs[0].internalIP",
        "not one of the endpoint's ipNetworks",
    ),
    (
        "IPv4 NAT not covered",
        {
            "ipNetworks": ["1.2.3.4/32"],
            "ipNATs": [{"internalIP": "100.200.0.0", "externalIP": "1.2.3.4"}],
        },
        "spec.ipNATs[0].internalIP",
        "ipNetworks",
    ),
    (
        "IPv6 NAT not covered",
        {
            "ipNetworks": ["aabb:aabb::ffff/128"],
            "ipNATs": [{"internalIP": "aabb::abcd", "externalIP": "aabb:aabb::ffff"}],
        },
        "spec.ipNATs[0].internalIP",
        "ipNetworks",
    ),
    (
        "NAT mixing families",
        {
            "ipNetworks": ["1.2.3.4/32"],
            "ipNATs": [{"internalIP": "1.2.3.4", "externalIP": "aabb::1"}],
        },
        "spec.ipNATs[0].externalIP",
        "same IP version",
    ),
    (
        "containerID starting with a dash",
        {"containerID": "-abcdefg"},
        "spec.containerID",
        "alphanumeric",
    ),
    (
        "containerID ending with a dash",
        {"containerID": "abcdeSg-"},
        "spec.containerID",
        "alphanumeric",
    ),
    ("containerID with a period", {"containerID": "abcde-j.g"}, "spec.containerID", "alphanumeric"),
    (
        "unnamed port without host port",
        {"ports": [{"protocol": "TCP", "port": 1234}]},
        "spec.ports[0].name",
        "needs a name",
    ),
    (
        "port with bad host IP",
        {
            "ports": [
                {"protocol": "TCP", "port": 1234, "hostPort": 2345, "hostIP": "999.999.999.999"}
            ]
        },
        "spec.ports[0].hostIP",
        "CIDR",
    ),
    (
        "port with no protocol",
        {"ports": [{"name": "a-valid-port", "port": 1234}]},
        "spec.ports[0].protocol",
        "is required",
    ),
    (
        "port with numeric protocol",
        {"ports": [{**PORT, "protocol": 123}]},
        "spec.ports[0].protocol",
        "TCP, UDP or SCTP",
    ),
    (
        "port with no port",
        {"ports": [{"name": "a-valid-port", "protocol": "TCP"}]},
        "spec.ports[0].port",
        "is required",
    ),
    ("port 0", {"ports": [{**PORT, "port": 0}]}, "spec.ports[0].port", ">= 1"),
    (
        "bad spoofing prefix",
        {"allowSpoofedSourcePrefixes": ["10.abcd"]},
        "spec.allowSpoofedSourcePrefixes[0]",
        "CIDR",
    ),
    ("IPv6 gateway in IPv4 field", {"ipv4Gateway": "aabb::1"}, "spec.ipv4Gateway", "IPv4"),
    ("bad MAC", {"mac": "ee:ee:ee"}, "spec.mac", "MAC"),
    ("empty profile name", {"profiles": [""]}, "spec.profiles[0]", "must not be empty"),
    ("bad DSCP", {"qosControls": {"dscp": 64}}, "spec.qosControls.dscp", "DSCP"),
]


@pytest.mark.parametrize(
    ("case", "spec", "field", "message"), INVALID_WEP, ids=[c[0] for c in INVALID_WEP]
)
def test_invalid_workload_endpoints(
    case: str, spec: dict[str, Any], field: str, message: str
) -> None:
    rejects(wep(spec), field, message)


def test_workload_endpoint_is_namespaced_and_needs_its_spec() -> None:
    rejects(doc("WorkloadEndpoint", None, namespace="default"), "spec", "is required")


# ---------------------------------------------------------------- HostEndpoint

VALID_HEP: list[tuple[str, dict[str, Any]]] = [
    ("interface and node", {"interfaceName": "eth0", "node": "node01"}),
    ("expected IPs", {"expectedIPs": ["1.2.3.4", "aabb:aabb::ffff"], "node": "node01"}),
    (
        "interface and expected IPs",
        {"interfaceName": "eth0", "expectedIPs": ["1.2.3.4"], "node": "node01"},
    ),
    ("all interfaces", {"interfaceName": "*", "node": "node01"}),
    ("named port", {"interfaceName": "eth0", "node": "node01", "ports": [PORT]}),
    (
        "name-clashing ports",
        {
            "interfaceName": "eth0",
            "node": "node01",
            "ports": [PORT, {**PORT, "protocol": "UDP", "port": 5456}],
        },
    ),
    (
        "prefixed profile names",
        {
            "interfaceName": "eth0",
            "node": "node01",
            "profiles": ["knp.default.fun", "knp.default.funner.11234-a"],
        },
    ),
    (
        "plain profile name",
        {"interfaceName": "eth0", "node": "node01", "profiles": ["fun-funner1234"]},
    ),
]


@pytest.mark.parametrize(("case", "spec"), VALID_HEP, ids=[c for c, _ in VALID_HEP])
def test_valid_host_endpoints(case: str, spec: dict[str, Any]) -> None:
    endpoint = parse("HostEndpoint", spec, name="node01-eth0", labels={"role": "host"})
    roundtrip(endpoint, written=spec)


INVALID_HEP: list[tuple[str, dict[str, Any], str, str]] = [
    ("no config", {}, "spec.node", "node must be specified"),
    (
        "missing node",
        {"interfaceName": "eth0", "ports": [PORT]},
        "spec.node",
        "node must be specified",
    ),
    (
        "blank interface and no IPs",
        {"interfaceName": "", "expectedIPs": [], "node": "node01"},
        "spec.interfaceName",
        "at least one of interfaceName or expectedIPs",
    ),
    (
        "unnamed port",
        {"interfaceName": "eth0", "node": "node01", "ports": [{"protocol": "TCP", "port": 1234}]},
        "spec.ports[0].name",
        "must be named",
    ),
    (
        "bad port name",
        {"interfaceName": "eth0", "node": "node01", "ports": [{**PORT, "name": "Port_1"}]},
        "spec.ports[0].name",
        "port name",
    ),
    (
        "ICMP port",
        {"interfaceName": "eth0", "node": "node01", "ports": [{**PORT, "protocol": "ICMP"}]},
        "spec.ports[0].protocol",
        "TCP, UDP or SCTP",
    ),
    (
        "profile starting with a dot",
        {"interfaceName": "eth0", "node": "node01", "profiles": [".fun"]},
        "spec.profiles[0]",
        "lower case",
    ),
    (
        "expected IP is a CIDR",
        {"expectedIPs": ["10.0.0.0/8"], "node": "node01"},
        "spec.expectedIPs[0]",
        "invalid IP address",
    ),
    (
        "interface too long",
        {"interfaceName": "interfaceTooLong", "node": "node01"},
        "spec.interfaceName",
        "1 to 15",
    ),
]


@pytest.mark.parametrize(
    ("case", "spec", "field", "message"), INVALID_HEP, ids=[c[0] for c in INVALID_HEP]
)
def test_invalid_host_endpoints(case: str, spec: dict[str, Any], field: str, message: str) -> None:
    rejects(doc("HostEndpoint", spec), field, message)


def test_host_endpoint_port_fields_are_always_printed() -> None:
    endpoint = parse("HostEndpoint", {"interfaceName": "eth0", "node": "n", "ports": [PORT]})
    assert endpoint.to_dict()["spec"]["ports"] == [PORT]


def test_workload_endpoint_gets_calico_labels_once_namespaced() -> None:
    endpoint = parse("WorkloadEndpoint", K8S, name="", namespace="prod", labels={"app": "web"})
    assert endpoint.metadata.labels == {
        "app": "web",
        "projectcalico.org/namespace": "prod",
        "projectcalico.org/orchestrator": "k8s",
    }
    # Before the client has chosen a namespace there is nothing to add.
    assert parse("WorkloadEndpoint", K8S, name="", labels={"app": "web"}).metadata.labels == {
        "app": "web"
    }
