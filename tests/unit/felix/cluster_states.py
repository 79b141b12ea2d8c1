"""A realistic set of datastore states for calc-graph tests (as seen from host1).

Each state is a complete datastore: {key: value}.  ``FULL`` is a small
Kubernetes-like cluster with tiers (one with a Pass default), namespaced and
global policies using selectors, notSelectors, namespaceSelectors and named
ports, namespace profiles with labelsToApply, local and remote workloads,
host endpoints, network sets, a VXLAN CrossSubnet pool, nodes and IPAM blocks
(one with a borrowed address).  The other states are edits of it that move
the interesting edges: relabelled and migrated endpoints, reordered tiers and
policies, missing profiles and tiers, and the empty store.
"""

from __future__ import annotations

from typing import Any

from tests.unit.felix import v3

State = dict[str, dict[str, Any]]
ME = "host1"


def _state(*kvs: v3.KV) -> State:
    return dict(kvs)


def _profiles(prod: str = "prod") -> list[v3.KV]:
    allow = [v3.rule()]
    return [
        v3.profile(
            "kns.ns1",
            {"pcns.env": prod, "pcns.projectcalico.org/name": "ns1"},
            ingress=allow,
            egress=allow,
        ),
        v3.profile(
            "kns.ns2",
            {"pcns.env": "dev", "pcns.projectcalico.org/name": "ns2"},
            ingress=allow,
            egress=allow,
        ),
        v3.profile("ksa.ns1.default", {"pcsa.projectcalico.org/name": "default"}),
    ]


def _tiers(platform: float = 50, security: float = 100) -> list[v3.KV]:
    return [v3.tier("platform", platform), v3.tier("security", security, "Pass")]


def _policies(web_order: float = 10) -> list[v3.KV]:
    return [
        v3.gnp(
            "allow-dns",
            "all()",
            tier="platform",
            order=10,
            types=["Egress"],
            egress=[
                v3.rule(
                    protocol="UDP", destination={"selector": "k8s-app == 'kube-dns'", "ports": [53]}
                ),
                v3.rule("Log", protocol="TCP", destination={"nets": ["8.8.8.8"]}),
            ],
        ),
        v3.gnp(
            "quarantine",
            "has(app)",
            tier="security",
            order=1,
            ingress=[
                v3.rule("Pass", source={"namespaceSelector": "env == 'dev'"}),
                v3.rule("Deny", source={"selector": "role == 'blocked'"}),
            ],
        ),
        v3.np(
            "ns1",
            "web-allow",
            "app == 'web'",
            order=web_order,
            ingress=[
                v3.rule(
                    protocol="TCP",
                    source={"selector": "app == 'client'", "namespaceSelector": "all()"},
                    destination={"ports": ["http", 443]},
                )
            ],
            egress=[
                v3.rule(
                    destination={"selector": "app == 'db'", "namespaceSelector": "env == 'prod'"}
                )
            ],
        ),
        v3.np(
            "ns1",
            "db-ingress",
            "app == 'db'",
            order=20,
            types=["Ingress"],
            ingress=[v3.rule(source={"notSelector": "app == 'evil'", "nets": ["10.65.0.0/16"]})],
        ),
        v3.np("ns1", "knp.default.default-deny", "", order=1000, types=["Ingress"]),
        v3.np(
            "ns2",
            "client-egress",
            "app == 'client'",
            types=["Egress"],
            egress=[
                v3.rule(
                    protocol="TCP",
                    destination={
                        "selector": "app == 'web'",
                        "namespaceSelector": "all()",
                        "ports": ["http"],
                    },
                )
            ],
        ),
        v3.gnp(
            "host-untracked",
            "role == 'gw'",
            order=1,
            doNotTrack=True,
            applyOnForward=True,
            ingress=[v3.rule(source={"nets": ["192.168.0.0/16"]})],
            egress=[v3.rule()],
        ),
        v3.gnp(
            "host-forward", "role == 'gw'", order=2, applyOnForward=True, ingress=[v3.rule("Deny")]
        ),
    ]


def _workloads(web1_app: str = "web", client1_node: str = ME) -> list[v3.KV]:
    return [
        v3.wep(
            "ns1", ME, "web-1", ["10.65.0.2/32"], {"app": web1_app}, ports=[("http", "TCP", 80)]
        ),
        v3.wep(
            "ns1",
            ME,
            "db-1",
            ["10.65.0.3/32"],
            {"app": "db"},
            profiles=["kns.ns1", "ksa.ns1.default"],
        ),
        v3.wep("ns2", client1_node, "client-1", ["10.65.0.4/32", "fd00::4/128"], {"app": "client"}),
        v3.wep(
            "ns1",
            "host2",
            "web-2",
            ["10.65.0.66/32"],
            {"app": "web"},
            ports=[("http", "TCP", 8080)],
        ),
        v3.wep("ns2", "host2", "client-2", ["10.65.0.10/32"], {"app": "client"}),
        v3.wep("ns1", "host3", "evil", ["10.65.0.130/32"], {"app": "evil"}),
        v3.wep("kube-system", "host3", "dns", ["10.65.0.131/32"], {"k8s-app": "kube-dns"}),
    ]


def _hosts_and_sets() -> list[v3.KV]:
    return [
        v3.hep("host1-eth0", ME, ["192.168.1.1"], {"role": "gw"}),
        v3.hep("host2-eth0", "host2", ["192.168.1.2"], {"role": "gw"}),
        v3.netset("ns1", "bad-guys", ["203.0.113.0/24"], {"role": "blocked"}),
        v3.gnetset("world-blocklist", ["198.51.100.0/24", "0.0.0.0/0"], {"role": "blocked"}),
    ]


def _network(host1_ip: str = "192.168.1.1/24") -> list[v3.KV]:
    return [
        v3.pool("default-ipv4-ippool", "10.65.0.0/16", vxlan="CrossSubnet", nat=True),
        v3.node(ME, host1_ip, vxlan_addr="10.65.0.1"),
        v3.node("host2", "192.168.1.2/24", vxlan_addr="10.65.0.65"),
        v3.node("host3", "192.168.2.3/24", vxlan_addr="10.65.0.129", mac="66:00:00:00:00:03"),
        v3.block("10.65.0.0/26", ME, {1: ME, 2: ME, 3: ME, 4: ME, 10: "host2"}),
        v3.block("10.65.0.64/26", "host2", {1: "host2", 2: "host2"}),
        v3.block("10.65.0.128/26", "host3", {1: "host3", 2: "host3", 3: "host3"}),
        v3.felix_config("default", logSeverityScreen="Info"),
        v3.felix_config(f"node.{ME}", logSeverityScreen="Debug", iptablesRefreshInterval="60s"),
        v3.felix_config("node.host2", logSeverityScreen="Warning"),
    ]


FULL = _state(*_profiles(), *_tiers(), *_policies(), *_workloads(), *_hosts_and_sets(), *_network())


def _renoded(kv: v3.KV, node: str) -> v3.KV:
    """The same WEP key, claiming another node (spec.node, not the name)."""
    key, value = kv
    return key, {**value, "spec": {**value["spec"], "node": node}}


# web-1 becomes a db; client-1 migrates to host2 (a new WEP name); web-2's
# WEP now says it is on host1 (same key); host1 moves subnet.
MOVED = _state(
    *_profiles(),
    *_tiers(),
    *_policies(),
    *_workloads(web1_app="db", client1_node="host2"),
    _renoded(_workloads()[3], ME),
    *_hosts_and_sets(),
    *_network(host1_ip="192.168.2.1/24"),
)

# Tiers swap order, a policy moves, ns1 becomes "dev", some policies are gone.
REORDERED = _state(
    *_profiles(prod="dev"),
    *_tiers(platform=200, security=20),
    *[
        kv
        for kv in _policies(web_order=30)
        if "client-egress" not in kv[0] and "quarantine" not in kv[0]
    ],
    *_workloads(),
    *_hosts_and_sets(),
    *_network(),
)

# Endpoints and policies but no profiles and no Tier resources: deny-all
# profile stand-ins and policies in tiers that do not exist.
MISSING = _state(*_policies(), *_workloads(), *_network()[:4])

# Only the network: routes, VTEPs, pools, hosts.
NETWORK_ONLY = _state(*_network())

EMPTY: State = {}

STATES: dict[str, State] = {
    "full": FULL,
    "moved": MOVED,
    "reordered": REORDERED,
    "missing": MISSING,
    "network-only": NETWORK_ONLY,
    "empty": EMPTY,
}
