"""Felix calc-graph throughput: pure Python, no kernel, no datastore.

    .venv/bin/python bench/bench_calc_graph.py [--endpoints 10000] [--policies 1000]
                                               [--hosts 100] [--updates 2000] [--small]

The model (also used by ``bench_felix_dataplane.py`` to fill a datastore) is
a Kubernetes-like cluster seen from ``host0``: ``--endpoints`` workload
endpoints spread at random over ``--hosts`` nodes and 50 namespaces, each
with an ``app`` (40 values) and a ``tier`` label and a named port;
``--policies`` namespaced policies, half with a one-label selector, half
with ``tier == 'fe' && app in {...}``, each with an ingress rule whose source
is a selector (an IP set) and a named destination port (a named-port IP
set), and an egress rule with a ``namespaceSelector`` (an IP set over
namespace profile labels); one profile per namespace with labels to apply.

Measured, in one run, as CPU seconds of this process (wall seconds beside):

* initial load: every KV fed to ``CalcGraph.on_update``, then ``on_in_sync``
  and ``flush`` -- felix's start-up snapshot;
* endpoint updates/s: relabels of random endpoints (new ``app``, so IP-set
  membership and, for local ones, active policies change), with a flush
  every 100 updates (the daemon batches up to 1000 between flushes) and
  after *every* update (one update per datastore event), for remote-only,
  local-only and any endpoints;
* pod churn/s: an endpoint created then deleted, flushed after each;
* policy updates/s: selector and rule-selector changes, flushed after each;
* reference: ``convert_kv`` alone (JSON dict -> model) on the same KVs, so the
  graph's own cost appears as a ratio that does not depend on machine load.

``--small`` also runs the 1k-endpoint / 100-policy / 10-host scale (the local
host keeps ~100 endpoints), for the scaling ratio.
"""

from __future__ import annotations

import argparse
import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import _netbench as nb
from tests.unit.felix import v3

from calico.felix.calc.graph import CalcGraph
from calico.felix.convert import convert_kv
from calico.felix.messages import DataplaneMessage
from calico.felix.recording import RecordingDataplane

N_NAMESPACES, N_APPS = 50, 40


@dataclass(frozen=True)
class Scale:
    endpoints: int
    policies: int
    hosts: int


class ClusterModel:
    """Deterministic v3 KVs for a cluster of ``scale``; ``me`` is the local host."""

    def __init__(
        self, scale: Scale, *, me: str = "host0", first_host: int = 0, seed: int = 1
    ) -> None:
        self.scale, self.me = scale, me
        self.rng = random.Random(seed)
        rng = self.rng
        n = scale.endpoints
        self.ns = [rng.randrange(N_NAMESPACES) for _ in range(n)]
        self.host = [f"host{first_host + rng.randrange(scale.hosts)}" for _ in range(n)]
        self.app = [rng.randrange(N_APPS) for _ in range(n)]

    @staticmethod
    def ip(i: int) -> str:
        return f"10.{64 + ((i >> 16) & 63)}.{(i >> 8) & 255}.{i & 255}"

    def endpoint(self, i: int, app: int | None = None, *, iface: str | None = None) -> v3.KV:
        labels = {"app": f"app{self.app[i] if app is None else app}", "tier": ("fe", "be")[i % 2]}
        return v3.wep(
            f"ns{self.ns[i]}",
            self.host[i],
            f"pod{i}",
            [f"{self.ip(i)}/32"],
            labels,
            ports=[("http", "TCP", 8080)],
            iface=iface,
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

    def profiles(self) -> list[v3.KV]:
        allow = [v3.rule()]
        return [
            v3.profile(f"kns.ns{n}", {"pcns.team": ("y", "x")[n % 2]}, ingress=allow, egress=allow)
            for n in range(N_NAMESPACES)
        ]

    def kvs(self) -> list[v3.KV]:
        return [
            *self.profiles(),
            *(self.policy(j) for j in range(self.scale.policies)),
            *(self.endpoint(i) for i in range(self.scale.endpoints)),
        ]

    def local(self) -> list[int]:
        return [i for i, h in enumerate(self.host) if h == self.me]

    def remote(self) -> list[int]:
        return [i for i, h in enumerate(self.host) if h != self.me]


@dataclass
class Timing:
    cpu: float
    wall: float

    def rate(self, count: int) -> tuple[float, float]:
        return count / max(self.cpu, 1e-9), count / max(self.wall, 1e-9)


def timed(work: Callable[[], object]) -> Timing:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return Timing(time.process_time() - cpu, time.perf_counter() - wall)


def line(label: str, count: int, timing: Timing, unit: str) -> None:
    cpu_rate, wall_rate = timing.rate(count)
    print(f"  {label:<46} {cpu_rate:>9,.0f} {unit} (wall {wall_rate:,.0f}/s; n={count})")


def run_scale(scale: Scale, updates: int) -> dict[str, float]:
    nb.banner(
        f"{scale.endpoints:,} endpoints, {scale.policies:,} policies, {scale.hosts} hosts "
        f"(local host0)"
    )
    model = ClusterModel(scale)
    kvs = model.kvs()
    graph = CalcGraph(model.me)
    out: list[DataplaneMessage] = []

    def load() -> None:
        for key, value in kvs:
            graph.on_update(key, value)
        graph.on_in_sync()
        out.extend(graph.flush())

    load_t = timed(load)
    state = RecordingDataplane()
    state.apply(out)
    snap = state.state()
    members = sum(len(m) for _, m in snap.ipsets.values())
    print(
        f"  state: {len(model.local())} local endpoints, {len(snap.policies)} active policies, "
        f"{len(snap.ipsets)} IP sets with {members:,} members, {len(out):,} messages"
    )
    results: dict[str, float] = {}
    line("initial load (KVs/s)", len(kvs), load_t, "KVs/s")
    results["load"] = load_t.rate(len(kvs))[0]

    convert_t = timed(lambda: [convert_kv(k, v) for k, v in kvs])
    line("reference: convert_kv only (KVs/s)", len(kvs), convert_t, "KVs/s")
    results["convert"] = convert_t.rate(len(kvs))[0]

    rng = model.rng
    for label, pool, every in (
        ("remote endpoint relabels, flush every 100", model.remote(), 100),
        ("remote endpoint relabel, flush after each", model.remote(), 1),
        ("local endpoint relabels, flush every 100", model.local(), 100),
        ("local endpoint relabel, flush after each", model.local(), 1),
        ("any endpoint relabel, flush after each", list(range(scale.endpoints)), 1),
    ):
        picks = [rng.choice(pool) for _ in range(updates)]
        apps = [rng.randrange(N_APPS) for _ in range(updates)]
        kv_list = [model.endpoint(i, app=a) for i, a in zip(picks, apps, strict=True)]

        def relabel(kv_list: list[v3.KV] = kv_list, every: int = every) -> None:
            for n, (key, value) in enumerate(kv_list, 1):
                graph.on_update(key, value)
                if n % every == 0:
                    graph.flush()
            graph.flush()

        t = timed(relabel)
        line(label, updates, t, "upd/s")
        results[label] = t.rate(updates)[0]

    churn_n = updates // 2
    extra = [model.endpoint(rng.randrange(scale.endpoints)) for _ in range(churn_n)]

    def churn() -> None:
        for n, (key, value) in enumerate(extra):
            key = f"{key}-churn{n}"
            graph.on_update(key, value)
            graph.flush()
            graph.on_update(key, None)
            graph.flush()

    t = timed(churn)
    line("pod churn: create + delete, flush after each", churn_n * 2, t, "upd/s")
    results["churn"] = t.rate(churn_n * 2)[0]

    n_pol = min(200, scale.policies)
    changed = []
    for j in range(n_pol):
        key, value = copy.deepcopy(model.policy(j))
        value["spec"]["selector"] = f"app == 'app{(j + 1) % N_APPS}'"
        value["spec"]["ingress"][0]["source"]["selector"] = f"app == 'app{(j + 3) % N_APPS}'"
        changed.append((key, value))

    def policy_churn() -> None:
        for key, value in changed:
            graph.on_update(key, value)
            graph.flush()

    t = timed(policy_churn)
    line("policy selector+rule changes, flush after each", n_pol, t, "upd/s")
    results["policy"] = t.rate(n_pol)[0]
    print(
        f"  ratio: initial load rate / convert_kv rate = {results['load'] / results['convert']:.2f}"
    )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--policies", type=int, default=1_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--updates", type=int, default=2_000)
    parser.add_argument("--small", action="store_true", help="also run 1k endpoints/100 policies")
    args = parser.parse_args()
    print(nb.machine_line())
    big = run_scale(Scale(args.endpoints, args.policies, args.hosts), args.updates)
    if args.small:
        # Ten times fewer hosts too, so the local host keeps its ~100 endpoints.
        small_scale = Scale(args.endpoints // 10, args.policies // 10, max(1, args.hosts // 10))
        small = run_scale(small_scale, args.updates)
        nb.banner("scaling: 10x the cluster")
        keys = (
            "load",
            "local endpoint relabel, flush after each",
            "any endpoint relabel, flush after each",
            "policy",
        )
        for key in keys:
            print(f"  {key}: rate at 10x / rate at 1x = {big[key] / small[key]:.2f}")
    worst = min(v for k, v in big.items() if "relabel" in k)
    verdict = "meets" if worst >= 1000 else "MISSES"
    print(f"\nslowest endpoint update rate {worst:,.0f}/s (CPU) {verdict} the 1,000/s target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
