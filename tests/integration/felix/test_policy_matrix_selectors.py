"""Selectors, namespaces, label inheritance and egress on a real kernel, with etcd.

The module's datastore is a real etcd (in the lab's gateway namespace, reached
over the fabric, as felix would on a cluster). Two "Kubernetes" namespaces
are modelled the way Calico models them: a profile ``kns.<ns>`` that allows
everything and applies the namespace's labels as ``pcns.<label>``.

==========  =============  ==========  ==========================  =======================
workload    address        namespace   own labels                  profiles
==========  =============  ==========  ==========================  =======================
pfe         10.65.1.2      prod        app=frontend                kns.prod
pbe         10.65.1.3      prod        app=backend                 kns.prod
dfe         10.65.1.4      dev         app=frontend, team=blue     kns.dev, team-red
dbe         10.65.1.5      dev         app=backend                 kns.dev, team-red
==========  =============  ==========  ==========================  =======================

Profile ``team-red`` has no rules and ``labelsToApply: {team: red}``: dbe
inherits ``team=red``, dfe keeps its own ``team=blue`` (REFERENCE 3.5).

``outside`` is the lab's gateway namespace: a machine on the fabric that is
not a Calico endpoint, routed to the workloads through host1. Its traffic to
a workload is forwarded by host1, so the workload's ingress policy applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from calico.lab import netns
from tests.integration.felix.conftest import FelixLab
from tests.integration.felix.matrix import Endpoint, PolicyHost, ProbeKey, grid

pytestmark = [pytest.mark.root, pytest.mark.etcd]

TCP80, UDP80, ICMP = (80, "tcp"), (80, "udp"), (0, "icmp")
SERVICES = [TCP80, UDP80, ICMP]
ALL = set(SERVICES)
NONE: set[tuple[int, str]] = set()
WORKLOADS = ["pfe", "pbe", "dfe", "dbe"]
EVERYONE = dict.fromkeys([*WORKLOADS, "outside"], ALL)


def namespace_profile(ns: str, labels: dict[str, str]) -> dict[str, Any]:
    applied = {f"pcns.{k}": v for k, v in labels.items()}
    applied["pcns.projectcalico.org/name"] = ns
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Profile",
        "metadata": {"name": f"kns.{ns}"},
        "spec": {
            "ingress": [{"action": "Allow"}],
            "egress": [{"action": "Allow"}],
            "labelsToApply": applied,
        },
    }


TEAM_RED = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "Profile",
    "metadata": {"name": "team-red"},
    "spec": {"labelsToApply": {"team": "red"}},
}


@pytest.fixture(scope="module")
def module_host(felix_lab_factory: Callable[..., FelixLab]) -> PolicyHost:
    lab = felix_lab_factory(datastore="etcdv3")
    ph = PolicyHost(lab.hosts["host1"])
    ph.baseline(
        namespace_profile("prod", {"env": "prod"}),
        namespace_profile("dev", {"env": "dev"}),
        TEAM_RED,
    )
    ph.add("pfe", "10.65.1.2", namespace="prod", labels={"app": "frontend"}, profiles=("kns.prod",))
    ph.add("pbe", "10.65.1.3", namespace="prod", labels={"app": "backend"}, profiles=("kns.prod",))
    ph.add(
        "dfe",
        "10.65.1.4",
        namespace="dev",
        labels={"app": "frontend", "team": "blue"},
        profiles=("kns.dev", "team-red"),
    )
    ph.add(
        "dbe",
        "10.65.1.5",
        namespace="dev",
        labels={"app": "backend"},
        profiles=("kns.dev", "team-red"),
    )
    ph.add_canaries("10.65.1.6", "10.65.1.7")
    # The gateway reaches the workloads' block through host1.
    host = ph.host.host
    gw_netns = lab.fabric.gateway_netns
    netns.ip(gw_netns, "route", "replace", "10.65.1.0/26", "via", host.ip)
    ph.endpoints["outside"] = Endpoint(gw_netns, host.gateway)
    ph.host.start_felix()
    return ph


@pytest.fixture
def ph(module_host: PolicyHost) -> Iterator[PolicyHost]:
    yield module_host
    module_host.reset()


def policy(
    kind: str, name: str, spec: dict[str, Any], namespace: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": meta, "spec": spec}


def into(dst: str, allowed: dict[str, set[tuple[int, str]]]) -> dict[ProbeKey, bool]:
    """Every other workload and ``outside`` -> ``dst``; ``allowed[src]`` are open."""
    sources = [w for w in [*WORKLOADS, "outside"] if w != dst]
    return grid(sources, [dst], SERVICES, {(s, dst): allowed.get(s, NONE) for s in sources})


def test_baseline_open(ph: PolicyHost) -> None:
    ph.expect({**into("pbe", EVERYONE), **into("dfe", EVERYONE)}, title="no policy")


def test_network_policy_stays_in_its_namespace(ph: PolicyHost) -> None:
    # Both the policy's selector and the rule's selector are scoped to prod:
    # dbe (dev, app=backend) is not protected, dfe (dev, frontend) not admitted.
    ph.apply(
        policy(
            "NetworkPolicy",
            "backend",
            {
                "selector": "app == 'backend'",
                "ingress": [{"action": "Allow", "source": {"selector": "app == 'frontend'"}}],
            },
            namespace="prod",
        ),
    )
    ph.expect({**into("pbe", {"pfe": ALL}), **into("dbe", EVERYONE)}, title="np prod/backend")


def test_label_change_moves_endpoint_between_selectors(ph: PolicyHost) -> None:
    ph.apply(
        policy(
            "GlobalNetworkPolicy",
            "backends",
            {
                "selector": "app == 'backend'",
                "ingress": [{"action": "Allow", "source": {"selector": "app == 'frontend'"}}],
            },
        ),
    )
    ph.expect(
        {**into("pbe", {"pfe": ALL, "dfe": ALL}), **into("pfe", EVERYONE)},
        title="pfe is a frontend",
    )
    # pfe becomes a backend: now protected by the policy, no longer admitted by it.
    ph.apply(ph.wep("pfe", namespace="prod", labels={"app": "backend"}, profiles=("kns.prod",)))
    ph.expect(
        {**into("pbe", {"dfe": ALL}), **into("pfe", {"dfe": ALL})},
        title="pfe is a backend",
    )


def test_namespace_selector_in_rule(ph: PolicyHost) -> None:
    rule_source = {"namespaceSelector": "env == 'dev'", "selector": "app == 'frontend'"}
    ph.apply(
        policy(
            "NetworkPolicy",
            "backend",
            {
                "selector": "app == 'backend'",
                "ingress": [{"action": "Allow", "source": rule_source}],
            },
            namespace="prod",
        ),
    )
    ph.expect(into("pbe", {"dfe": ALL}), title="from dev frontends")
    # all() selects every namespace, but still only namespaced endpoints.
    rule_source = {"namespaceSelector": "all()", "selector": "app == 'frontend'"}
    ph.apply(
        policy(
            "NetworkPolicy",
            "backend",
            {
                "selector": "app == 'backend'",
                "ingress": [{"action": "Allow", "source": rule_source}],
            },
            namespace="prod",
        ),
    )
    ph.expect(into("pbe", {"pfe": ALL, "dfe": ALL}), title="from frontends of any namespace")


def test_global_policy_namespace_selector(ph: PolicyHost) -> None:
    # Applies to prod's endpoints only; admits traffic from prod only.
    ph.apply(
        policy(
            "GlobalNetworkPolicy",
            "prod-isolation",
            {
                "namespaceSelector": "env == 'prod'",
                "ingress": [{"action": "Allow", "source": {"namespaceSelector": "env == 'prod'"}}],
            },
        ),
    )
    ph.expect(
        {**into("pbe", {"pfe": ALL}), **into("pfe", {"pbe": ALL}), **into("dfe", EVERYONE)},
        title="prod isolated",
    )


def test_not_selector_matches_non_calico_sources(ph: PolicyHost) -> None:
    # notSelector: "not from an endpoint matching" -- outside is no endpoint.
    ph.apply(
        policy(
            "GlobalNetworkPolicy",
            "no-frontends",
            {
                "selector": "app == 'backend'",
                "ingress": [{"action": "Allow", "source": {"notSelector": "app == 'frontend'"}}],
            },
        ),
    )
    ph.expect(into("pbe", {"dbe": ALL, "outside": ALL}), title="notSelector frontend")
    # A positive selector only ever matches endpoints: outside is out.
    ph.apply(
        policy(
            "GlobalNetworkPolicy",
            "no-frontends",
            {
                "selector": "app == 'backend'",
                "ingress": [{"action": "Allow", "source": {"selector": "app != 'frontend'"}}],
            },
        ),
    )
    ph.expect(into("pbe", {"dbe": ALL}), title="selector app != frontend")


def test_selector_and_not_selector_together(ph: PolicyHost) -> None:
    # Backends' ingress: from dev endpoints (pcns.env inherited), except frontends.
    ph.apply(
        policy(
            "GlobalNetworkPolicy",
            "dev-not-fe",
            {
                "selector": "app == 'backend'",
                "ingress": [
                    {
                        "action": "Allow",
                        "source": {
                            "selector": "pcns.env == 'dev'",
                            "notSelector": "app == 'frontend'",
                        },
                    }
                ],
            },
        ),
    )
    ph.expect({**into("pbe", {"dbe": ALL}), **into("dbe", {})}, title="dev minus frontends")


def test_profile_labels_used_by_selectors(ph: PolicyHost) -> None:
    # Rule selector on an inherited label: dbe is team=red through its
    # profile; dfe's own team=blue wins over the profile's red.
    ph.apply(
        policy(
            "GlobalNetworkPolicy",
            "red-to-backends",
            {
                "selector": "app == 'backend'",
                "ingress": [{"action": "Allow", "source": {"selector": "team == 'red'"}}],
            },
        ),
    )
    ph.expect({**into("pbe", {"dbe": ALL}), **into("dbe", {})}, title="from team red")
    ph.delete("GlobalNetworkPolicy", "red-to-backends")
    # Policy selector on an inherited label: only dbe is locked down.
    ph.apply(policy("GlobalNetworkPolicy", "red-lockdown", {"selector": "team == 'red'"}))
    ph.expect({**into("dbe", {}), **into("dfe", EVERYONE)}, title="team red locked down")
    # Changing the profile's labels re-evaluates its endpoints: nobody is red.
    ph.apply(
        {**TEAM_RED, "spec": {"labelsToApply": {"team": "green"}}},
    )
    ph.expect({**into("dbe", EVERYONE), **into("dfe", EVERYONE)}, title="team-red applies green")


def test_global_network_set_selected_by_rule(ph: PolicyHost) -> None:
    # Rule selectors match network sets as if they were endpoints: their nets.
    ph.apply(
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "GlobalNetworkSet",
            "metadata": {"name": "fabric", "labels": {"zone": "fabric"}},
            "spec": {"nets": ["10.99.0.0/16"]},
        },
        policy(
            "GlobalNetworkPolicy",
            "fabric-only",
            {
                "selector": "app == 'backend'",
                "ingress": [{"action": "Allow", "source": {"selector": "zone == 'fabric'"}}],
            },
        ),
    )
    ph.expect(
        {**into("pbe", {"outside": ALL}), **into("dbe", {"outside": ALL})},
        title="from the fabric network set",
    )


def test_egress_policy(ph: PolicyHost) -> None:
    # Frontends may only send TCP 80 to backends (any namespace: a global rule).
    ph.apply(
        policy(
            "GlobalNetworkPolicy",
            "frontend-egress",
            {
                "selector": "app == 'frontend'",
                "types": ["Egress"],
                "egress": [
                    {
                        "action": "Allow",
                        "protocol": "TCP",
                        "destination": {"selector": "app == 'backend'", "ports": [80]},
                    }
                ],
            },
        ),
    )
    expected = grid(
        ["pfe", "dfe", "pbe"],
        WORKLOADS,
        SERVICES,
        {
            ("pfe", "pbe"): {TCP80},
            ("pfe", "dbe"): {TCP80},
            ("dfe", "pbe"): {TCP80},
            ("dfe", "dbe"): {TCP80},
            # pbe is no frontend: unrestricted, also towards frontends.
            ("pbe", "pfe"): ALL,
            ("pbe", "dfe"): ALL,
            ("pbe", "dbe"): ALL,
        },
    )
    ph.expect(expected, title="frontend egress")


def test_namespaced_egress_policy(ph: PolicyHost) -> None:
    # Everything in dev may only talk within dev.
    ph.apply(
        policy(
            "NetworkPolicy",
            "stay-home",
            {
                "types": ["Egress"],
                "egress": [
                    {"action": "Allow", "destination": {"namespaceSelector": "env == 'dev'"}}
                ],
            },
            namespace="dev",
        ),
    )
    expected = grid(
        ["dfe", "dbe", "pfe"],
        WORKLOADS,
        SERVICES,
        {
            ("dfe", "dbe"): ALL,
            ("dbe", "dfe"): ALL,
            ("pfe", "pbe"): ALL,
            ("pfe", "dfe"): ALL,
            ("pfe", "dbe"): ALL,
        },
    )
    ph.expect(expected, title="dev egress stays in dev")
