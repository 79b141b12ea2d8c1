"""Felix's status reports against the memory datastore."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from calico.datastore import MemoryDatastore
from calico.errors import DatastoreUnavailableError
from calico.felix.messages import HostEndpointID, WorkloadEndpointID
from calico.felix.status import (
    EndpointStatusReporter,
    LivenessReporter,
    endpoint_status_key,
    region_string,
)

POD = WorkloadEndpointID("k8s", "default/web-1", "eth0")
ROOT = "/calico/felix/v2/no-region/host/host1/"


def values(store: MemoryDatastore, prefix: str = "/calico/felix/") -> dict[str, object]:
    return {kv.key: json.loads(kv.value) for kv in store.list(prefix)[0]}


def test_keys_follow_calicos_layout_and_escaping() -> None:
    assert region_string("") == "no-region"
    assert region_string("Europe") == "region-Europe"
    assert endpoint_status_key("no-region", "host1", POD) == (
        ROOT + "workload/k8s/default%2fweb-1/endpoint/eth0"
    )
    assert endpoint_status_key("region-x", "h", HostEndpointID("a/b%")) == (
        "/calico/felix/v2/region-x/host/h/endpoint/a%2fb%25"
    )


class TTLs(MemoryDatastore):
    def __init__(self) -> None:
        super().__init__()
        self.ttls: dict[str, int | None] = {}

    def put(self, key: str, value: str, *, ttl: int | None = None) -> int:
        self.ttls[key] = ttl
        return super().put(key, value, ttl=ttl)


def test_liveness_reports_with_a_ttl_and_first_update_once() -> None:
    store = TTLs()
    clock = iter([0.0, 5.5, 35.5])
    reporter = LivenessReporter(
        store, "host1", ttl=90, monotonic=lambda: next(clock),
        now=lambda: datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC),
    )  # fmt: skip
    assert reporter.report_once()
    first = values(store)
    assert first[ROOT + "status"] == {
        "time": "2024-05-01T10:00:00Z", "uptime": 5.5, "first_update": True,
    }  # fmt: skip
    assert first[ROOT + "last_reported_status"] == first[ROOT + "status"]
    assert store.ttls == {ROOT + "status": 90, ROOT + "last_reported_status": None}
    reporter.report_once()
    assert values(store)[ROOT + "status"] == {
        "time": "2024-05-01T10:00:00Z", "uptime": 35.5, "first_update": False,
    }  # fmt: skip


def test_liveness_survives_a_datastore_outage() -> None:
    class Down(MemoryDatastore):
        def put(self, key: str, value: str, *, ttl: int | None = None) -> int:
            raise DatastoreUnavailableError("etcd is down")

    assert not LivenessReporter(Down(), "host1").report_once()


def test_endpoint_statuses_are_written_changed_and_deleted() -> None:
    store = MemoryDatastore()
    reporter = EndpointStatusReporter(store, "host1")
    hep = HostEndpointID("eth0-hep")
    reporter.update({POD: "down", hep: "error"})
    assert reporter.flush() == 2
    assert values(store) == {
        ROOT + "workload/k8s/default%2fweb-1/endpoint/eth0": {"status": "down"},
        ROOT + "endpoint/eth0-hep": {"status": "error"},
    }
    reporter.update({POD: "up", hep: "error"})
    assert reporter.flush() == 1  # only what changed
    reporter.update({hep: "error"})
    reporter.flush()
    assert list(values(store)) == [ROOT + "endpoint/eth0-hep"]


def test_the_first_report_sweeps_keys_of_vanished_endpoints() -> None:
    store = MemoryDatastore()
    stale = ROOT + "workload/k8s/default%2fgone/endpoint/eth0"
    store.put(stale, json.dumps({"status": "up"}))
    store.put("/calico/felix/v2/no-region/host/host2/endpoint/x", json.dumps({"status": "up"}))
    reporter = EndpointStatusReporter(store, "host1")
    reporter.update({POD: "up"})
    reporter.flush()
    assert stale not in values(store)
    assert "/calico/felix/v2/no-region/host/host2/endpoint/x" in values(store)  # not ours


def test_nothing_is_written_before_the_first_report() -> None:
    store = MemoryDatastore()
    assert EndpointStatusReporter(store, "host1").flush() == 0
    assert values(store) == {}
