"""Felix liveness, endpoint status -> Neutron port status, and the status watcher."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from calico.datastore import MemoryDatastore
from calico.openstack import region
from calico.openstack.status import (
    EndpointStatusKey,
    StatusWatcher,
    felix_is_alive,
    parse_agent_key,
    parse_endpoint_key,
    port_status,
)

NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
RS = region.NO_REGION


def report(time: str | None = "2025-05-01T11:59:30Z", first: bool = False) -> str:
    raw: dict[str, object] = {"uptime": 12.5, "first_update": first}
    if time is not None:
        raw["time"] = time
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("value", "alive"),
    [
        (None, False),
        (report(), True),
        (report("2025-05-01T11:58:31Z"), True),  # 89 s old
        (report("2025-05-01T11:58:29Z"), False),  # 91 s old: would have expired
        (report("2025-05-01T11:59:59.123456789Z"), True),  # Go's nanoseconds
        (report("2025-05-01T13:59:30+02:00"), True),
        (report(None), True),  # present without a time: Felix's word
        (report("yesterday"), True),
        ("not json", False),
        ("[1, 2]", False),
    ],
)
def test_felix_is_alive(value: str | None, alive: bool) -> None:
    store = MemoryDatastore()
    if value is not None:
        store.put("/calico/felix/v2/no-region/host/h1/status", value)
    assert felix_is_alive(store, RS, "h1", now=NOW) is alive
    assert felix_is_alive(store, RS, "h2", now=NOW) is False


def test_felix_max_age_and_region() -> None:
    store = MemoryDatastore()
    store.put("/calico/felix/v2/region-r1/host/h1/status", report("2025-05-01T11:59:00Z"))
    assert felix_is_alive(store, "region-r1", "h1", now=NOW)
    assert not felix_is_alive(store, "region-r1", "h1", now=NOW, max_age=30)
    assert not felix_is_alive(store, RS, "h1", now=NOW)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ('{"status": "up"}', "ACTIVE"),
        ('{"status": "down"}', "DOWN"),
        ('{"status": "error"}', "ERROR"),
        ('{"status": "sideways"}', "ERROR"),
        ('{"status": 1}', "ERROR"),
        ("{}", "ERROR"),
        ("garbage", "ERROR"),
        (None, "ERROR"),  # deleted
    ],
)
def test_port_status_mapping(value: str | None, status: str) -> None:
    assert port_status(value) == status


def test_key_parsing() -> None:
    base = "/calico/felix/v2/no-region/host/"
    assert parse_agent_key(RS, base + "h1/status") == "h1"
    assert parse_agent_key(RS, base + "h1/last_reported_status") is None
    assert parse_agent_key("region-x", base + "h1/status") is None
    assert parse_endpoint_key(RS, base + "h1/workload/openstack/vm-1/endpoint/p-1") == (
        EndpointStatusKey("h1", "vm-1", "p-1")
    )
    assert parse_endpoint_key(RS, base + "h1/workload/k8s/vm-1/endpoint/p-1") is None
    assert parse_endpoint_key(RS, base + "h1/status") is None


@dataclass
class Recorder:
    """Records callbacks; with ``gate``, the first port status waits for it (a slow
    consumer, so that the datastore can move on and compact meanwhile)."""

    gate: threading.Event | None = None
    alive: list[tuple[str, bool]] = field(default_factory=list)
    ports: list[tuple[str, str, str]] = field(default_factory=list)

    def on_felix_alive(self, host: str, first_update: bool) -> None:
        self.alive.append((host, first_update))

    def on_port_status(self, host: str, port_id: str, status: str) -> None:
        self.ports.append((host, port_id, status))
        if self.gate is not None:
            self.gate.wait(5)
            self.gate = None


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def watched() -> Iterator[tuple[MemoryDatastore, Recorder]]:
    store, recorder = MemoryDatastore(), Recorder()
    watcher = StatusWatcher(store, RS, recorder)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    yield store, recorder
    watcher.stop()
    thread.join()


def ep_key(host: str, port: str) -> str:
    return region.endpoint_status_key(RS, host, "vm", port)


def test_watcher_reports_liveness_and_port_status(
    watched: tuple[MemoryDatastore, Recorder],
) -> None:
    store, rec = watched
    store.put(region.felix_status_key(RS, "h1"), report(first=True))
    store.put(ep_key("h1", "p1"), '{"status": "down"}')
    store.put(ep_key("h1", "p1"), '{"status": "up"}')
    store.put(ep_key("h1", "p1"), '{"status": "up"}')  # no change: not repeated
    store.put(ep_key("h2", "p2"), '{"status": "error"}')
    store.delete(ep_key("h1", "p1"))
    eventually(lambda: len(rec.ports) == 4)
    assert rec.alive == [("h1", True)]
    assert rec.ports == [
        ("h1", "p1", "DOWN"),
        ("h1", "p1", "ACTIVE"),
        ("h2", "p2", "ERROR"),
        ("h1", "p1", "ERROR"),
    ]


def test_relist_after_compaction_reports_vanished_endpoints() -> None:
    store, gate = MemoryDatastore(), threading.Event()
    rec = Recorder(gate=gate)
    store.put(ep_key("h1", "p1"), '{"status": "up"}')
    store.put(ep_key("h1", "p2"), '{"status": "up"}')
    watcher = StatusWatcher(store, RS, rec)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    try:
        eventually(lambda: len(rec.ports) == 1)  # stuck in the first snapshot
        store.delete(ep_key("h1", "p2"))
        store.put("/calico/other", "x")
        store.compact(store.current_revision())  # the watch can no longer start after it
        gate.set()
        eventually(lambda: len(rec.ports) == 3)
    finally:
        watcher.stop()
        thread.join()
    assert rec.ports == [("h1", "p1", "ACTIVE"), ("h1", "p2", "ACTIVE"), ("h1", "p2", "ERROR")]
