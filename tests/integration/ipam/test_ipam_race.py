"""32 processes allocate and release addresses on one shared datastore at once.

Five hosts share a pool of four 16-address blocks (so at least one host must
borrow from the start), and together the workers want more than the whole
pool, so blocks are claimed in races, borrowed across hosts, run out, and
are emptied again.  Nothing coordinates the workers but
IPAM's compare-and-swap writes.

Duplicates are caught the moment they happen: a worker that gets an address
creates ``/race/ip/<address>`` (create fails if the key exists) and deletes
it before releasing.  At the end the blocks, handles and endpoints must agree
and ``ipam check`` must find no problem.
"""

from __future__ import annotations

import functools
import ipaddress
import multiprocessing
import os
import queue
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from calico.datastore import Datastore
from calico.datastore.etcd import EtcdDatastore
from calico.datastore.sqlite import SqliteDatastore
from calico.errors import AlreadyExistsError, NoAddressesError, NotFoundError
from calico.ipam import IPAMClient, store
from calico.ipam.check import check_ipam
from tests.etcd_fixture import etcd_datastore, etcd_server  # noqa: F401 - fixtures
from tests.unit.ipam._cluster import add_node, add_pool, add_workload, remove_workload

Opener = Callable[[], Datastore]

WORKERS = 32
HOSTS = ("race-1", "race-2", "race-3", "race-4", "race-5")
POOL, BLOCK_SIZE, POOL_SIZE = "10.77.0.0/26", 28, 64
ROUNDS = 14
MAX_LIVE = 3  # per worker: 32 x 3 = 96, more than the pool holds
CLAIMS = "/race/ip/"
TIMEOUT = 50.0


def worker(opener: Opener, index: int, seed: int, barrier: Any) -> dict[str, Any]:
    """Allocate or release at random, like CNI ADD/DEL on a busy host."""
    ds = opener()
    ipam = IPAMClient(ds)
    host = HOSTS[index % len(HOSTS)]
    rng = random.Random(seed)
    live: list[tuple[str, str]] = []
    stats: Counter[str] = Counter()
    duplicates: list[str] = []
    barrier.wait(TIMEOUT)
    for step in range(ROUNDS):
        if live and (len(live) >= MAX_LIVE or rng.random() < 0.35):
            handle, address = live.pop(rng.randrange(len(live)))
            try:
                ds.delete(CLAIMS + address)
            except NotFoundError:  # another holder of the same address released it
                duplicates.append(address)
            remove_workload(ds, handle, namespace="race")
            released = ipam.release_by_handle(handle)
            assert released == 1, f"{handle} held {address} but released {released}"
            stats["released"] += 1
            continue
        handle = f"race-{index}-{step}"
        attrs = {"node": host, "pod": handle, "namespace": "race"}
        try:
            v4, _ = ipam.auto_assign(1, 0, handle, attrs, host)
        except NoAddressesError:
            stats["exhausted"] += 1
            continue
        address = v4[0].split("/")[0]
        try:
            ds.create(CLAIMS + address, handle)
        except AlreadyExistsError:
            duplicates.append(address)
        add_workload(ds, handle, host, f"{address}/32", namespace="race")
        live.append((handle, address))
        stats["assigned"] += 1
        stats["borrowed"] += _is_borrowed(ds, v4[0], host)
    ds.close()
    return {"live": live, "stats": stats, "duplicates": duplicates}


def _is_borrowed(ds: Datastore, masked: str, host: str) -> int:
    kv = store.get_block(ds, ipaddress.ip_network(masked, strict=False))
    return int(kv is not None and kv.block.affinity != f"host:{host}")


def _entry(opener: Opener, index: int, seed: int, barrier: Any, results: Any) -> None:
    try:
        results.put((index, worker(opener, index, seed, barrier)))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put((index, f"worker {index} failed: {exc!r}"))


def run_workers(opener: Opener) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")  # no sqlite handles or sockets cross fork
    barrier = ctx.Barrier(WORKERS)
    results: Any = ctx.Queue()
    seed = random.randrange(1 << 30)
    procs = [
        ctx.Process(target=_entry, args=(opener, i, seed + i, barrier, results))
        for i in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    try:
        outcomes = dict(results.get(timeout=TIMEOUT) for _ in procs)
    except queue.Empty:
        raise AssertionError(f"a worker did not finish within {TIMEOUT}s (seed {seed})") from None
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
    failures = [o for o in outcomes.values() if isinstance(o, str)]
    assert not failures, f"seed {seed}: {failures}"
    return [outcomes[i] for i in range(WORKERS)]


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def opener(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Opener]:
    if request.param == "sqlite":
        yield functools.partial(SqliteDatastore, os.path.join(tmp_path, "calico.db"))
    else:
        etcd = request.getfixturevalue("etcd_datastore")
        yield functools.partial(EtcdDatastore, list(etcd.endpoints))


def test_concurrent_assign_and_release(opener: Opener) -> None:
    ds = opener()
    add_pool(ds, "race-pool", POOL, BLOCK_SIZE)
    for host in HOSTS:
        add_node(ds, host)

    outcomes = run_workers(opener)

    stats: Counter[str] = sum((o["stats"] for o in outcomes), Counter())
    assert [d for o in outcomes for d in o["duplicates"]] == []
    live = {address: handle for o in outcomes for handle, address in o["live"]}
    assert len(live) == sum(len(o["live"]) for o in outcomes), "an address is held twice"
    assert stats["assigned"] > WORKERS  # the run did real work
    assert stats["borrowed"] > 0, f"no borrowing happened: {stats}"

    ipam = IPAMClient(ds)
    for address, handle in live.items():
        assert ipam.ips_by_handle(handle) == [address]
    allocated = {str(ip) for kv in store.list_blocks(ds) for ip in kv.block.in_use_ips()}
    assert allocated == set(live)
    [pool] = [u for u in ipam.get_utilization() if u.cidr is not None]
    assert pool.in_use == len(live)
    assert pool.in_use + pool.available == POOL_SIZE

    report = check_ipam(ds)
    assert report.problems == 0, report
    ds.close()
