"""Rule and EntityRule validation, ported from libcalico-go validator_test.go."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calico.resources import GlobalNetworkPolicy, Rule, parse_resource, port_range
from calico.resources._numorstring import parse_port

from .helpers import doc, rejects

V4_NET, V4_NET2, V4_BIG = "1.2.3.4/32", "1.2.0.0/32", "1.0.0.0/10"
V6_NET, V6_NET2, V6_BLOCK = "aabb:aabb::ffff/128", "aabb:aabb::/128", "aabb:aabb::/122"


def gnp(rule: dict[str, Any], direction: str = "ingress") -> dict[str, Any]:
    return doc("GlobalNetworkPolicy", {direction: [rule]})


def first_rule(rule: dict[str, Any], direction: str = "ingress") -> Rule:
    policy = parse_resource(gnp(rule, direction))
    assert isinstance(policy, GlobalNetworkPolicy)
    return (policy.spec.ingress or policy.spec.egress)[0]


VALID_RULES: list[tuple[str, dict[str, Any]]] = [
    ("allow action", {"action": "Allow"}),
    ("deny action", {"action": "Deny"}),
    ("log action", {"action": "Log"}),
    ("pass action", {"action": "Pass"}),
    ("ip version 4", {"action": "Allow", "ipVersion": 4}),
    ("ip version 6", {"action": "Allow", "ipVersion": 6}),
    ("SCTP and no other config", {"action": "Allow", "protocol": "SCTP"}),
    ("source ports with protocol 6", {"action": "Allow", "protocol": 6, "source": {"ports": [1]}}),
    (
        "source named ports with protocol 6",
        {"action": "Allow", "protocol": 6, "source": {"ports": ["foo"]}},
    ),
    (
        "source named ports with TCP",
        {"action": "Allow", "protocol": "TCP", "source": {"ports": ["foo"]}},
    ),
    (
        "source named ports with UDP",
        {"action": "Allow", "protocol": "UDP", "source": {"ports": ["foo"]}},
    ),
    (
        "empty source ports with protocol 7",
        {"action": "Allow", "protocol": 7, "source": {"ports": []}},
    ),
    (
        "source notPorts with protocol 17",
        {"action": "Allow", "protocol": 17, "source": {"notPorts": [1]}},
    ),
    (
        "empty source notPorts with protocol 100",
        {"action": "Allow", "protocol": 100, "source": {"notPorts": []}},
    ),
    ("dest ports with TCP", {"action": "Allow", "protocol": "TCP", "destination": {"ports": [1]}}),
    ("dest named ports and no protocol", {"action": "Allow", "destination": {"ports": ["foo"]}}),
    ("source named notPorts and no protocol", {"action": "Allow", "source": {"notPorts": ["foo"]}}),
    (
        "empty dest ports with SCTP",
        {"action": "Allow", "protocol": "SCTP", "destination": {"ports": []}},
    ),
    (
        "empty dest notPorts with ICMPv6",
        {"action": "Allow", "ipVersion": 6, "protocol": "ICMPv6", "destination": {"notPorts": []}},
    ),
    (
        "dest ports with SCTP",
        {"action": "Allow", "protocol": "SCTP", "destination": {"ports": [1]}},
    ),
    ("icmp with no ipVersion", {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 0}}),
    ("icmpv6 with no ipVersion", {"action": "Allow", "protocol": "ICMPv6", "icmp": {"type": 0}}),
    (
        "icmp with ipVersion 4",
        {"action": "Allow", "ipVersion": 4, "protocol": "ICMP", "icmp": {"type": 0}},
    ),
    (
        "icmpv6 with ipVersion 6",
        {"action": "Allow", "ipVersion": 6, "protocol": "ICMPv6", "icmp": {"type": 0}},
    ),
    ("icmp by number", {"action": "Allow", "protocol": 1, "icmp": {"type": 8, "code": 0}}),
    ("icmp type max", {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 254}}),
    ("icmp code max", {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 128, "code": 255}}),
    ("notICMP with ICMP", {"action": "Allow", "protocol": "ICMP", "notICMP": {"type": 3}}),
    ("port range", {"action": "Allow", "protocol": "TCP", "destination": {"ports": ["1000:2000"]}}),
    ("HTTP on Allow", {"action": "Allow", "http": {"methods": ["GET"]}}),
    ("HTTP with TCP", {"action": "Allow", "protocol": "TCP", "http": {"methods": ["GET"]}}),
    ("HTTP paths", {"action": "Allow", "http": {"paths": [{"exact": "/foo"}, {"prefix": "/bar"}]}}),
    ("annotations", {"action": "Allow", "metadata": {"annotations": {"foo": "bar"}}}),
    ("selectors", {"action": "Allow", "source": {"selector": 'foo == "bar"'}}),
    (
        "selector with has and slashes",
        {"action": "Allow", "source": {"selector": "has(calico/k8s_ns/role)"}},
    ),
    (
        "global() namespaceSelector",
        {
            "action": "Allow",
            "source": {"namespaceSelector": "global()"},
            "destination": {"namespaceSelector": "projectcalico.org/name == 'test'"},
        },
    ),
    (
        "global() namespaceSelector with spaces",
        {"action": "Allow", "source": {"namespaceSelector": "  global()  "}},
    ),
    (
        "v4 nets",
        {
            "action": "Allow",
            "source": {"nets": [V4_NET, V4_BIG]},
            "destination": {"notNets": [V4_NET2]},
        },
    ),
    (
        "v6 nets with ipVersion",
        {"action": "Allow", "ipVersion": 6, "source": {"nets": [V6_NET, V6_BLOCK]}},
    ),
    (
        "service account match",
        {
            "action": "Allow",
            "source": {"serviceAccounts": {"names": ["sa"], "selector": "a == 'b'"}},
        },
    ),
]


@pytest.mark.parametrize(("case", "rule"), VALID_RULES, ids=[c for c, _ in VALID_RULES])
def test_valid_rules(case: str, rule: dict[str, Any]) -> None:
    # Every field the user wrote survives parsing, exactly as written (these
    # cases are already in canonical form); only empty lists and maps are
    # omitted on output, as Go's omitempty does.
    parsed = parse_resource(gnp(rule))
    stored = parsed.to_dict()["spec"]["ingress"][0]
    assert stored == _without_empty(rule)


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


INVALID_RULES: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown action", {"action": "unknown"}, "spec.ingress[0].action", "must be"),
    ("action allowfoo", {"action": "allowfoo"}, "spec.ingress[0].action", "must be"),
    ("no action", {}, "spec.ingress[0].action", "is required"),
    ("ip version 0", {"action": "Allow", "ipVersion": 0}, "spec.ingress[0].ipVersion", "must be"),
    (
        "lowercase protocol",
        {"action": "Allow", "protocol": "tcp"},
        "spec.ingress[0].protocol",
        "TCP",
    ),
    ("protocol 0", {"action": "Allow", "protocol": 0}, "spec.ingress[0].protocol", "1 to 255"),
    (
        "dest ports and no protocol",
        {"action": "Allow", "destination": {"ports": [1]}},
        "spec.ingress[0].destination.ports[0]",
        "must set protocol",
    ),
    (
        "range and no protocol",
        {"action": "Allow", "source": {"notPorts": ["1:2"]}},
        "spec.ingress[0].source.notPorts[0]",
        "must set protocol",
    ),
    (
        "port 0",
        {"action": "Allow", "protocol": "TCP", "destination": {"notPorts": [0]}},
        "spec.ingress[0].destination.notPorts[0]",
        "between 1 and 65535",
    ),
    (
        "range min 0",
        {"action": "Allow", "protocol": "TCP", "destination": {"notPorts": ["0:100"]}},
        "spec.ingress[0].destination.notPorts[0]",
        "between 1 and 65535",
    ),
    (
        "named port with unknown protocol",
        {"action": "Allow", "protocol": "unknown", "destination": {"notPorts": ["foo"]}},
        "spec.ingress[0].protocol",
        "protocol must be",
    ),
    (
        "source ports with protocol 7",
        {"action": "Allow", "protocol": 7, "source": {"ports": [1]}},
        "spec.ingress[0].source.ports[0]",
        "TCP, UDP or SCTP",
    ),
    (
        "source notPorts with protocol 100",
        {"action": "Allow", "protocol": 100, "source": {"notPorts": [1]}},
        "spec.ingress[0].source.notPorts[0]",
        "TCP, UDP or SCTP",
    ),
    (
        "dest notPorts with ICMP",
        {"action": "Allow", "ipVersion": 4, "protocol": "ICMP", "destination": {"notPorts": [1]}},
        "spec.ingress[0].destination.notPorts[0]",
        "TCP, UDP or SCTP",
    ),
    (
        "named port with ICMP",
        {"action": "Allow", "protocol": "ICMP", "destination": {"ports": ["http"]}},
        "spec.ingress[0].destination.ports[0]",
        "TCP, UDP or SCTP",
    ),
    (
        "reversed source range",
        {"action": "Allow", "protocol": "TCP", "source": {"ports": ["200:100"]}},
        "spec.ingress[0].source.ports[0]",
        "minimum greater than maximum",
    ),
    (
        "reversed dest notPorts range",
        {"action": "Allow", "protocol": "TCP", "destination": {"notPorts": ["200:100"]}},
        "spec.ingress[0].destination.notPorts[0]",
        "minimum greater than maximum",
    ),
    (
        "second port is the bad one",
        {"action": "Allow", "destination": {"ports": ["http", 80]}},
        "spec.ingress[0].destination.ports[1]",
        "must set protocol",
    ),
    (
        "more than 50 ports",
        {"action": "Allow", "protocol": "TCP", "destination": {"ports": list(range(1, 52))}},
        "spec.ingress[0].destination.ports",
        "at most 50",
    ),
    (
        "icmp with no protocol",
        {"action": "Allow", "ipVersion": 4, "icmp": {"type": 0}},
        "spec.ingress[0].icmp",
        "requires protocol ICMP or ICMPv6",
    ),
    (
        "icmp with TCP",
        {"action": "Allow", "protocol": "TCP", "icmp": {"type": 0}},
        "spec.ingress[0].icmp",
        "requires protocol ICMP",
    ),
    (
        "notICMP with no protocol",
        {"action": "Allow", "notICMP": {"type": 0}},
        "spec.ingress[0].notICMP",
        "requires protocol",
    ),
    (
        "icmp code without type",
        {"action": "Allow", "protocol": "ICMP", "icmp": {"code": 0}},
        "spec.ingress[0].icmp.code",
        "without an ICMP type",
    ),
    (
        "icmp type too high",
        {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 255}},
        "spec.ingress[0].icmp.type",
        "<= 254",
    ),
    (
        "icmp code too high",
        {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 128, "code": 256}},
        "spec.ingress[0].icmp.code",
        "<= 255",
    ),
    (
        "ICMP with ipVersion 6",
        {"action": "Allow", "protocol": "ICMP", "ipVersion": 6},
        "spec.ingress[0].protocol",
        "requires ipVersion 4",
    ),
    (
        "ICMPv6 with ipVersion 4",
        {"action": "Allow", "protocol": "ICMPv6", "ipVersion": 4},
        "spec.ingress[0].protocol",
        "requires ipVersion 6",
    ),
    (
        "protocol 58 with ipVersion 4",
        {"action": "Allow", "protocol": 58, "ipVersion": 4},
        "spec.ingress[0].protocol",
        "requires ipVersion 6",
    ),
    (
        "notProtocol ICMP with ipVersion 6",
        {"action": "Allow", "notProtocol": "ICMP", "ipVersion": 6},
        "spec.ingress[0].notProtocol",
        "requires ipVersion 4",
    ),
    (
        "mixed v4 src and v6 dest",
        {
            "action": "Allow",
            "protocol": "TCP",
            "source": {"nets": ["1.2.3.0/26"]},
            "destination": {"nets": [V6_BLOCK]},
        },
        "spec.ingress[0].destination.nets[0]",
        "both IPv4 and IPv6",
    ),
    (
        "mixed v6 src and v4 dest",
        {"action": "Allow", "source": {"nets": [V6_NET2]}, "destination": {"nets": [V4_NET2]}},
        "spec.ingress[0].destination.nets[0]",
        "both IPv4 and IPv6",
    ),
    (
        "mixed within one list",
        {"action": "Allow", "source": {"nets": [V4_NET, V6_NET]}},
        "spec.ingress[0].source.nets[1]",
        "both IPv4 and IPv6",
    ),
    (
        "ipVersion 6 with v4 net",
        {
            "action": "Allow",
            "ipVersion": 6,
            "source": {"nets": [V4_BIG]},
            "destination": {"nets": [V4_NET2]},
        },
        "spec.ingress[0].source.nets[0]",
        "does not match",
    ),
    (
        "ipVersion 6 with v4 notNets",
        {"action": "Allow", "ipVersion": 6, "destination": {"notNets": [V4_NET2]}},
        "spec.ingress[0].destination.notNets[0]",
        "does not match",
    ),
    (
        "ipVersion 4 with v6 dest net",
        {"action": "Allow", "ipVersion": 4, "destination": {"nets": [V6_NET]}},
        "spec.ingress[0].destination.nets[0]",
        "does not match",
    ),
    (
        "not strictly masked net",
        {"action": "Allow", "source": {"nets": ["10.0.0.1/8"]}},
        "spec.ingress[0].source.nets[0]",
        "not strictly masked",
    ),
    (
        "bad CIDR",
        {"action": "Allow", "source": {"nets": ["garbage"]}},
        "spec.ingress[0].source.nets[0]",
        "invalid CIDR",
    ),
    (
        "catch-all v4 notNets",
        {"action": "Allow", "destination": {"notNets": ["0.0.0.0/0"]}},
        "spec.ingress[0].destination.notNets[0]",
        "catch-all",
    ),
    (
        "catch-all v6 notNets",
        {"action": "Allow", "source": {"notNets": ["::0/0"]}},
        "spec.ingress[0].source.notNets[0]",
        "catch-all",
    ),
    (
        "catch-all v6 notNets, odd spelling",
        {"action": "Allow", "source": {"notNets": ["0:0:0::/0"]}},
        "spec.ingress[0].source.notNets[0]",
        "catch-all",
    ),
    (
        "duplicate nets",
        {"action": "Allow", "source": {"nets": ["10.0.0.0/8", "10.0.0.0/8"]}},
        "spec.ingress[0].source.nets[1]",
        "duplicate",
    ),
    (
        "HTTP on Deny",
        {"action": "Deny", "http": {"methods": ["GET"]}},
        "spec.ingress[0].http",
        "only valid on Allow",
    ),
    (
        "HTTP with UDP",
        {"action": "Allow", "protocol": "UDP", "http": {"methods": ["GET"]}},
        "spec.ingress[0].protocol",
        "protocol TCP or unset",
    ),
    (
        "HTTP path with both matches",
        {"action": "Allow", "http": {"paths": [{"exact": "/foo", "prefix": "/bar"}]}},
        "spec.ingress[0].http.paths[0]",
        "only one of",
    ),
    (
        "HTTP path with ?",
        {"action": "Allow", "http": {"paths": [{"exact": "/fo?o"}]}},
        "spec.ingress[0].http.paths[0]",
        "must start with '/'",
    ),
    (
        "HTTP path with space",
        {"action": "Allow", "http": {"paths": [{"exact": "/fo o"}]}},
        "spec.ingress[0].http.paths[0]",
        "must start with '/'",
    ),
    (
        "HTTP path with #",
        {"action": "Allow", "http": {"paths": [{"exact": "/f#oo"}]}},
        "spec.ingress[0].http.paths[0]",
        "must start with '/'",
    ),
    (
        "empty HTTP path",
        {"action": "Allow", "http": {"paths": [{}]}},
        "spec.ingress[0].http.paths[0]",
        "must be set",
    ),
    (
        "duplicate HTTP methods",
        {"action": "Allow", "http": {"methods": ["GET", "GET", "Foo"]}},
        "spec.ingress[0].http.methods",
        "duplicates",
    ),
    (
        "bad rule annotation",
        {"action": "Allow", "metadata": {"annotations": {"...": "bar"}}},
        "spec.ingress[0].metadata.annotations",
        "annotation key",
    ),
    (
        "invalid selector",
        {"action": "Allow", "source": {"selector": "thing=hello &"}},
        "spec.ingress[0].source.selector",
        "invalid selector",
    ),
    (
        "global() in selector",
        {"action": "Allow", "source": {"selector": "  global()  "}},
        "spec.ingress[0].source.selector",
        "namespaceSelector",
    ),
    (
        "global() in notSelector",
        {"action": "Allow", "source": {"notSelector": "global()"}},
        "spec.ingress[0].source.notSelector",
        "namespaceSelector",
    ),
    (
        "global() ANDed",
        {"action": "Allow", "source": {"namespaceSelector": " global() && all()"}},
        "spec.ingress[0].source.namespaceSelector",
        "cannot be combined",
    ),
    (
        "global() ORed",
        {"action": "Allow", "source": {"namespaceSelector": "global()||all()"}},
        "spec.ingress[0].source.namespaceSelector",
        "cannot be combined",
    ),
    (
        "bad selector with global()",
        {"action": "Allow", "source": {"selector": "global() && bad"}},
        "spec.ingress[0].source.selector",
        "",
    ),
    (
        "selector too long",
        {"action": "Allow", "source": {"selector": "a == 'b' || " * 100 + "all()"}},
        "spec.ingress[0].source.selector",
        "1024",
    ),
    (
        "services and serviceAccounts",
        {
            "action": "Allow",
            "source": {
                "serviceAccounts": {"names": ["sa"]},
                "services": {"name": "s1", "namespace": "default"},
            },
        },
        "spec.ingress[0].source.serviceAccounts",
        "cannot specify serviceAccounts and services",
    ),
    (
        "services and nets",
        {"action": "Allow", "source": {"nets": ["10.0.0.0/8"], "services": {"name": "s1"}}},
        "spec.ingress[0].source.nets",
        "cannot specify nets",
    ),
    (
        "services and notNets",
        {"action": "Allow", "source": {"notNets": ["10.0.0.0/8"], "services": {"name": "s1"}}},
        "spec.ingress[0].source.notNets",
        "cannot specify notNets",
    ),
    (
        "services and selector",
        {"action": "Allow", "source": {"selector": "x == 'y'", "services": {"name": "s1"}}},
        "spec.ingress[0].source.selector",
        "cannot specify selector",
    ),
    (
        "services and notSelector",
        {"action": "Allow", "source": {"notSelector": "x == 'y'", "services": {"name": "s1"}}},
        "spec.ingress[0].source.notSelector",
        "cannot specify notSelector",
    ),
    (
        "services and namespaceSelector",
        {
            "action": "Allow",
            "source": {"namespaceSelector": "x == 'y'", "services": {"name": "s1"}},
        },
        "spec.ingress[0].source.namespaceSelector",
        "cannot specify namespaceSelector",
    ),
    (
        "services without a name",
        {"action": "Allow", "source": {"services": {"namespace": "default"}}},
        "spec.ingress[0].source.services.name",
        "service name",
    ),
    (
        "unknown rule field",
        {"action": "Allow", "sourcePorts": [80]},
        "spec.ingress[0].sourcePorts",
        "unknown field",
    ),
    (
        "unknown entity field",
        {"action": "Allow", "source": {"tag": "x"}},
        "spec.ingress[0].source.tag",
        "unknown field",
    ),
]


@pytest.mark.parametrize(
    ("case", "rule", "field", "message"), INVALID_RULES, ids=[c[0] for c in INVALID_RULES]
)
def test_invalid_rules(case: str, rule: dict[str, Any], field: str, message: str) -> None:
    rejects(gnp(rule), field, message)


def test_egress_paths_name_the_direction() -> None:
    rejects(
        gnp({"action": "Allow", "destination": {"ports": [53]}}, "egress"),
        "spec.egress[0].destination.ports[0]",
        "must set protocol",
    )


def test_ports_and_protocols_are_normalised() -> None:
    rule = first_rule(
        {
            "action": "Allow",
            "protocol": "6",
            "destination": {"ports": ["80", "81:81", "1:2", "http"]},
        }
    )
    assert rule.protocol == 6
    assert rule.destination.ports == [80, 81, "1:2", "http"]


def test_bare_addresses_in_nets_become_host_cidrs() -> None:
    rule = first_rule({"action": "Allow", "source": {"nets": ["10.0.0.1"]}})
    assert rule.source.nets == ["10.0.0.1/32"]
    rule = first_rule({"action": "Allow", "destination": {"notNets": ["AABB::1"]}})
    assert rule.destination.not_nets == ["aabb::1/128"]


def test_empty_entity_rules_are_omitted_from_output() -> None:
    rule = first_rule({"action": "Allow", "source": {}, "destination": {"ports": ["http"]}})
    assert rule.to_dict() == {"action": "Allow", "destination": {"ports": ["http"]}}


def _port() -> st.SearchStrategy[int | str]:
    ranges = st.tuples(st.integers(1, 65535), st.integers(1, 65535)).map(
        lambda pair: f"{min(pair)}:{max(pair)}"
    )
    return st.one_of(st.integers(1, 65535), ranges, st.sampled_from(["http", "metrics-1"]))


def _net() -> st.SearchStrategy[str]:
    return st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(
        lambda pair: str(ipaddress.ip_network(f"{pair[0]}/{pair[1]}", strict=False))
    )


@given(
    action=st.sampled_from(["Allow", "Deny", "Log", "Pass"]),
    protocol=st.sampled_from(["TCP", "UDP", "SCTP", 6, "17"]),
    ports=st.lists(_port(), max_size=5),
    not_ports=st.lists(_port(), max_size=3),
    nets=st.lists(_net(), max_size=4, unique=True),
)
def test_generated_rules_roundtrip(
    action: str,
    protocol: int | str,
    ports: list[int | str],
    not_ports: list[int | str],
    nets: list[str],
) -> None:
    raw = {
        "action": action,
        "protocol": protocol,
        "ipVersion": 4,
        "source": {"nets": nets, "notPorts": not_ports},
        "destination": {"ports": ports},
    }
    policy = parse_resource(gnp(raw))
    assert parse_resource(policy.to_dict()) == policy
    rule = first_rule(raw)
    assert [port_range(p) for p in rule.destination.ports] == [
        port_range(parse_port(p)) for p in ports
    ]
