"""Felix's reports to the datastore: agent liveness and endpoint status (REFERENCE 1.7).

Keys (libcalico-go ``model/statusreports.go``, ``workloadendpointstatus.go``)::

    /calico/felix/v2/<region>/host/<host>/status                  (with a TTL)
    /calico/felix/v2/<region>/host/<host>/last_reported_status
    /calico/felix/v2/<region>/host/<host>/workload/<orch>/<workload>/endpoint/<ep>
    /calico/felix/v2/<region>/host/<host>/endpoint/<host endpoint>

``<region>`` is ``no-region``, or ``region-<OpenstackRegion>``.  ID parts are
escaped as Calico does (``%`` → ``%25``, ``/`` → ``%2f``): a Kubernetes
workload ID is ``<namespace>/<pod>``.

* :class:`LivenessReporter` writes ``{"time", "uptime", "first_update"}`` to
  both liveness keys every ReportingIntervalSecs; ``status`` carries a lease
  of ReportingTTLSecs, so a dead felix's key disappears by itself.  The
  OpenStack driver reads these to mark the agent alive.
* :class:`EndpointStatusReporter` (EndpointReportingEnabled) writes
  ``{"status": "up"|"down"|"error"}`` per endpoint and deletes the key when
  the endpoint goes.  Writes are batched: at most one flush per
  EndpointReportingDelaySecs, each key written only when its value changed.
  The first report from the dataplane is the complete picture, so it also
  sweeps keys left by endpoints that vanished while felix was down.

A datastore error never stops felix: the write is retried on the next flush.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from calico.datastore import Datastore
from calico.errors import DatastoreError, NotFoundError
from calico.felix.messages import HostEndpointID, WorkloadEndpointID

log = logging.getLogger(__name__)

STATUS_ROOT = "/calico/felix/v2"
_IDLE = 3600.0  # a worker with nothing to do sleeps until woken
EndpointKey = WorkloadEndpointID | HostEndpointID


def region_string(openstack_region: str) -> str:
    return f"region-{openstack_region}" if openstack_region else "no-region"


def escape(name: str) -> str:
    return name.replace("%", "%25").replace("/", "%2f")


def host_prefix(region: str, hostname: str) -> str:
    return f"{STATUS_ROOT}/{region}/host/{hostname}/"


def endpoint_status_key(region: str, hostname: str, key: EndpointKey) -> str:
    base = host_prefix(region, hostname)
    if isinstance(key, HostEndpointID):
        return f"{base}endpoint/{escape(key.endpoint_id)}"
    parts = (key.orchestrator_id, key.workload_id, key.endpoint_id)
    return base + "workload/{}/{}/endpoint/{}".format(*map(escape, parts))


class _Worker:
    """A daemon thread running ``step`` until stopped; ``step`` returns how
    long to wait before running again (or until :meth:`wake`)."""

    def __init__(self, name: str, step: Callable[[], float]) -> None:
        self._step = step
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            delay = self._step()
            self._wake.wait(delay)
            self._wake.clear()


class LivenessReporter:
    def __init__(
        self,
        datastore: Datastore,
        hostname: str,
        *,
        region: str = "no-region",
        interval: float = 30.0,
        ttl: float = 90.0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._datastore = datastore
        self._prefix = host_prefix(region, hostname)
        self._interval, self._ttl = interval, ttl
        self._monotonic, self._now = monotonic, now
        self._started = monotonic()
        self._first = True
        self._worker = _Worker("felix-liveness", self._step)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def report_once(self) -> bool:
        """Write both liveness keys; False if the datastore refused."""
        report = {
            "time": self._now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "uptime": round(self._monotonic() - self._started, 3),
            "first_update": self._first,
        }
        text = json.dumps(report)
        try:
            ttl = max(1, math.ceil(self._ttl)) if self._ttl > 0 else None
            self._datastore.put(self._prefix + "status", text, ttl=ttl)
            self._first = False
            self._datastore.put(self._prefix + "last_reported_status", text)
        except DatastoreError as exc:
            log.warning("Cannot write felix status to the datastore: %s", exc)
            return False
        return True

    def _step(self) -> float:
        self.report_once()
        return self._interval


class EndpointStatusReporter:
    def __init__(
        self,
        datastore: Datastore,
        hostname: str,
        *,
        region: str = "no-region",
        delay: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._datastore = datastore
        self._region, self._hostname = region, hostname
        self._delay, self._monotonic = delay, monotonic
        self._next_flush = 0.0
        self._lock = threading.Lock()
        self._latest: dict[str, str] | None = None  # key -> status, as last reported
        self._written: dict[str, str] = {}  # what the datastore holds
        self._swept = False
        self._failed = False
        self._worker = _Worker("felix-endpoint-status", self._step)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def update(self, statuses: Mapping[EndpointKey, str]) -> None:
        """The complete current status of every local endpoint (any thread)."""
        keyed = {
            endpoint_status_key(self._region, self._hostname, k): v for k, v in statuses.items()
        }
        with self._lock:
            self._latest = keyed
        self._worker.wake()

    def flush(self) -> int:
        """Write what changed since the last flush; returns how many keys were touched."""
        with self._lock:
            latest = None if self._latest is None else dict(self._latest)
        if latest is None:
            return 0
        if not self._swept:
            self._sweep()
        self._failed = not self._swept
        touched = 0
        for key in sorted(k for k in self._written if k not in latest):
            touched += self._write(key, None)
        for key, status in sorted(latest.items()):
            if self._written.get(key) != status:
                touched += self._write(key, status)
        return touched

    def _sweep(self) -> None:
        """Adopt the keys a previous felix left, so stale ones get deleted."""
        prefix = host_prefix(self._region, self._hostname)
        try:
            for sub in ("workload/", "endpoint/"):
                items, _ = self._datastore.list(prefix + sub)
                for kv in items:
                    self._written.setdefault(kv.key, _status_of(kv.value))
        except DatastoreError as exc:
            log.warning("Cannot list old endpoint status keys: %s", exc)
            return
        self._swept = True

    def _write(self, key: str, status: str | None) -> int:
        try:
            if status is None:
                try:
                    self._datastore.delete(key)
                except NotFoundError:
                    pass
                del self._written[key]
            else:
                self._datastore.put(key, json.dumps({"status": status}))
                self._written[key] = status
        except DatastoreError as exc:
            log.warning("Cannot write endpoint status %s: %s", key, exc)
            self._failed = True
            return 0
        return 1

    def _step(self) -> float:
        """Flush, but never twice within the reporting delay (rate limit)."""
        now = self._monotonic()
        if now < self._next_flush:
            return self._next_flush - now
        self._next_flush = now + self._delay
        self.flush()
        return self._delay if self._failed else _IDLE


def _status_of(value: str) -> str:
    try:
        parsed = json.loads(value)
    except ValueError:
        return ""
    return str(parsed.get("status", "")) if isinstance(parsed, dict) else ""
