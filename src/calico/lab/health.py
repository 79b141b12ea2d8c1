"""Is the lab ready? Per host: calico-node, Felix's report, the BGP mesh.

A host is ready when its calico-node process runs and its ``status.json``
says every child (felix, calico-bgp, BIRD) is ready, when Felix's liveness
key for the host is in the datastore (Felix reports, so policy flows), and,
when BGP runs, when BIRD has an Established session with every other host
(a full mesh). ``status`` shows this per host; ``up`` waits for it
(``wait_ready``) and, on a timeout, names each laggard with why it lags and
the tail of its calico-node log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calico.bgp.status import PeerStatus, query_peers
from calico.errors import CalicoError, DataplaneError
from calico.felix.status import STATUS_ROOT as FELIX_STATUS_ROOT
from calico.felix.status import region_string
from calico.lab.hosts import Host
from calico.lab.store import open_store

if TYPE_CHECKING:
    from calico.lab.cluster import Lab

Progress = Callable[[str], None]
_POLL_INTERVAL = 0.5
_LOG_TAIL_LINES = 5


def quiet(_: str) -> None:
    """A ``Progress`` that reports nothing."""


@dataclass(frozen=True)
class HostHealth:
    """One host as ``status`` shows it and ``up`` waits for it."""

    host: Host
    node_running: bool
    children: Mapping[str, Any]  # calico-node's status.json: name -> {running, ready, ...}
    node_ready: bool
    felix_reported: bool  # Felix's liveness key is in the datastore
    expected_peers: frozenset[str]  # fabric IPs of every other host (full mesh), if BGP runs
    peers: tuple[PeerStatus, ...]
    bgp_error: str = ""

    @property
    def established(self) -> frozenset[str]:
        return frozenset(p.peer_ip for p in self.peers if p.bgp_state == "Established")

    @property
    def ready(self) -> bool:
        return (
            self.node_running
            and self.node_ready
            and self.felix_reported
            and self.expected_peers <= self.established
        )

    def problem(self) -> str:
        """Why the host is not ready, in a few words ("" when it is)."""
        if not self.node_running:
            return "calico-node is not running"
        if not self.node_ready:
            waiting = [n for n, c in self.children.items() if not c.get("ready")]
            return f"waiting for {', '.join(waiting) or 'calico-node start-up'}"
        if not self.felix_reported:
            return "waiting for Felix's first status report"
        missing = sorted(self.expected_peers - self.established)
        if missing:
            return f"BGP not Established with {', '.join(missing)}{_bracket(self.bgp_error)}"
        return ""


def _bracket(text: str) -> str:
    return f" ({text})" if text else ""


def host_health(lab: Lab, host: Host, reported: frozenset[str]) -> HostHealth:
    """``host``'s health; ``reported``: the hosts whose Felix has reported (``felix_reports``)."""
    status = _node_status(lab.node_status_path(host))
    expected = frozenset(h.ip for h in lab.hosts if h != host) if lab.config.bgp else frozenset()
    peers, error = _bgp_peers(lab, host) if lab.config.bgp else ((), "")
    return HostHealth(
        host=host,
        node_running=lab.node_running(host),
        children=status.get("children", {}),
        node_ready=bool(status.get("ready")),
        felix_reported=host.name in reported,
        expected_peers=expected,
        peers=peers,
        bgp_error=error,
    )


def _node_status(path: Path) -> dict[str, Any]:
    """calico-node's ``status.json`` ({} until it writes one)."""
    try:
        status: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return status


def _bgp_peers(lab: Lab, host: Host) -> tuple[tuple[PeerStatus, ...], str]:
    """BIRD's sessions on ``host``, or none and why BIRD could not be asked."""
    try:
        return tuple(query_peers([lab.bird_socket(host)])), ""
    except (OSError, CalicoError) as exc:
        return (), str(exc)


def lab_health(lab: Lab) -> list[HostHealth]:
    reported = felix_reports(lab)
    return [host_health(lab, h, reported) for h in lab.hosts]


def felix_reports(lab: Lab) -> frozenset[str]:
    """The hosts whose Felix has a liveness key (``.../host/<host>/status``) right now."""
    prefix = f"{FELIX_STATUS_ROOT}/{region_string('')}/host/"
    try:
        with open_store(lab) as store:
            items, _ = store.list(prefix)
    except CalicoError:
        return frozenset()
    return frozenset(
        kv.key[len(prefix) :].split("/")[0] for kv in items if kv.key.endswith("/status")
    )


def wait_ready(lab: Lab, timeout: float, progress: Progress = quiet) -> list[HostHealth]:
    """Until every host is ready; DataplaneError naming the laggards after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        health = lab_health(lab)
        progress(_progress_line(lab, health))
        if all(h.ready for h in health):
            return health
        dead = [h for h in health if not h.node_running]
        if dead or time.monotonic() > deadline:
            raise DataplaneError(_not_ready_message(lab, dead or health, timeout))
        time.sleep(_POLL_INTERVAL)


def _progress_line(lab: Lab, health: list[HostHealth]) -> str:
    ready = sum(1 for h in health if h.ready)
    sessions = sum(len(h.expected_peers & h.established) for h in health)
    wanted = sum(len(h.expected_peers) for h in health)
    bgp = f", BGP sessions Established {sessions}/{wanted}" if lab.config.bgp else ""
    return f"hosts ready {ready}/{len(health)}{bgp}"


def _not_ready_message(lab: Lab, health: list[HostHealth], timeout: float) -> str:
    lines = [f"lab {lab.name} not ready after {timeout:.0f}s:"]
    for h in health:
        if not h.ready:
            lines.append(f"  {h.host.name}: {h.problem()}")
            lines += [f"    | {line}" for line in _log_tail(lab.node_log(h.host))]
    return "\n".join(lines)


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> list[str]:
    try:
        return path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return []
