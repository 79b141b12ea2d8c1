"""WorkloadEndpoint names: the table of libcalico-go ``names/workloadendpoint_test.go``."""

from __future__ import annotations

import pytest

from calico.cni.names import EndpointIdentifiers, parse_name, split_name
from calico.errors import ValidationError

Ids = EndpointIdentifiers

FULL_NAMES = [
    (
        Ids(node="node-1", orchestrator="k8s", pod="pod-name", endpoint="eth0"),
        "node--1-k8s-pod--name-eth0",
        "",
    ),
    (
        Ids(node="node-1", orchestrator="cni", container_id="abcdefa0123456", endpoint="eth0"),
        "node--1-cni-abcdefa0123456-eth0",
        "",
    ),
    (
        Ids(node="node-1", orchestrator="libnetwork", endpoint="abcdefgh"),
        "node--1-libnetwork-libnetwork-abcdefgh",
        "",
    ),
    (
        Ids(node="node-1", orchestrator="foo", workload="foo-foo", endpoint="abcdefgh"),
        "node--1-foo-foo--foo-abcdefgh",
        "",
    ),
    (Ids(node="node-1", pod="pod-name", endpoint="eth0"), "", "orchestrator"),
    (Ids(node="node-1", orchestrator="k8s", endpoint="eth0"), "", "pod"),
    (
        Ids(node="node-1", orchestrator="cni", container_id="-abcdefa0123456", endpoint="eth0"),
        "",
        "containerID",
    ),
    (
        Ids(node="node-1", orchestrator="foo", workload="foo-foo-", endpoint="abcdefgh"),
        "",
        "workload",
    ),
]


@pytest.mark.parametrize(("ids", "expected", "bad_field"), FULL_NAMES)
def test_full_name(ids: Ids, expected: str, bad_field: str) -> None:
    if bad_field:
        with pytest.raises(ValidationError) as info:
            ids.name()
        assert info.value.field == bad_field
    else:
        assert ids.name() == expected


PREFIXES = [
    (
        Ids(node="node-1", orchestrator="k8s", pod="pod-name", endpoint="eth0"),
        "node--1-k8s-pod--name-eth0",
        "",
    ),
    (Ids(node="node-1", orchestrator="foo", pod="pod-name", endpoint="eth0"), "node--1-foo-", ""),
    (Ids(node="node-1", orchestrator="k8s", endpoint="eth0"), "node--1-k8s-", ""),
    (
        Ids(node="node-1", orchestrator="cni", container_id="-abcdefa0123456", endpoint="eth0"),
        "",
        "containerID",
    ),
    (
        Ids(node="node-1", orchestrator="foo", workload="foo-foo-", endpoint="abcdefgh"),
        "",
        "workload",
    ),
    (Ids(orchestrator="k8s", pod="pod-name", endpoint="eth0"), "", "node"),
    (Ids(node="node-1", pod="pod-name", endpoint="eth0"), "node--1-", ""),
]


@pytest.mark.parametrize(("ids", "expected", "bad_field"), PREFIXES)
def test_prefix(ids: Ids, expected: str, bad_field: str) -> None:
    if bad_field:
        with pytest.raises(ValidationError) as info:
            ids.prefix()
        assert info.value.field == bad_field
    else:
        assert ids.prefix() == expected


MATCHES = [
    (Ids(node="node-1", pod="pod-name", endpoint="eth0"), "", False),
    (
        Ids(node="node-1", orchestrator="k8s", pod="pod-name", endpoint="eth0"),
        "node--1-k8s-pod--name-eth0",
        True,
    ),
    (
        Ids(node="node-1", orchestrator="k8s", pod="pod-name", endpoint="eth0"),
        "node--1-k8s-pod--name-eth",
        False,
    ),
    (
        Ids(node="node-1", orchestrator="cni", endpoint="eth0"),
        "node--1-cni-orchestratorid-eth0",
        True,
    ),
    (
        Ids(node="node-1", orchestrator="cni", container_id="abcde", endpoint="eth0"),
        "node--1-cni-abcde-eth0",
        True,
    ),
    (
        Ids(node="node-1", orchestrator="cni", container_id="abcde", endpoint="eth0"),
        "node--1-cni-abcdef-eth0",
        False,
    ),
    (Ids(node="node-1", orchestrator="k8s", endpoint="eth0"), "node--1-k8s-", False),
    (
        Ids(node="node-1", orchestrator="k8s", pod="pod", endpoint="eth0"),
        "node--1-k8s-pod-eth0-extra",
        False,
    ),
]


@pytest.mark.parametrize(("ids", "name", "expected"), MATCHES)
def test_matches(ids: Ids, name: str, expected: bool) -> None:
    assert ids.matches(name) is expected


def test_matches_needs_a_node() -> None:
    with pytest.raises(ValidationError) as info:
        Ids(orchestrator="k8s", pod="pod-name", endpoint="eth0").matches("")
    assert info.value.field == "node"


PARSES = [
    ("node-k8s-pod-eth0", Ids(node="node", orchestrator="k8s", pod="pod", endpoint="eth0")),
    ("node-", Ids(node="node")),
    ("node-k8s-pod--name-", Ids(node="node", orchestrator="k8s", pod="pod-name")),
    (
        "node-cni-xyz-eth0",
        Ids(node="node", orchestrator="cni", container_id="xyz", endpoint="eth0"),
    ),
    (
        "node-libnetwork-libnetwork-eth0",
        Ids(node="node", orchestrator="libnetwork", endpoint="eth0"),
    ),
    (
        "node-foo--orch-workload-eth0",
        Ids(node="node", orchestrator="foo-orch", workload="workload", endpoint="eth0"),
    ),
    ("coredns-668d6bf9bc-bxhr6", Ids(node="coredns", orchestrator="668d6bf9bc", workload="bxhr6")),
]


@pytest.mark.parametrize(("name", "expected"), PARSES)
def test_parse(name: str, expected: Ids) -> None:
    assert parse_name(name) == expected


@pytest.mark.parametrize("name", ["", "calico-kube-controllers-7946b84856-2fwwq"])
def test_parse_refuses(name: str) -> None:
    with pytest.raises(ValidationError):
        parse_name(name)


def test_names_round_trip() -> None:
    ids = Ids(node="my-node", orchestrator="k8s", pod="a--b-c", endpoint="eth0")
    assert parse_name(ids.name()) == ids
    assert split_name(ids.name()) == ["my-node", "k8s", "a--b-c", "eth0"]
