"""NetworkPolicyPort grouping and Calico's SimplifyPorts table."""

from __future__ import annotations

import pytest

from calico.k8s.ports import PolicyPort, PortMatch, parse_port, port_matches, simplify_ports


def _ports(text: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p for p in text.split(",")] if text else []


# Upstream conversion_test.go "SimplifyPorts" entries: input -> output.
SIMPLIFY = [
    ("", ""),
    ("1", "1"),
    ("65535", "65535"),
    ("1:65535", "1:65535"),
    ("1,2", "1:2"),
    ("2,1", "1:2"),
    ("1,2,4", "1:2,4"),
    ("1,2,3,4,80:81,81:90,9090", "1:4,80:90,9090"),
    ("81:90,4,2,80:81,3,1,9090", "1:4,80:90,9090"),
    ("81:90,4,2,foo,80:81,3,1,9090,http", "foo,http,1:4,80:90,9090"),
    ("foo", "foo"),
    # A single numeric port keeps the written order, named ports included.
    ("80,foo", "80,foo"),
    ("5,5", "5"),
]


@pytest.mark.parametrize(("given", "expected"), SIMPLIFY, ids=[f"{g}->{e}" for g, e in SIMPLIFY])
def test_simplify_ports(given: str, expected: str) -> None:
    assert simplify_ports(_ports(given)) == _ports(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, PolicyPort("TCP")),
        ({"port": 80}, PolicyPort("TCP", 80)),
        ({"protocol": "UDP", "port": "dns"}, PolicyPort("UDP", "dns")),
        ({"protocol": "SCTP", "port": 80, "endPort": 81}, PolicyPort("SCTP", "80:81")),
        ({"port": 80, "endPort": 80}, PolicyPort("TCP", 80)),
        ({"protocol": None, "port": None}, PolicyPort("TCP")),
    ],
)
def test_parse_port(raw: dict[str, object], expected: PolicyPort) -> None:
    assert parse_port(raw, "p") == expected


def test_no_ports_means_any_protocol() -> None:
    assert port_matches([]) == [PortMatch(None)]


def test_grouped_by_sorted_protocol() -> None:
    ports = [
        PolicyPort("UDP", 53),
        PolicyPort("TCP", 80),
        PolicyPort("SCTP"),
        PolicyPort("TCP", 81),
    ]
    assert port_matches(ports) == [
        PortMatch("SCTP"),
        PortMatch("TCP", ("80:81",)),
        PortMatch("UDP", (53,)),
    ]


def test_all_ports_entry_wins_in_either_order() -> None:
    assert port_matches([PolicyPort("TCP", 80), PolicyPort("TCP")]) == [PortMatch("TCP")]
    assert port_matches([PolicyPort("TCP"), PolicyPort("TCP", 80)]) == [PortMatch("TCP")]
