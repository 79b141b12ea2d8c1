"""Rule match fields and actions, enforced by a real calico-felix (sqlite datastore).

One lab host, five workloads (plus the barrier's two canaries), one felix for
the whole module. Each test writes a GlobalNetworkPolicy, waits for felix
(``PolicyHost.sync``) and compares a hand-written matrix of probes with what
the kernel does. Every workload runs the lab server on TCP 80/81 and UDP
80/81; ``srv`` is the workload under policy unless a test says otherwise.

==========  =============  ===============================  =========================
workload    address        labels                           named ports (WEP spec)
==========  =============  ===============================  =========================
a           10.65.1.2      role=client
b           10.65.1.3      role=client, color=blue
c           10.65.1.4      role=other                       http = TCP 81
srv         10.65.1.5      role=server                      http = TCP 80,
                                                            echo = UDP 80
==========  =============  ===============================  =========================

All workloads have the profile ``allow-all``, so with no policy everything is
reachable, and a workload that no policy selects keeps that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.felix.conftest import FelixLab
from tests.integration.felix.matrix import PolicyHost, ProbeKey, grid

pytestmark = pytest.mark.root

TCP80, TCP81, UDP80, ICMP = (80, "tcp"), (81, "tcp"), (80, "udp"), (0, "icmp")
SERVICES = [TCP80, TCP81, UDP80, ICMP]
ALL = set(SERVICES)
NONE: set[tuple[int, str]] = set()
CLIENTS = ["a", "b", "c"]

A, B, C, SRV = "10.65.1.2", "10.65.1.3", "10.65.1.4", "10.65.1.5"


@pytest.fixture(scope="module")
def module_host(felix_lab_factory: Callable[..., FelixLab]) -> PolicyHost:
    lab = felix_lab_factory(datastore="sqlite")
    ph = PolicyHost(lab.hosts["host1"])
    ph.add("a", A, labels={"role": "client"})
    ph.add("b", B, labels={"role": "client", "color": "blue"})
    ph.add(
        "c", C, labels={"role": "other"}, ports=[{"name": "http", "protocol": "TCP", "port": 81}]
    )
    ph.add(
        "srv",
        SRV,
        labels={"role": "server"},
        ports=[
            {"name": "http", "protocol": "TCP", "port": 80},
            {"name": "echo", "protocol": "UDP", "port": 80},
        ],
    )
    ph.add_canaries("10.65.1.6", "10.65.1.7")
    ph.host.start_felix()
    return ph


@pytest.fixture
def ph(module_host: PolicyHost) -> Iterator[PolicyHost]:
    yield module_host
    module_host.reset()


def on_srv(*ingress: dict[str, Any], name: str = "srv-ingress") -> dict[str, Any]:
    """A GlobalNetworkPolicy with these ingress rules, selecting only ``srv``."""
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"selector": "role == 'server'", "types": ["Ingress"], "ingress": list(ingress)},
    }


def to_srv(allowed: dict[str, set[tuple[int, str]]]) -> dict[ProbeKey, bool]:
    """Clients a, b, c -> srv over every service; ``allowed[client]`` are the open ones."""
    return grid(CLIENTS, ["srv"], SERVICES, {(c, "srv"): allowed.get(c, NONE) for c in CLIENTS})


# srv's own egress, and traffic to unselected workloads, must stay untouched by
# ingress policy on srv: added to most matrices as a control.
CONTROLS: dict[ProbeKey, bool] = {
    ("srv", "a", 80, "tcp"): True,
    ("a", "c", 81, "tcp"): True,
    ("b", "a", 0, "icmp"): True,
}


def test_baseline_everything_open(ph: PolicyHost) -> None:
    ph.expect({**to_srv({"a": ALL, "b": ALL, "c": ALL}), **CONTROLS}, title="no policy")


# --- actions ---------------------------------------------------------------------------------


def test_allow_tcp_80_only(ph: PolicyHost) -> None:
    ph.apply(on_srv({"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}))
    ph.expect(
        {**to_srv({"a": {TCP80}, "b": {TCP80}, "c": {TCP80}}), **CONTROLS}, title="allow tcp 80"
    )


def test_deny_before_allow(ph: PolicyHost) -> None:
    ph.apply(
        on_srv(
            {"action": "Deny", "source": {"selector": "color == 'blue'"}},
            {"action": "Allow"},
        )
    )
    ph.expect({**to_srv({"a": ALL, "c": ALL}), **CONTROLS}, title="deny blue, allow rest")


def test_log_continues_to_next_rule(ph: PolicyHost) -> None:
    ph.apply(
        on_srv(
            {"action": "Log", "protocol": "TCP"},
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}},
        )
    )
    ph.expect(to_srv({"a": {TCP80}, "b": {TCP80}, "c": {TCP80}}), title="log then allow")
    # Log alone accepts nothing: the policy selects srv, so end-of-tier drop.
    ph.apply(on_srv({"action": "Log"}))
    ph.expect({**to_srv({}), **CONTROLS}, title="log only")


def test_pass_skips_to_profile(ph: PolicyHost) -> None:
    # b passes out of the default tier to srv's profile (allow-all); others hit Deny.
    ph.apply(
        on_srv(
            {"action": "Pass", "source": {"selector": "color == 'blue'"}},
            {"action": "Deny"},
        )
    )
    ph.expect({**to_srv({"b": ALL}), **CONTROLS}, title="pass blue")


# --- protocol ---------------------------------------------------------------------------------


def test_protocol_udp(ph: PolicyHost) -> None:
    ph.apply(on_srv({"action": "Allow", "protocol": "UDP"}))
    ph.expect(to_srv({"a": {UDP80}, "b": {UDP80}, "c": {UDP80}}), title="protocol UDP")


def test_not_protocol_tcp(ph: PolicyHost) -> None:
    ph.apply(on_srv({"action": "Allow", "notProtocol": "TCP"}))
    ph.expect(
        to_srv({"a": {UDP80, ICMP}, "b": {UDP80, ICMP}, "c": {UDP80, ICMP}}),
        title="notProtocol TCP",
    )


def test_protocol_by_number(ph: PolicyHost) -> None:
    ph.apply(on_srv({"action": "Allow", "protocol": 1}))  # 1 = ICMP
    ph.expect(to_srv({"a": {ICMP}, "b": {ICMP}, "c": {ICMP}}), title="protocol 1")


# --- ports -------------------------------------------------------------------------------------


def test_port_range(ph: PolicyHost) -> None:
    ph.apply(on_srv({"action": "Allow", "protocol": "TCP", "destination": {"ports": ["81:90"]}}))
    ph.expect(to_srv({"a": {TCP81}, "b": {TCP81}, "c": {TCP81}}), title="ports 81:90")


def test_ports_and_not_ports(ph: PolicyHost) -> None:
    ph.apply(
        on_srv(
            # 79..85 except 81: port 80 only of the ones we probe.
            {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {"ports": ["79:85"], "notPorts": [81]},
            },
            # UDP anything but 80: nothing we probe.
            {"action": "Allow", "protocol": "UDP", "destination": {"notPorts": [80]}},
        )
    )
    ph.expect(to_srv({"a": {TCP80}, "b": {TCP80}, "c": {TCP80}}), title="ports + notPorts")


# 19 other ports and ranges around 80 (but never 81), then 80 itself: more than
# the 15 that one iptables multiport match takes.
MANY_PORTS: list[int | str] = [
    *range(1000, 1012),
    "2000:2010",
    22,
    443,
    8080,
    "82:90",
    79,
    3000,
    80,
]


def test_more_than_15_ports(ph: PolicyHost) -> None:
    assert len(MANY_PORTS) == 20
    ph.apply(
        on_srv(
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": MANY_PORTS}},
            {"action": "Allow", "protocol": "UDP", "destination": {"ports": MANY_PORTS}},
        )
    )
    ph.expect(
        to_srv({"a": {TCP80, UDP80}, "b": {TCP80, UDP80}, "c": {TCP80, UDP80}}),
        title="20 ports incl. 80",
    )


def test_more_than_15_not_ports(ph: PolicyHost) -> None:
    # notPorts means "none of these": 80 is in the list, 81 is not. Split
    # across several multiport matches, the negations must still all hold.
    rule = {"action": "Allow", "protocol": "TCP", "destination": {"notPorts": MANY_PORTS}}
    ph.apply(on_srv(rule))
    ph.expect(to_srv({"a": {TCP81}, "b": {TCP81}, "c": {TCP81}}), title="20 notPorts incl. 80")


def test_source_ports(ph: PolicyHost) -> None:
    # Clients use ephemeral source ports (32768-60999 on Linux).
    ph.apply(
        on_srv(
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {"ports": ["1024:65535"]},
                "destination": {"ports": [81]},
            },
            {"action": "Allow", "protocol": "UDP", "source": {"ports": ["1:1023"]}},
        )
    )
    ph.expect(to_srv({"a": {TCP81}, "b": {TCP81}, "c": {TCP81}}), title="source ports")


def test_named_ports_resolve_per_endpoint(ph: PolicyHost) -> None:
    # "http" is TCP 80 on srv but TCP 81 on c; "echo" (UDP 80) exists on srv only.
    ph.apply(
        """
        apiVersion: projectcalico.org/v3
        kind: GlobalNetworkPolicy
        metadata:
          name: named-ports
        spec:
          selector: role in {'server', 'other'}
          types: [Ingress]
          ingress:
            - action: Allow
              protocol: TCP
              destination: {ports: [http]}
            - action: Allow
              protocol: UDP
              destination: {ports: [echo]}
        """
    )
    expected = grid(
        ["a", "b"],
        ["srv", "c"],
        SERVICES,
        {
            ("a", "srv"): {TCP80, UDP80},
            ("b", "srv"): {TCP80, UDP80},
            ("a", "c"): {TCP81},
            ("b", "c"): {TCP81},
        },
    )
    ph.expect(expected, title="named ports")


def named_port_policy(destination: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "named-ports"},
        "spec": {
            "selector": "role in {'server', 'other'}",
            "types": ["Ingress"],
            "ingress": [{"action": "Allow", "protocol": "TCP", "destination": destination}],
        },
    }


def test_named_and_numeric_ports_are_ored(ph: PolicyHost) -> None:
    # ports [22, "http"]: srv opens 80 (http), c opens 81 (http); 22 is closed anyway.
    ph.apply(named_port_policy({"ports": [22, "http"]}))
    expected = grid(["a"], ["srv", "c"], SERVICES, {("a", "srv"): {TCP80}, ("a", "c"): {TCP81}})
    ph.expect(expected, title="ports [22, http]")
    # ports [81, "http"]: srv opens 80 and 81, c opens 81.
    ph.apply(named_port_policy({"ports": [81, "http"]}))
    expected = grid(
        ["a"], ["srv", "c"], SERVICES, {("a", "srv"): {TCP80, TCP81}, ("a", "c"): {TCP81}}
    )
    ph.expect(expected, title="ports [81, http]")


def test_named_not_ports(ph: PolicyHost) -> None:
    # notPorts ["http"]: every TCP port except the endpoint's own http.
    ph.apply(named_port_policy({"notPorts": ["http"]}))
    expected = grid(
        ["a", "b"],
        ["srv", "c"],
        SERVICES,
        {
            ("a", "srv"): {TCP81},
            ("b", "srv"): {TCP81},
            ("a", "c"): {TCP80},
            ("b", "c"): {TCP80},
        },
    )
    ph.expect(expected, title="notPorts [http]")


def test_named_port_follows_endpoint_update(ph: PolicyHost) -> None:
    ph.apply(named_port_policy({"ports": ["http"]}))
    ph.expect(grid(["a"], ["srv"], SERVICES, {("a", "srv"): {TCP80}}), title="srv http = 80")
    ph.apply(
        ph.wep(
            "srv",
            labels={"role": "server"},
            ports=[{"name": "http", "protocol": "TCP", "port": 81}],
        )
    )
    ph.expect(grid(["a"], ["srv"], SERVICES, {("a", "srv"): {TCP81}}), title="srv http = 81")


# --- nets ----------------------------------------------------------------------------------------


def test_source_nets(ph: PolicyHost) -> None:
    # An address without a mask is a /32.
    ph.apply(on_srv({"action": "Allow", "source": {"nets": [f"{A}/32", C]}}))
    ph.expect(to_srv({"a": ALL, "c": ALL}), title="source nets a, c")


def test_source_not_nets(ph: PolicyHost) -> None:
    ph.apply(on_srv({"action": "Allow", "source": {"notNets": [f"{B}/32", f"{C}/32"]}}))
    ph.expect(to_srv({"a": ALL}), title="source notNets b, c")


def test_nets_and_not_nets(ph: PolicyHost) -> None:
    # 10.65.1.0/29 holds a, b and c; b is carved out again.
    ph.apply(
        on_srv(
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {"nets": ["10.65.1.0/29", "192.168.0.0/16"], "notNets": [f"{B}/32"]},
            }
        )
    )
    ph.expect(to_srv({"a": {TCP80, TCP81}, "c": {TCP80, TCP81}}), title="nets minus notNets")


def test_rule_with_only_ipv6_nets_is_dropped_for_ipv4(ph: PolicyHost) -> None:
    # Without ipVersion a rule is rendered per family with its CIDRs filtered;
    # when filtering empties nets (or notNets) the rule must vanish for IPv4,
    # not turn into a match-everything rule.
    ph.apply(on_srv({"action": "Allow", "source": {"nets": ["fd00:1::/64"]}}))
    ph.expect({**to_srv({}), **CONTROLS}, title="only IPv6 nets")
    ph.apply(on_srv({"action": "Allow", "source": {"notNets": ["fd00:1::/64"]}}))
    ph.expect({**to_srv({}), **CONTROLS}, title="only IPv6 notNets")
    # ... and the rules after it still work.
    ph.apply(
        on_srv(
            {"action": "Allow", "source": {"nets": ["fd00:1::/64"]}},
            {"action": "Allow", "source": {"nets": [f"{A}/32"]}},
        )
    )
    ph.expect(to_srv({"a": ALL}), title="IPv6-only rule, then IPv4 rule")


def test_egress_destination_nets(ph: PolicyHost) -> None:
    # Egress policy on a: only srv and c (by address) may be reached, c only on UDP.
    ph.apply(
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "GlobalNetworkPolicy",
            "metadata": {"name": "a-egress"},
            "spec": {
                "selector": "role == 'client' && !has(color)",
                "types": ["Egress"],
                "egress": [
                    {"action": "Allow", "destination": {"nets": [f"{SRV}/32"]}},
                    {"action": "Allow", "protocol": "UDP", "destination": {"nets": [f"{C}/32"]}},
                ],
            },
        }
    )
    expected = grid(
        ["a", "b"],
        ["srv", "c", "b", "a"],
        SERVICES,
        {
            ("a", "srv"): ALL,
            ("a", "c"): {UDP80},
            ("b", "srv"): ALL,
            ("b", "c"): ALL,
            ("b", "a"): ALL,  # ingress to a is not governed by an egress policy
        },
    )
    ph.expect(expected, title="egress destination nets")


# --- ICMP ----------------------------------------------------------------------------------------


def test_icmp_echo_request_only(ph: PolicyHost) -> None:
    ph.apply(on_srv({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}}))
    ph.expect({**to_srv({"a": {ICMP}, "b": {ICMP}, "c": {ICMP}}), **CONTROLS}, title="icmp type 8")


def test_icmp_type_and_code(ph: PolicyHost) -> None:
    # An echo request is type 8 code 0: neither rule matches it.
    ph.apply(
        on_srv(
            {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8, "code": 1}},
            {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 0}},
        )
    )
    ph.expect(to_srv({}), title="icmp 8/1 and 0")
    ph.apply(on_srv({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8, "code": 0}}))
    ph.expect(to_srv({"a": {ICMP}, "b": {ICMP}, "c": {ICMP}}), title="icmp 8/0")


def test_not_icmp(ph: PolicyHost) -> None:
    ph.apply(on_srv({"action": "Allow", "protocol": "ICMP", "notICMP": {"type": 8}}))
    ph.expect(to_srv({}), title="notICMP type 8")
    ph.apply(on_srv({"action": "Allow", "protocol": "ICMP", "notICMP": {"type": 8, "code": 1}}))
    ph.expect(to_srv({"a": {ICMP}, "b": {ICMP}, "c": {ICMP}}), title="notICMP 8/1")


# --- IP version ----------------------------------------------------------------------------------


def test_ip_version(ph: PolicyHost) -> None:
    ph.apply(
        on_srv(
            {"action": "Allow", "ipVersion": 6, "protocol": "UDP"},
            {"action": "Allow", "ipVersion": 4, "protocol": "TCP"},
        )
    )
    ph.expect(
        to_srv({"a": {TCP80, TCP81}, "b": {TCP80, TCP81}, "c": {TCP80, TCP81}}),
        title="ipVersion 4 TCP, ipVersion 6 UDP",
    )
