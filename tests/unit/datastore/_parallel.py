"""Run the same worker function from several threads or processes at once.

Workers take an ``opener`` (a zero-argument callable returning a Datastore):
for sqlite and etcd it is a picklable ``functools.partial`` that opens a new
handle in each spawned process, exactly as separate calico processes would;
for memory (which cannot cross processes) it returns the shared instance and
the workers are threads.  A barrier makes the workers start together.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

from calico.datastore import Datastore
from calico.errors import ConflictError

Opener = Callable[[], Datastore]
START_TIMEOUT = 60.0


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


def cas_race(opener: Opener, key: str, expected: int, label: str, barrier: Barrier) -> str:
    """One compare-and-swap attempt at the same moment as the others."""
    store = opener()
    barrier.wait(START_TIMEOUT)
    try:
        store.update(key, label, expected)
        return "won"
    except ConflictError:
        return "conflict"


def cas_increment(opener: Opener, key: str, times: int, barrier: Barrier) -> int:
    """Increment the integer at ``key`` ``times`` times by read/CAS/retry; the retries."""
    store = opener()
    barrier.wait(START_TIMEOUT)
    retries = 0
    done = 0
    while done < times:
        kv = store.get(key)
        assert kv is not None
        try:
            store.update(key, str(int(kv.value) + 1), kv.mod_revision)
            done += 1
        except ConflictError:
            retries += 1
    return retries


Worker = Callable[..., Any]


def run_in_threads(worker: Worker, args: list[tuple[Any, ...]]) -> list[Any]:
    barrier = threading.Barrier(len(args))
    results: list[Any] = [None] * len(args)

    def run(index: int) -> None:
        results[index] = worker(*args[index], barrier)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(args))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(START_TIMEOUT)
    return results


def run_in_processes(worker: Worker, args: list[tuple[Any, ...]]) -> list[Any]:
    """Spawned (not forked) processes: no inherited sqlite handles or sockets."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args))
    results: multiprocessing.Queue[tuple[int, Any]] = ctx.Queue()
    procs = [
        ctx.Process(target=_entry, args=(worker, i, args[i], barrier, results))
        for i in range(len(args))
    ]
    for proc in procs:
        proc.start()
    try:
        collected = dict(results.get(timeout=START_TIMEOUT * 2) for _ in procs)
    except queue.Empty:
        raise AssertionError("a worker process did not report back") from None
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
    outcomes = [collected[i] for i in range(len(args))]
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        raise failures[0]
    return outcomes


def _entry(
    worker: Worker,
    index: int,
    args: tuple[Any, ...],
    barrier: Barrier,
    results: multiprocessing.Queue[tuple[int, Any]],
) -> None:
    try:
        results.put((index, worker(*args, barrier)))
    except Exception as exc:  # reported to the parent, which re-raises it
        results.put((index, RuntimeError(f"worker {index} failed: {exc!r}")))
