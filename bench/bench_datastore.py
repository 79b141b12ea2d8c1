"""Datastore and selector benchmark: sqlite vs etcd side by side, in one run.

    .venv/bin/python bench/bench_datastore.py [--keys 10000] [--samples 500] [--tmpfs]

Measures, for each backend (a sqlite file and a real single-member etcd,
both on the same disk unless --tmpfs):

* create throughput: ``--keys`` sequential creates of WorkloadEndpoint-sized
  values under Calico's key layout, one client (as calicoctl/CNI write);
* list time: one ``list`` of all of them (the syncer's snapshot);
* watch delivery latency p50/p99: time from just before ``put`` until a
  watcher receives the event, with the watcher in another process (felix
  watching what the CNI plugin writes) and in the same process.  Puts are
  spaced 5 ms apart so the figure is latency, not queueing.  Timestamps are
  CLOCK_MONOTONIC, which is system-wide on Linux.

and the selector evaluation rate of ``calico.selector`` over label maps.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from calico.datastore import Datastore
from calico.datastore.etcd import EtcdDatastore
from calico.datastore.etcd_server import EtcdServer
from calico.datastore.sqlite import SqliteDatastore
from calico.selector import parse

PREFIX = "/calico/resources/v3/projectcalico.org/workloadendpoints/bench/"
LATENCY_PREFIX = "/calico/felix/v2/no-region/host/bench/"
Opener = Callable[[], Datastore]


@dataclass
class Result:
    creates_per_s: float = 0.0
    list_ms: float = 0.0
    latency_ms: dict[str, tuple[float, float]] = field(default_factory=dict)


def endpoint_value(i: int) -> str:
    """A WorkloadEndpoint-like JSON document (~450 bytes)."""
    return json.dumps(
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "WorkloadEndpoint",
            "metadata": {
                "name": f"host1-k8s-pod{i}-eth0",
                "namespace": "bench",
                "labels": {"app": f"app{i % 50}", "projectcalico.org/namespace": "bench"},
            },
            "spec": {
                "node": "host1",
                "orchestrator": "k8s",
                "workload": f"pod{i}",
                "endpoint": "eth0",
                "interfaceName": f"cali{i:011x}",
                "ipNetworks": [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32"],
                "profiles": ["kns.bench"],
            },
        }
    )


# -- datastore measurements ----------------------------------------------------


def measure_creates(store: Datastore, keys: int) -> float:
    values = [endpoint_value(i) for i in range(keys)]
    began = time.perf_counter()
    for i, value in enumerate(values):
        store.create(f"{PREFIX}pod{i}", value)
    return keys / (time.perf_counter() - began)


def measure_list(store: Datastore, keys: int) -> float:
    began = time.perf_counter()
    items, _ = store.list(PREFIX)
    elapsed = time.perf_counter() - began
    assert len(items) == keys, f"listed {len(items)} of {keys} keys"
    return elapsed * 1000


def watch_latencies(opener: Opener, start: int, samples: int, ready: Any) -> list[float]:
    """Receive ``samples`` puts; each value starts with the writer's timestamp."""
    store = opener()
    latencies: list[float] = []
    with store.watch(LATENCY_PREFIX, start) as watcher:
        ready.set()
        while len(latencies) < samples:
            for event in watcher.get(timeout=30):
                sent = float((event.value or "0").split("|", 1)[0])
                latencies.append(time.monotonic() - sent)
    return latencies


def _child_watch(opener: Opener, start: int, samples: int, ready: Any, out: Any) -> None:
    out.put(watch_latencies(opener, start, samples, ready))


def write_timestamped(store: Datastore, samples: int) -> None:
    for i in range(samples):
        time.sleep(0.005)
        store.put(f"{LATENCY_PREFIX}status{i % 20}", f"{time.monotonic():.9f}|{'x' * 200}")


def measure_latency_other_process(store: Datastore, opener: Opener, samples: int) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Event(), ctx.Queue()
    start = store.current_revision() + 1
    child = ctx.Process(target=_child_watch, args=(opener, start, samples, ready, out))
    child.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("watcher process did not start")
        write_timestamped(store, samples)
        latencies: list[float] = out.get(timeout=60)
        return latencies
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()


def measure_latency_same_process(store: Datastore, opener: Opener, samples: int) -> list[float]:
    import threading

    ready = threading.Event()
    start = store.current_revision() + 1
    result: list[list[float]] = []
    reader = threading.Thread(
        target=lambda: result.append(watch_latencies(opener, start, samples, ready))
    )
    reader.start()
    ready.wait(30)
    write_timestamped(store, samples)
    reader.join(60)
    return result[0]


def percentiles(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def bench_backend(store: Datastore, opener: Opener, keys: int, samples: int) -> Result:
    result = Result()
    result.creates_per_s = measure_creates(store, keys)
    result.list_ms = measure_list(store, keys)
    other = measure_latency_other_process(store, opener, samples)
    result.latency_ms["other process"] = percentiles(other)
    same = measure_latency_same_process(store, opener, samples)
    result.latency_ms["same process"] = percentiles(same)
    return result


@contextmanager
def sqlite_backend(parent: str | None) -> Iterator[tuple[Datastore, Opener]]:
    directory = tempfile.mkdtemp(prefix="calico-bench-", dir=parent)
    path = os.path.join(directory, "calico.db")
    try:
        with SqliteDatastore(path) as store:
            yield store, functools.partial(SqliteDatastore, path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def etcd_backend(parent: str | None) -> Iterator[tuple[Datastore, Opener]]:
    with (
        EtcdServer(tmp_parent=parent, name="calico-bench") as server,
        EtcdDatastore([server.endpoint]) as store,
    ):
        yield store, functools.partial(EtcdDatastore, [server.endpoint])


# -- selectors -----------------------------------------------------------------

SELECTORS = [
    'role == "web"',
    'role == "web" && env in {"prod", "staging"} && !has(quarantine)',
    "has(app) && (tier == 'frontend' || tier == 'backend') && version starts with 'v2'",
]


def label_maps(count: int) -> list[dict[str, str]]:
    rng = random.Random(42)
    maps = []
    for i in range(count):
        labels = {
            "role": rng.choice(["web", "db", "cache"]),
            "env": rng.choice(["prod", "staging", "dev"]),
            "tier": rng.choice(["frontend", "backend"]),
            "app": f"app{i % 100}",
            "version": rng.choice(["v1.0", "v2.1", "v2.3"]),
            "projectcalico.org/namespace": "default",
        }
        if rng.random() < 0.1:
            labels["quarantine"] = "true"
        maps.append(labels)
    return maps


def measure_selector(text: str, maps: list[dict[str, str]], rounds: int) -> float:
    selector = parse(text)
    began = time.perf_counter()
    for _ in range(rounds):
        for labels in maps:
            selector.evaluate(labels)
    return rounds * len(maps) / (time.perf_counter() - began)


# -- report --------------------------------------------------------------------


def print_report(results: dict[str, Result], selectors: dict[str, float], args: Any) -> None:
    names = list(results)
    print(f"\nDatastore: {args.keys} keys, ~450-byte values, {args.samples} latency samples")
    print(f"{'':44}" + "".join(f"{name:>16}" for name in names))
    rows = {
        "create throughput (creates/s)": [f"{r.creates_per_s:,.0f}" for r in results.values()],
        f"list {args.keys} keys (ms)": [f"{r.list_ms:,.1f}" for r in results.values()],
    }
    for where in ("other process", "same process"):
        rows[f"watch latency p50 / p99, {where} (ms)"] = [
            "{:.2f} / {:.2f}".format(*r.latency_ms[where]) for r in results.values()
        ]
    for label, cells in rows.items():
        print(f"  {label:42}" + "".join(f"{cell:>16}" for cell in cells))
    print(f"\nSelector evaluation: {args.label_maps} label maps of 6-7 labels")
    for text, rate in selectors.items():
        print(f"  {rate:>12,.0f} evals/s   {text}")
    print(f"\n{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500, help="watch latency samples")
    parser.add_argument("--label-maps", type=int, default=10_000)
    parser.add_argument("--tmpfs", action="store_true", help="put both stores in /dev/shm")
    parser.add_argument("--no-etcd", action="store_true", help="skip etcd")
    args = parser.parse_args()
    parent = "/dev/shm" if args.tmpfs else None

    backends = {"sqlite": sqlite_backend} | ({} if args.no_etcd else {"etcd": etcd_backend})
    results: dict[str, Result] = {}
    for name, backend in backends.items():
        print(f"benchmarking {name} ...", flush=True)
        with backend(parent) as (store, opener):
            results[name] = bench_backend(store, opener, args.keys, args.samples)
    maps = label_maps(args.label_maps)
    selectors = {text: measure_selector(text, maps, rounds=10) for text in SELECTORS}
    print_report(results, selectors, args)


if __name__ == "__main__":
    main()
