"""Endpoint identity, workload metadata from args, and the documents' shape."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from calico.cni.spec import CmdArgs, CniError
from calico.cni.wep import (
    NETWORK_ANNOTATION,
    WorkloadIDs,
    endpoint_document,
    identifiers,
    profile_document,
    workload_info,
)
from calico.resources import parse_resource

CID = "3f2a9c0d1e2b4a5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def cmd(cni_args: str = "") -> CmdArgs:
    return CmdArgs("ADD", container_id=CID, netns="/run/netns/x", ifname="eth0", args=cni_args)


def test_plain_cni_identity() -> None:
    ids = identifiers(cmd(), "host-1")
    assert ids == WorkloadIDs("host-1", "cni", CID, "eth0", "default", "")
    assert ids.name == f"host--1-cni-{CID}-eth0"
    assert ids.host_veth_name() == "cali" + CID[:11]
    assert ids.workload_id == CID
    assert identifiers(cmd("CNI_TEST_NAMESPACE=ns1"), "h").namespace == "ns1"


def test_k8s_identity() -> None:
    ids = identifiers(cmd("IgnoreUnknown=1;K8S_POD_NAMESPACE=web;K8S_POD_NAME=front-1"), "node1")
    assert (ids.orchestrator, ids.namespace, ids.pod) == ("k8s", "web", "front-1")
    assert ids.name == "node1-k8s-front--1-eth0"
    assert ids.host_veth_name() == "cali" + hashlib.sha1(b"web.front-1").hexdigest()[:11]
    assert len(ids.host_veth_name()) == 15
    assert ids.workload_id == "web.front-1"


def test_interface_prefix_from_felix_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FELIX_INTERFACEPREFIX", "tap,cali")
    assert identifiers(cmd(), "h").host_veth_name() == "tap" + CID[:11]


K8S = identifiers(cmd("K8S_POD_NAMESPACE=web;K8S_POD_NAME=front"), "node1")
ARGS: dict[str, Any] = {
    "cni": {"labels": [{"key": "app", "value": "web"}, {"key": "tier", "value": "x"}]},
    "org.projectcalico": {
        "labels": {"tier": "front"},
        "ports": [{"name": "http", "protocol": "tcp", "port": 80}],
        "serviceAccount": "sa1",
        "profiles": ["extra"],
    },
}
MAPPINGS = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "udp"}]}


def test_workload_info_from_args() -> None:
    info = workload_info(ARGS, MAPPINGS, K8S, "net", k8s_policy=True)
    assert info.labels == {"app": "web", "tier": "front"}
    assert info.profiles == ["kns.web", "ksa.web.sa1", "extra"]
    assert info.service_account == "sa1"
    assert info.ports == [
        {"name": "http", "protocol": "TCP", "port": 80, "hostPort": 0, "hostIP": ""},
        {"name": "", "protocol": "UDP", "port": 80, "hostPort": 8080, "hostIP": ""},
    ]


def test_profiles_without_k8s_policy_are_the_network() -> None:
    assert workload_info({}, {}, K8S, "net", k8s_policy=False).profiles == ["net"]
    plain = identifiers(cmd(), "h")
    assert workload_info({}, {}, plain, "net", k8s_policy=True).profiles == ["net"]


@pytest.mark.parametrize(
    "args",
    [
        {"cni": {"labels": {"app": "web"}}},
        {"org.projectcalico": {"labels": {"a": 1}}},
        {"org.projectcalico": {"ports": [{"name": "x"}]}},
        {"org.projectcalico": {"serviceAccount": 5}},
        {"org.projectcalico": []},
    ],
)
def test_bad_args_are_config_errors(args: dict[str, Any]) -> None:
    with pytest.raises(CniError) as info:
        workload_info(args, {}, K8S, "net", k8s_policy=True)
    assert info.value.code == 7


def test_endpoint_document_is_what_the_v3_model_stores() -> None:
    info = workload_info(ARGS, MAPPINGS, K8S, "net", k8s_policy=True)
    doc = endpoint_document(
        K8S, info, "net", ["10.0.0.5/32", "fd00::5/128"], K8S.host_veth_name(), "02:00:00:00:00:01"
    )
    assert parse_resource(doc).to_dict() == doc
    meta, spec = doc["metadata"], doc["spec"]
    assert meta["name"] == "node1-k8s-front-eth0"
    assert meta["namespace"] == "web"
    assert meta["labels"] == {
        "app": "web",
        "tier": "front",
        "projectcalico.org/namespace": "web",
        "projectcalico.org/orchestrator": "k8s",
        "projectcalico.org/serviceaccount": "sa1",
    }
    assert meta["annotations"] == {NETWORK_ANNOTATION: "net"}
    assert meta["uid"]
    assert meta["creationTimestamp"].endswith("Z")
    assert spec["serviceAccountName"] == "sa1"
    assert spec["ipNetworks"] == ["10.0.0.5/32", "fd00::5/128"]


def test_plain_endpoint_leaves_empty_fields_out() -> None:
    ids = identifiers(cmd(), "h1")
    doc = endpoint_document(
        ids,
        workload_info({}, {}, ids, "net", False),
        "net",
        ["10.0.0.6/32"],
        ids.host_veth_name(),
        "02:00:00:00:00:02",
    )
    assert parse_resource(doc).to_dict() == doc
    assert set(doc["spec"]) == {
        "orchestrator",
        "node",
        "containerID",
        "endpoint",
        "ipNetworks",
        "profiles",
        "interfaceName",
        "mac",
    }


@pytest.mark.parametrize(
    ("k8s", "ingress"),
    [
        (False, [{"action": "Allow", "source": {"selector": "has(net)"}}]),
        (True, [{"action": "Allow"}]),
    ],
)
def test_profile_document(k8s: bool, ingress: list[dict[str, Any]]) -> None:
    doc = profile_document("net", k8s)
    assert parse_resource(doc).to_dict() == doc
    assert doc["spec"] == {
        "ingress": ingress,
        "egress": [{"action": "Allow"}],
        "labelsToApply": {"net": ""},
    }
