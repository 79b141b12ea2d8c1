"""What users type and what the lab derives from it (no root, no namespaces)."""

from __future__ import annotations

import pytest

from calico.errors import ConfigError
from calico.lab import matrix
from calico.lab.cluster import LabConfig
from calico.lab.cni_runtime import (
    HostNetwork,
    NamedPort,
    Pod,
    apply_label_changes,
    network_config,
    parse_labels,
)


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("http=8080/tcp", NamedPort("http", 8080, "tcp")),
        ("DNS=53/UDP", NamedPort("dns", 53, "udp")),
        ("m3ua=2905/sctp", NamedPort("m3ua", 2905, "sctp")),
    ],
)
def test_named_port(text: str, port: NamedPort) -> None:
    assert NamedPort.parse(text) == port
    assert port.to_cni() == {
        "name": port.name,
        "port": port.port,
        "protocol": port.protocol.upper(),
    }


@pytest.mark.parametrize(
    "text",
    ["8080", "http=8080", "http=80/icmp", "http=0/tcp", "http=70000/tcp", "-bad=80/tcp", "=80/tcp"],
)
def test_named_port_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--port"):
        NamedPort.parse(text)


def test_parse_labels() -> None:
    assert parse_labels("") == {}
    assert parse_labels("app=web, tier=1,empty=") == {"app": "web", "tier": "1", "empty": ""}
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        parse_labels("app")
    with pytest.raises(ConfigError, match="label key 'bad key'"):
        parse_labels("bad key=1")
    with pytest.raises(ConfigError, match="63"):
        parse_labels("a=" + "x" * 64)


def test_label_changes() -> None:
    base = {"app": "web", "projectcalico.org/namespace": "default"}
    assert apply_label_changes(base, ["tier=1", "app-"]) == {
        "tier": "1",
        "projectcalico.org/namespace": "default",
    }
    assert apply_label_changes(base, ["app=db"])["app"] == "db"
    with pytest.raises(ConfigError, match="'nope' is not set"):
        apply_label_changes(base, ["nope-"])
    with pytest.raises(ConfigError, match="KEY=VALUE or KEY-"):
        apply_label_changes(base, ["justakey"])
    with pytest.raises(ConfigError, match="reserved"):
        apply_label_changes(base, ["projectcalico.org/namespace=x"])


@pytest.mark.parametrize(
    ("encap", "subnets", "mode", "bgp", "mtu"),
    [
        ("none", 1, "Never", True, 1500),
        ("none", 2, "Never", True, 1500),
        ("vxlan", 1, "Always", False, 1450),
        ("vxlan", 2, "CrossSubnet", False, 1450),
        ("ipip", 2, "CrossSubnet", True, 1480),
    ],
)
def test_lab_config_encapsulation(encap: str, subnets: int, mode: str, bgp: bool, mtu: int) -> None:
    config = LabConfig("x", encap=encap, subnets=subnets).validate()
    assert (config.encap_mode, config.bgp, config.mtu) == (mode, bgp, mtu)
    assert bool(config.warnings()) == (encap == "none" and subnets == 2)


@pytest.mark.parametrize(
    "bad", [{"datastore": "mysql"}, {"encap": "gre"}, {"subnets": 3}, {"hosts": 0}]
)
def test_lab_config_rejects(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LabConfig("x", **bad).validate()  # type: ignore[arg-type]


def test_network_config_is_calicos_k8s_config_with_lab_metadata() -> None:
    host = HostNetwork(
        "host1",
        "lab-host1",
        {"datastore_type": "sqlite", "sqlite_path": "/x.db"},
        1450,
        "/run/ipam.lock",
        "/run/cni.log",
    )
    pod = Pod(
        "c1",
        "/run/netns/lab-wl-web",
        "shop",
        "web",
        {"app": "web"},
        [NamedPort("http", 8080, "tcp")],
    )
    conf = network_config(host, pod)
    assert conf["type"] == "calico"
    assert conf["ipam"] == {"type": "calico-ipam"}
    assert conf["policy"] == {"type": "k8s"}
    assert (conf["nodename"], conf["mtu"], conf["sqlite_path"]) == ("host1", 1450, "/x.db")
    ours = conf["args"]["org.projectcalico"]
    assert ours["labels"] == {"app": "web"}
    assert ours["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web" in pod.cni_args


def test_matrix_expectations_and_differences() -> None:
    expected = matrix.expected(["a", "b", "c"], lambda s, d: s == "a")
    assert expected == {
        "a": {"b": True, "c": True},
        "b": {"a": False, "c": False},
        "c": {"a": False, "b": False},
    }
    got = matrix.Matrix(80, "tcp", ("a", "b", "c"), {**expected, "b": {"a": True, "c": False}})
    assert got.differences(expected) == ["b -> a: expected blocked, got reachable"]
    assert got.to_json()["results"]["b"]["a"] is True
    cells = [str(c) for c in matrix.table(got, expected).columns[1].cells]  # Text -> plain
    assert cells == ["·", "✓≠", "✗"]
