"""What Felix reports back: agent liveness and port status (networking-calico ``status.py``).

Felix writes, per host, under ``/calico/felix/v2/<region>/host/<host>/``:

- ``status``: ``{"time": RFC 3339, "uptime": secs, "first_update": bool}``,
  every ``ReportingIntervalSecs`` (30) with a TTL of ``ReportingTTLSecs``
  (90).  A present and recent report means the host's Felix is alive, which
  is what lets the driver bind ports to the host;
- ``workload/openstack/<workload>/endpoint/<port id>``: ``{"status":
  "up"|"down"|"error"}`` when ``EndpointReportingEnabled`` is on.  Neutron
  shows it as the port's status: ACTIVE, DOWN or ERROR.  A deleted (or
  unreadable) report is reported as ERROR, as networking-calico does: if
  the port is gone Neutron ignores it, and if it still exists something is
  wrong.

:class:`StatusWatcher` follows that subtree and calls a
:class:`StatusCallbacks` (the driver) for every change.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from calico.datastore import Datastore
from calico.openstack import region
from calico.openstack._follow import follow

_log = logging.getLogger(__name__)

# neutron_lib.constants.PORT_STATUS_*; spelled out so this module needs no Neutron.
PORT_ACTIVE, PORT_DOWN, PORT_ERROR = "ACTIVE", "DOWN", "ERROR"
PORT_STATUS = {"up": PORT_ACTIVE, "down": PORT_DOWN, "error": PORT_ERROR}
# Felix's ReportingTTLSecs: a report older than this would have expired.
DEFAULT_FELIX_MAX_AGE = 90.0


@dataclass(frozen=True)
class FelixReport:
    time: datetime | None
    first_update: bool


def parse_felix_report(value: str) -> FelixReport | None:
    """The liveness report in a ``status`` value; None if it is not one."""
    try:
        raw = json.loads(value)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    return FelixReport(_parse_time(raw.get("time")), bool(raw.get("first_update")))


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        # Go's RFC 3339 ("...05.123456789Z"): 3.11 takes the Z and the nanoseconds.
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def felix_is_alive(
    datastore: Datastore,
    region_str: str,
    host: str,
    *,
    max_age: float = DEFAULT_FELIX_MAX_AGE,
    now: datetime | None = None,
) -> bool:
    """Whether ``host``'s Felix has reported within ``max_age`` seconds.

    The TTL already removes a dead Felix's key; the age check also catches
    a report left behind by a backend without working leases or a clock
    that stopped.  A report without a readable time counts as alive: the
    key's presence alone is Felix's word.
    """
    kv = datastore.get(region.felix_status_key(region_str, host))
    if kv is None:
        return False
    report = parse_felix_report(kv.value)
    if report is None:
        return False
    if report.time is None:
        return True
    age = ((now or datetime.now(UTC)) - report.time).total_seconds()
    return age <= max_age


def port_status(value: str | None) -> str:
    """Neutron's port status for an endpoint status value (None: deleted)."""
    if value is None:
        return PORT_ERROR
    try:
        raw = json.loads(value)
    except ValueError:
        return PORT_ERROR
    status = raw.get("status") if isinstance(raw, dict) else None
    return PORT_STATUS.get(status, PORT_ERROR) if isinstance(status, str) else PORT_ERROR


@dataclass(frozen=True)
class EndpointStatusKey:
    host: str
    workload: str
    port_id: str


_AGENT_KEY = re.compile(r"(?P<host>[^/]+)/status")
_ENDPOINT_KEY = re.compile(
    r"(?P<host>[^/]+)/workload/openstack/(?P<workload>[^/]+)/endpoint/(?P<port>[^/]+)"
)


def parse_agent_key(region_str: str, key: str) -> str | None:
    """The host of a Felix ``status`` key, or None."""
    match = _AGENT_KEY.fullmatch(_relative(region_str, key))
    return match["host"] if match else None


def parse_endpoint_key(region_str: str, key: str) -> EndpointStatusKey | None:
    match = _ENDPOINT_KEY.fullmatch(_relative(region_str, key))
    if not match:
        return None
    return EndpointStatusKey(match["host"], match["workload"], match["port"])


def _relative(region_str: str, key: str) -> str:
    prefix = region.felix_status_dir(region_str)
    return key[len(prefix) :] if key.startswith(prefix) else ""


class StatusCallbacks(Protocol):
    def on_felix_alive(self, host: str, first_update: bool) -> None: ...

    def on_port_status(self, host: str, port_id: str, status: str) -> None: ...


class StatusWatcher:
    """Follows Felix's status subtree and reports changes to ``callbacks``.

    Port statuses are reported only when they change (a re-list repeats
    every key); an endpoint whose key vanished while we were not watching is
    reported as ERROR, as a delete event would have been.
    """

    def __init__(self, datastore: Datastore, region_str: str, callbacks: StatusCallbacks) -> None:
        self._datastore = datastore
        self._region = region_str
        self._callbacks = callbacks
        self._statuses: dict[EndpointStatusKey, str] = {}
        self._stop = threading.Event()

    def run(self) -> None:
        """Follow the subtree until :meth:`stop` (blocks)."""
        prefix = region.felix_status_dir(self._region)
        follow(self._datastore, prefix, self._on_snapshot, self._on_change, self._stop)

    def stop(self) -> None:
        self._stop.set()

    def _on_snapshot(self, items: dict[str, str]) -> None:
        present = {parse_endpoint_key(self._region, key) for key in items}
        for gone in [k for k in self._statuses if k not in present]:
            self._on_endpoint(gone, None)
        for key, value in items.items():
            self._on_change(key, value)

    def _on_change(self, key: str, value: str | None) -> None:
        endpoint = parse_endpoint_key(self._region, key)
        if endpoint is not None:
            self._on_endpoint(endpoint, value)
            return
        host = parse_agent_key(self._region, key)
        if host is None:
            return  # last_reported_status and other keys: not ours to act on
        report = parse_felix_report(value) if value is not None else None
        if report is None:
            # Neutron notices a dead agent by its reports stopping; nothing to send.
            _log.warning("Felix on host %s has no (valid) status report", host)
            return
        self._callbacks.on_felix_alive(host, report.first_update)

    def _on_endpoint(self, endpoint: EndpointStatusKey, value: str | None) -> None:
        status = port_status(value)
        if value is None:
            self._statuses.pop(endpoint, None)
        elif self._statuses.get(endpoint) == status:
            return
        else:
            self._statuses[endpoint] = status
        self._callbacks.on_port_status(endpoint.host, endpoint.port_id, status)
