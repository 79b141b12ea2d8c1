"""IPPool: Calico's defaults and validator table."""

from __future__ import annotations

from typing import Any

import pytest

from calico.resources import IPPool

from .helpers import doc, parse, rejects, roundtrip


def test_ipv4_defaults() -> None:
    pool = parse("IPPool", {"cidr": "192.168.0.0/16"}, name="default-ipv4-ippool")
    assert isinstance(pool, IPPool)
    assert pool.to_dict()["spec"] == {
        "cidr": "192.168.0.0/16",
        "vxlanMode": "Never",
        "ipipMode": "Never",
        "blockSize": 26,
        "nodeSelector": "all()",
        "allowedUses": ["Workload", "Tunnel"],
        "assignmentMode": "Automatic",
    }
    assert pool.spec.nat_outgoing is False
    roundtrip(pool)


def test_ipv6_defaults_and_normalisation() -> None:
    pool = parse("IPPool", {"cidr": "FD80:24E2:F998:72D6:0::/64", "natOutgoing": True})
    assert isinstance(pool, IPPool)
    assert pool.spec.cidr == "fd80:24e2:f998:72d6::/64"
    assert pool.spec.block_size == 122
    assert pool.to_dict()["spec"]["natOutgoing"] is True
    roundtrip(pool)


VALID: list[tuple[str, dict[str, Any]]] = [
    ("IPv4 /26", {"cidr": "1.2.3.0/26"}),
    ("IPv4 /10", {"cidr": "1.0.0.0/10"}),
    ("IPv6 /122", {"cidr": "aabb:aabb::/122", "ipipMode": "Never", "vxlanMode": "Never"}),
    ("IPv6 /10", {"cidr": "aa00::/10"}),
    ("disabled IPv4 /27", {"cidr": "1.2.3.0/27", "disabled": True}),
    ("disabled IPv6 /128", {"cidr": "aabb:aabb::ffff/128", "disabled": True}),
    ("IPv4 /32 block size", {"cidr": "10.0.0.0/30", "blockSize": 32}),
    ("IPv6 VXLAN", {"cidr": "fd00::/48", "vxlanMode": "Always"}),
    ("IPIP Always", {"cidr": "1.2.3.0/24", "ipipMode": "Always"}),
    ("IPIP CrossSubnet", {"cidr": "1.2.3.0/24", "ipipMode": "CrossSubnet"}),
    ("VXLAN CrossSubnet", {"cidr": "1.2.3.0/24", "vxlanMode": "CrossSubnet"}),
    ("empty modes mean Never", {"cidr": "1.2.3.0/24", "ipipMode": "", "vxlanMode": ""}),
    ("IPIP with VXLAN Never", {"cidr": "1.2.3.0/24", "ipipMode": "Always", "vxlanMode": "Never"}),
    ("allowed uses", {"cidr": "1.0.0.0/10", "allowedUses": ["Workload", "Tunnel"]}),
    ("tunnel only", {"cidr": "1.0.0.0/10", "allowedUses": ["Tunnel"]}),
    ("load balancer", {"cidr": "1.0.0.0/10", "allowedUses": ["LoadBalancer"]}),
    ("assignment mode", {"cidr": "1.0.0.0/10", "assignmentMode": "Manual"}),
    (
        "node selector",
        {"cidr": "1.0.0.0/10", "nodeSelector": 'region == "east" && environment == "production"'},
    ),
    ("set node selector", {"cidr": "1.0.0.0/10", "nodeSelector": 'region in {"east", "west"}'}),
    ("has node selector", {"cidr": "1.0.0.0/10", "nodeSelector": "has(team)"}),
    (
        "namespace selector",
        {
            "cidr": "1.0.0.0/10",
            "allowedUses": ["Workload"],
            "namespaceSelector": 'environment contains "prod"',
        },
    ),
    ("labels in metadata", {"cidr": "1.2.3.0/26"}),
]


@pytest.mark.parametrize(("case", "spec"), VALID, ids=[c for c, _ in VALID])
def test_valid(case: str, spec: dict[str, Any]) -> None:
    roundtrip(
        parse("IPPool", spec, name="pool.name", labels={"projectcalico.org/label": "x" * 63}),
        written=spec,
    )


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("no cidr", {}, "spec.cidr", "is required"),
    ("address without mask", {"cidr": "10.0.0.1"}, "spec.cidr", "CIDR notation"),
    ("not strictly masked", {"cidr": "10.0.0.1/16"}, "spec.cidr", "not strictly masked"),
    ("garbage", {"cidr": "garbage/16"}, "spec.cidr", "invalid CIDR"),
    (
        "IPv4 /27 smaller than a block",
        {"cidr": "1.2.3.0/27"},
        "spec.cidr",
        "smaller than one block",
    ),
    (
        "IPv6 /128 smaller than a block",
        {"cidr": "aabb:aabb::ffff/128"},
        "spec.cidr",
        "smaller than one block",
    ),
    ("IPv4 /33", {"cidr": "1.2.3.4/33"}, "spec.cidr", "prefix length"),
    ("IPv6 /129", {"cidr": "aa:bb::/129"}, "spec.cidr", "prefix length"),
    (
        "IPv4 block size too small",
        {"cidr": "10.0.0.0/8", "blockSize": 19},
        "spec.blockSize",
        "between 20 and 32",
    ),
    (
        "IPv4 block size too large",
        {"cidr": "10.0.0.0/8", "blockSize": 33},
        "spec.blockSize",
        "between 20 and 32",
    ),
    (
        "IPv6 block size too small",
        {"cidr": "fd00::/48", "blockSize": 115},
        "spec.blockSize",
        "between 116 and 128",
    ),
    (
        "IPIP on IPv6",
        {"cidr": "fd00::/48", "ipipMode": "Always", "vxlanMode": "Never"},
        "spec.ipipMode",
        "IPv6",
    ),
    ("IPv4 link local", {"cidr": "169.254.5.0/24"}, "spec.cidr", "link-local"),
    ("contains IPv4 link local", {"cidr": "169.0.0.0/8"}, "spec.cidr", "link-local"),
    ("IPv6 link local", {"cidr": "fe80::/120", "disabled": True}, "spec.cidr", "link-local"),
    ("bad IPIP mode", {"cidr": "1.2.3.0/24", "ipipMode": "badVal"}, "spec.ipipMode", "must be"),
    (
        "lower case IPIP mode",
        {"cidr": "1.2.3.0/24", "ipipMode": "never"},
        "spec.ipipMode",
        "must be",
    ),
    (
        "lower case VXLAN mode",
        {"cidr": "1.2.3.0/24", "vxlanMode": "never"},
        "spec.vxlanMode",
        "must be",
    ),
    ("bad VXLAN mode", {"cidr": "1.2.3.0/24", "vxlanMode": "badVal"}, "spec.vxlanMode", "must be"),
    (
        "IPIP and VXLAN",
        {"cidr": "1.2.3.0/24", "ipipMode": "Always", "vxlanMode": "Always"},
        "spec.vxlanMode",
        "cannot both be enabled",
    ),
    (
        "IPIP cross-subnet and VXLAN",
        {"cidr": "1.2.3.0/24", "ipipMode": "CrossSubnet", "vxlanMode": "Always"},
        "spec.vxlanMode",
        "cannot both be enabled",
    ),
    (
        "load balancer with tunnel",
        {"cidr": "1.0.0.0/10", "allowedUses": ["LoadBalancer", "Tunnel"]},
        "spec.allowedUses",
        "cannot be combined",
    ),
    (
        "unknown use",
        {"cidr": "1.0.0.0/10", "allowedUses": ["Garbage"]},
        "spec.allowedUses[0]",
        "must be",
    ),
    (
        "empty assignment mode is unknown",
        {"cidr": "1.0.0.0/10", "assignmentMode": "Sometimes"},
        "spec.assignmentMode",
        "must be",
    ),
    (
        "load balancer without BGP export",
        {"cidr": "1.0.0.0/10", "allowedUses": ["LoadBalancer"], "disableBGPExport": True},
        "spec.disableBGPExport",
        "LoadBalancer",
    ),
    (
        "load balancer with VXLAN",
        {"cidr": "1.0.0.0/10", "allowedUses": ["LoadBalancer"], "vxlanMode": "Always"},
        "spec.allowedUses",
        "IPIP or VXLAN",
    ),
    (
        "load balancer with IPIP",
        {"cidr": "1.0.0.0/10", "allowedUses": ["LoadBalancer"], "ipipMode": "Always"},
        "spec.allowedUses",
        "IPIP or VXLAN",
    ),
    (
        "load balancer with node selector",
        {"cidr": "1.0.0.0/10", "allowedUses": ["LoadBalancer"], "nodeSelector": "!all()"},
        "spec.nodeSelector",
        "all()",
    ),
    (
        "tunnel with namespace selector",
        {"cidr": "1.0.0.0/10", "allowedUses": ["Tunnel"], "namespaceSelector": 'region == "east"'},
        "spec.namespaceSelector",
        "Tunnel",
    ),
    (
        "default uses with namespace selector",
        {"cidr": "1.0.0.0/10", "namespaceSelector": 'region == "east"'},
        "spec.namespaceSelector",
        "Tunnel",
    ),
    (
        "global() node selector",
        {"cidr": "1.0.0.0/10", "nodeSelector": "global()"},
        "spec.nodeSelector",
        "global()",
    ),
    (
        "global() namespace selector",
        {"cidr": "1.0.0.0/10", "allowedUses": ["Workload"], "namespaceSelector": "global()"},
        "spec.namespaceSelector",
        "global()",
    ),
    (
        "invalid node selector",
        {"cidr": "1.2.3.0/26", "nodeSelector": "this is not valid selector syntax"},
        "spec.nodeSelector",
        "invalid selector",
    ),
    (
        "legacy ipip block",
        {"cidr": "1.2.3.0/24", "ipip": {"enabled": True}},
        "spec.ipip",
        "unknown field",
    ),
    (
        "legacy nat-outgoing",
        {"cidr": "1.2.3.0/24", "nat-outgoing": True},
        "spec.nat-outgoing",
        "unknown field",
    ),
    ("string block size", {"cidr": "1.2.3.0/24", "blockSize": "26"}, "spec.blockSize", "integer"),
]


@pytest.mark.parametrize(("case", "spec", "field", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid(case: str, spec: dict[str, Any], field: str, message: str) -> None:
    rejects(doc("IPPool", spec, name="pool.name"), field, message)


def test_missing_spec() -> None:
    rejects(doc("IPPool", None, name="p"), "spec", "is required")


def test_metadata_rules_apply() -> None:
    rejects(doc("IPPool", {"cidr": "1.2.3.0/26"}, name="x" * 254), "metadata.name", "at most 253")
    roundtrip(parse("IPPool", {"cidr": "1.2.3.0/26"}, name="x" * 253))
    rejects(
        doc("IPPool", {"cidr": "1.2.3.0/26"}, labels={"projectcalico.org/label": "x" * 64}),
        "metadata.labels",
        "at most 63",
    )
    rejects(
        doc("IPPool", {"cidr": "1.2.3.0/26"}, labels={"ProjectCalico.org/label": "v"}),
        "metadata.labels",
        "prefix",
    )
    roundtrip(parse("IPPool", {"cidr": "1.2.3.0/26"}, labels={"projectcalico.org/Label": "v"}))
    rejects(
        doc("IPPool", {"cidr": "1.2.3.0/26"}, annotations={"projectcalico.org$label": "v"}),
        "metadata.annotations",
        "annotation key",
    )
    roundtrip(parse("IPPool", {"cidr": "1.2.3.0/26"}, annotations={"ProjectCalico.org/Label": "v"}))
    roundtrip(parse("IPPool", {"cidr": "1.2.3.0/26"}, annotations={"key": "x" * (256 * 1024 - 3)}))
    rejects(
        doc("IPPool", {"cidr": "1.2.3.0/26"}, annotations={"key": "x" * (256 * 1024 - 2)}),
        "metadata.annotations",
        "too large",
    )
    rejects(
        doc("IPPool", {"cidr": "1.2.3.0/26"}, namespace="default"),
        "metadata.namespace",
        "not namespaced",
    )
