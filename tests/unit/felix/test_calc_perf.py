"""Rough throughput of the calc graph at the issue's target scale.

10 000 workload endpoints on 100 hosts, 1 000 policies (half of them with
multi-label selectors), named ports, namespace selectors.  Target: at least
1 000 endpoint updates per second.  Timed in CPU seconds of this process, so
a busy shared machine slows the test less than the wall clock would.

Run with ``pytest -m slow tests/unit/felix/test_calc_perf.py -s`` to see the
figures.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from calico.felix.calc.graph import CalcGraph
from calico.felix.recording import RecordingDataplane
from tests.unit.felix import v3

N_ENDPOINTS, N_POLICIES, N_HOSTS, N_NAMESPACES, N_APPS = 10_000, 1_000, 100, 50, 40
ME = "host0"

pytestmark = pytest.mark.slow


class Cluster:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.ns = [rng.randrange(N_NAMESPACES) for _ in range(N_ENDPOINTS)]
        self.host = [rng.randrange(N_HOSTS) for _ in range(N_ENDPOINTS)]
        self.app = [rng.randrange(N_APPS) for _ in range(N_ENDPOINTS)]

    def endpoint(self, i: int, app: int | None = None) -> v3.KV:
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}/32"
        labels = {"app": f"app{self.app[i] if app is None else app}", "tier": ("fe", "be")[i % 2]}
        return v3.wep(
            f"ns{self.ns[i]}",
            f"host{self.host[i]}",
            f"pod{i}",
            [ip],
            labels,
            ports=[("http", "TCP", 8080)],
        )

    @staticmethod
    def policy(j: int) -> v3.KV:
        app, peer = f"app{(j // N_NAMESPACES) % N_APPS}", f"app{(j * 7) % N_APPS}"
        selector = f"app == '{app}'" if j % 2 else f"tier == 'fe' && app in {{'{app}', '{peer}'}}"
        ingress = v3.rule(
            protocol="TCP",
            source={"selector": f"app == '{peer}'"},
            destination={"ports": ["http", 443]},
        )
        egress = v3.rule(
            destination={"selector": "tier == 'be'", "namespaceSelector": "team == 'x'"}
        )
        return v3.np(
            f"ns{j % N_NAMESPACES}",
            f"pol{j}",
            selector,
            order=j % 10,
            ingress=[ingress],
            egress=[egress],
        )

    def kvs(self) -> list[v3.KV]:
        team = ("y", "x")
        profiles = [
            v3.profile(f"kns.ns{n}", {"pcns.team": team[n % 2]}, ingress=[v3.rule()])
            for n in range(N_NAMESPACES)
        ]
        return [
            *profiles,
            *(self.policy(j) for j in range(N_POLICIES)),
            *(self.endpoint(i) for i in range(N_ENDPOINTS)),
        ]


def rate(count: int, work: Callable[[], None]) -> float:
    start = time.process_time()
    work()
    return count / max(time.process_time() - start, 1e-9)


@pytest.fixture(scope="module")
def loaded() -> tuple[Cluster, CalcGraph, RecordingDataplane]:
    cluster, graph, dataplane = Cluster(), CalcGraph(ME), RecordingDataplane()

    def load() -> None:
        for key, value in cluster.kvs():
            graph.on_update(key, value)
        graph.on_in_sync()
        dataplane.apply(graph.flush())

    kv_rate = rate(N_ENDPOINTS + N_POLICIES, load)
    state = dataplane.state()
    members = sum(len(m) for _, m in state.ipsets.values())
    print(
        f"\ninitial snapshot: {kv_rate:.0f} KVs/s; {len(state.workload_endpoints)} local "
        f"endpoints, {len(state.policies)} active policies, {len(state.ipsets)} IP sets, "
        f"{members} members"
    )
    return cluster, graph, dataplane


def relabel(
    cluster: Cluster,
    graph: CalcGraph,
    dataplane: RecordingDataplane,
    indices: list[int],
    every: int,
) -> None:
    for n, i in enumerate(indices, 1):
        graph.on_update(*cluster.endpoint(i, app=cluster.rng.randrange(N_APPS)))
        if n % every == 0:
            dataplane.apply(graph.flush())
    dataplane.apply(graph.flush())


@pytest.mark.parametrize(("where", "every"), [("remote", 100), ("local", 100), ("any", 1)])
def test_endpoint_update_rate(
    loaded: tuple[Cluster, CalcGraph, RecordingDataplane], where: str, every: int
) -> None:
    cluster, graph, dataplane = loaded
    pool = [
        i
        for i in range(N_ENDPOINTS)
        if where == "any" or (cluster.host[i] == 0) == (where == "local")
    ]
    indices = [cluster.rng.choice(pool) for _ in range(1000)]
    updates_per_s = rate(len(indices), lambda: relabel(cluster, graph, dataplane, indices, every))
    print(f"\n{where} endpoint relabels, flush every {every}: {updates_per_s:.0f}/s")
    assert updates_per_s >= 1000


def test_policy_update_rate(loaded: tuple[Cluster, CalcGraph, RecordingDataplane]) -> None:
    cluster, graph, dataplane = loaded

    def churn() -> None:
        for j in range(100):
            key, value = cluster.policy(j)
            value["spec"]["selector"] = f"app == 'app{(j + 1) % N_APPS}'"
            value["spec"]["ingress"][0]["source"]["selector"] = f"app == 'app{(j + 3) % N_APPS}'"
            graph.on_update(key, value)
            dataplane.apply(graph.flush())

    policies_per_s = rate(100, churn)
    print(f"\npolicy selector + rule changes, flushed each: {policies_per_s:.0f}/s")
    assert policies_per_s >= 100
