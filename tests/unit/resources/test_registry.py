"""Kind registry: calicoctl names, key plurals, table columns, parse_resource dispatch."""

from __future__ import annotations

import pytest

from calico.datastore.keys import KIND_KEYS
from calico.errors import ValidationError
from calico.resources import API_VERSION, all_kinds, kind_info, parse_resource
from calico.resources._columns import go_float, join

from .helpers import parse

ALIASES = {
    "NetworkPolicy": [
        "networkpolicy",
        "networkpolicies",
        "policy",
        "policies",
        "np",
        "pol",
        "pols",
    ],
    "GlobalNetworkPolicy": ["globalnetworkpolicy", "globalnetworkpolicies", "gnp", "gnps"],
    "Tier": ["tier", "tiers"],
    "Profile": ["profile", "profiles", "pro", "pros"],
    "WorkloadEndpoint": ["workloadendpoint", "workloadendpoints", "wep", "weps"],
    "HostEndpoint": ["hostendpoint", "hostendpoints", "hep", "heps"],
    "Node": ["node", "nodes", "no", "nos"],
    "IPPool": ["ippool", "ippools", "ipp", "ipps", "pool", "pools"],
    "IPReservation": ["ipreservation", "ipreservations", "reservation", "reservations"],
    "IPAMConfiguration": ["ipamconfiguration", "ipamconfigurations", "ipamconfig", "ipamconfigs"],
    "BGPConfiguration": ["bgpconfiguration", "bgpconfigurations", "bgpconfig", "bgpconfigs"],
    "BGPPeer": ["bgppeer", "bgppeers", "bgpp", "bgpps", "bp", "bps"],
    "FelixConfiguration": [
        "felixconfiguration",
        "felixconfigurations",
        "felixconfig",
        "felixconfigs",
    ],
    "NetworkSet": ["networkset", "networksets", "netsets"],
    "GlobalNetworkSet": ["globalnetworkset", "globalnetworksets", "gnetsets"],
    "ClusterInformation": [
        "clusterinformation",
        "clusterinformations",
        "clusterinfo",
        "clusterinfos",
    ],
}

# REFERENCE section 9 and calicoctl resourcemgr: (ps headings, wide headings).
HEADINGS = {
    "IPPool": (
        "NAME CIDR SELECTOR",
        "NAME CIDR NAT IPIPMODE VXLANMODE DISABLED DISABLEBGPEXPORT SELECTOR ASSIGNMENTMODE",
    ),
    "NetworkPolicy": ("NAME TIER", "NAME TIER ORDER SELECTOR"),
    "GlobalNetworkPolicy": ("NAME TIER", "NAME TIER ORDER SELECTOR"),
    "WorkloadEndpoint": (
        "WORKLOAD NODE NETWORKS INTERFACE",
        "NAME WORKLOAD NODE NETWORKS INTERFACE PROFILES NATS",
    ),
    "HostEndpoint": ("NAME NODE", "NAME NODE INTERFACE IPS PROFILES"),
    "Node": ("NAME", "NAME ASN IPV4 IPV6"),
    "BGPPeer": ("NAME PEERIP NODE ASN", "NAME PEERIP NODE ASN"),
    "BGPConfiguration": (
        "NAME LOGSEVERITY MESHENABLED ASNUMBER",
        "NAME LOGSEVERITY MESHENABLED ASNUMBER",
    ),
    "Profile": ("NAME", "NAME LABELS"),
    "Tier": ("NAME ORDER", "NAME ORDER"),
    "IPAMConfiguration": (
        "NAME STRICTAFFINITY AUTOALLOCATEBLOCKS",
        "NAME STRICTAFFINITY AUTOALLOCATEBLOCKS MAXBLOCKSPERHOST",
    ),
    "NetworkSet": ("NAME", "NAME NETS"),
    "GlobalNetworkSet": ("NAME", "NAME NETS"),
    "IPReservation": ("NAME", "NAME CIDRS"),
    "FelixConfiguration": ("NAME", "NAME"),
    "ClusterInformation": (
        "NAME CLUSTERGUID CLUSTERTYPE CALICOVERSION DATASTOREREADY",
        "NAME CLUSTERGUID CLUSTERTYPE CALICOVERSION DATASTOREREADY",
    ),
}


def test_all_kinds() -> None:
    kinds = {info.kind for info in all_kinds()}
    assert kinds == set(ALIASES)
    for info in all_kinds():
        assert (info.plural, info.namespaced) == KIND_KEYS[info.kind]
        assert info.model.kind_name() == info.kind
        assert info.model.namespaced() == info.namespaced
    assert {i.kind for i in all_kinds() if i.namespaced} == {
        "NetworkPolicy",
        "NetworkSet",
        "WorkloadEndpoint",
    }


@pytest.mark.parametrize(("kind", "names"), ALIASES.items())
def test_aliases(kind: str, names: list[str]) -> None:
    info = kind_info(kind)
    assert info.names == frozenset(names)
    for name in names:
        assert kind_info(name) is info
        assert kind_info(name.upper()) is info


def test_unknown_kind_names_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        kind_info("ippoool")
    assert "'ippoool'" in str(info.value)
    assert "IPPool" in str(info.value)


@pytest.mark.parametrize(("kind", "headings"), HEADINGS.items())
def test_table_headings(kind: str, headings: tuple[str, str]) -> None:
    info = kind_info(kind)
    assert " ".join(c.header for c in info.ps_columns) == headings[0]
    assert " ".join(c.header for c in info.wide_columns) == headings[1]
    assert info.table_columns(wide=True) == info.wide_columns
    all_ns = " ".join(c.header for c in info.table_columns(all_namespaces=True))
    assert all_ns == ("NAMESPACE " if info.namespaced else "") + headings[0]


def cells(kind: str, resource: object, wide: bool = True) -> dict[str, str]:
    info = kind_info(kind)
    columns = info.table_columns(wide=wide)
    return {c.header: c.getter(resource) for c in columns}  # type: ignore[arg-type]


def test_cells_render_like_go() -> None:
    pool = parse("IPPool", {"cidr": "10.0.0.0/16", "natOutgoing": True}, name="p1")
    assert cells("IPPool", pool) == {
        "NAME": "p1",
        "CIDR": "10.0.0.0/16",
        "NAT": "true",
        "IPIPMODE": "Never",
        "VXLANMODE": "Never",
        "DISABLED": "false",
        "DISABLEBGPEXPORT": "false",
        "SELECTOR": "all()",
        "ASSIGNMENTMODE": "Automatic",
    }
    assert cells("Tier", parse("Tier", {}, name="t")) == {"NAME": "t", "ORDER": "1e+06"}
    policy = parse("NetworkPolicy", {"selector": "a == 'b'"}, name="np1", namespace="ns")
    assert cells("NetworkPolicy", policy) == {
        "NAME": "np1",
        "TIER": "default",
        "ORDER": "<nil>",
        "SELECTOR": "a == 'b'",
    }
    assert kind_info("np").column("namespace").getter(policy) == "ns"
    peer = parse("BGPPeer", {"peerIP": "10.0.0.1", "asNumber": 64513})
    assert cells("BGPPeer", peer)["NODE"] == "(global)"
    assert (
        cells("BGPPeer", parse("BGPPeer", {"nodeSelector": "rr == 'true'"}))["NODE"]
        == "rr == 'true'"
    )
    config = parse("BGPConfiguration", {"nodeToNodeMeshEnabled": False}, name="default")
    assert cells("BGPConfiguration", config) == {
        "NAME": "default",
        "LOGSEVERITY": "Info",
        "MESHENABLED": "false",
        "ASNUMBER": "-",
    }
    profile = parse("Profile", {"labelsToApply": {"b": "2", "a": "1"}}, name="pr")
    assert cells("Profile", profile)["LABELS"] == "a=1,b=2"


def test_endpoint_and_node_cells() -> None:
    wep = parse(
        "WorkloadEndpoint",
        {
            "node": "n1",
            "orchestrator": "k8s",
            "pod": "p",
            "endpoint": "eth0",
            "interfaceName": "cali1",
            "ipNetworks": ["10.0.0.1/32"],
            "ipNATs": [{"internalIP": "10.0.0.1", "externalIP": "1.2.3.4"}],
            "profiles": ["kns.ns"],
        },
        name="",
        namespace="ns",
    )
    assert cells("WorkloadEndpoint", wep) == {
        "NAME": "n1-k8s-p-eth0",
        "WORKLOAD": "p",
        "NODE": "n1",
        "NETWORKS": "10.0.0.1/32",
        "INTERFACE": "cali1",
        "PROFILES": "kns.ns",
        "NATS": "{10.0.0.1 1.2.3.4}",
    }
    node = parse("Node", {"bgp": {"ipv4Address": "10.0.0.5/24"}}, name="n1")
    assert cells("Node", node) == {
        "NAME": "n1",
        "ASN": "(64512)",
        "IPV4": "10.0.0.5/24",
        "IPV6": "",
    }
    assert cells("Node", parse("Node", {}, name="n2"))["ASN"] == ""
    info = parse("ClusterInformation", {}, name="default")
    assert cells("ClusterInformation", info)["DATASTOREREADY"] == "<nil>"


def test_column_rejects_other_kinds() -> None:
    with pytest.raises(TypeError):
        kind_info("tier").ps_columns[1].getter(parse("Profile", {}, name="x"))
    with pytest.raises(ValidationError, match="valid columns are"):
        kind_info("tier").column("CIDR")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (100.0, "100"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (10.5, "10.5"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (1e21, "1e+21"),
    ],
)
def test_go_float(value: float, expected: str) -> None:
    assert go_float(value) == expected


def test_join_truncates_like_calicoctl() -> None:
    assert join(["a", "b"]) == "a,b"
    long = join([f"10.0.{i}.0/24" for i in range(20)], max_len=80)
    assert len(long) == 80
    assert long.endswith("...")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"kind": "IPPool", "metadata": {"name": "p"}},
            "apiVersion",
            "must be 'projectcalico.org/v3'",
        ),
        (
            {"apiVersion": "projectcalico.org/v1", "kind": "IPPool"},
            "apiVersion",
            "projectcalico.org/v3",
        ),
        ({"apiVersion": API_VERSION}, "kind", "is required"),
        (
            {"apiVersion": API_VERSION, "kind": "KubeControllersConfiguration"},
            "kind",
            "unknown resource kind",
        ),
        ({"apiVersion": API_VERSION, "kind": "ippool"}, "kind", "unknown resource kind"),
    ],
)
def test_parse_resource_dispatch_errors(data: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_resource(data)
    assert info.value.field == field
    assert message in str(info.value)


def test_parse_resource_requires_a_mapping() -> None:
    with pytest.raises(ValidationError, match="must be a mapping"):
        parse_resource(["not", "a", "mapping"])  # type: ignore[arg-type]
