"""Supervise calico-node's children: start, restart with back-off, stop cleanly.

calico/node runs its daemons under runit (``/etc/service/*/run``); this is the
small in-process equivalent (ECOSYSTEM.md, "process supervision"):

* Each child runs in its own session, hence its own process group, so a
  stop reaches everything it spawned (felix's ``iptables-restore``, ...) and
  a Ctrl-C aimed at calico-node's terminal does not hit the children
  directly: calico-node decides the order of shutdown.
* stdout and stderr go to ``<log_dir>/<name>.log`` (appended, with a marker
  line per start), the equivalent of runit's per-service log.
* A child that exits is started again after a back-off that doubles with
  each quick failure (``backoff_initial`` ... ``backoff_max``, ~10 s) and
  resets once a run lasted ``stable_after`` seconds.  Leftovers of its
  process group are killed first, so a crashed child never leaves orphans.
* ``can_start`` gates a child on a precondition (BIRD waits for the config
  calico-bgp writes); ``is_ready`` is probed about once a second for status.
* Stopping: each child's ``graceful_stop`` hook if it has one (BIRD's
  ``graceful restart``, which keeps routes in the kernel and in peers), else
  SIGTERM to its group; after ``stop_timeout`` SIGKILL to the group.
* The status (pids, restarts, last exit, ready) is written as JSON to
  ``status_path`` on every change, for ``calico lab status``.
* Children live in their own groups, so a calico-node killed with SIGKILL
  leaves them running.  The next supervisor therefore starts by killing the
  children the previous one recorded in ``status_path`` (each identified by
  pid *and* start time, so a reused pid is never hit), with SIGKILL: the
  right signal for BIRD (no BGP Cease: peers keep our routes as stale, the
  kernel keeps BIRD's) and harmless for felix, built to restart at any time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)

READY_PROBE_INTERVAL = 1.0


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None  # None: inherit ours
    can_start: Callable[[], bool] | None = None
    is_ready: Callable[[], bool] | None = None
    graceful_stop: Callable[[], None] | None = None  # instead of SIGTERM
    # Exit codes that mean "restart me now" rather than a failure: felix exits
    # 129 when its configuration changed, and Calico restarts it at once.
    restart_now_codes: frozenset[int] = frozenset()


@dataclass
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    quick_failures: int = 0
    started_at: float = 0.0
    start_ticks: int | None = None  # /proc start time: the pid's identity
    next_start: float = 0.0
    last_exit: int | None = None
    ready: bool = False
    probed_at: float = field(default=-READY_PROBE_INTERVAL)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


class Supervisor:
    """Runs ``specs`` until ``stop`` is set, then stops them all."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        log_dir: str | Path,
        status_path: str | Path | None = None,
        *,
        status_extra: Mapping[str, Any] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        stable_after: float = 30.0,
        stop_timeout: float = 10.0,
        poll_interval: float = 0.1,
    ) -> None:
        self.children = [_Child(spec) for spec in specs]
        self.log_dir = Path(log_dir)
        self.status_path = Path(status_path) if status_path else None
        self.status_extra = dict(status_extra or {})
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self._last_status: dict[str, Any] | None = None

    def run(self, stop: threading.Event) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.status_path is not None:
            for pid in kill_leftovers(self.status_path):
                _log.warning("Killed pid %d, left running by a previous calico-node", pid)
        try:
            while not stop.is_set():
                self.step()
                stop.wait(self.poll_interval)
        finally:
            self.stop_all()

    # -- one round -------------------------------------------------------------

    def step(self) -> None:
        """Reap exited children, start due ones, probe readiness, publish status."""
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None and _has_exited(child.proc):
                self._reap(child, now)
            due = child.proc is None and now >= child.next_start
            if due and (child.spec.can_start is None or child.spec.can_start()):
                self._start(child, now)
            if now - child.probed_at >= READY_PROBE_INTERVAL:
                child.probed_at = now
                child.ready = child.running and _probe(child.spec)
        self.write_status()

    def _start(self, child: _Child, now: float) -> None:
        spec = child.spec
        log_path = self.log_dir / f"{spec.name}.log"
        with log_path.open("ab") as log:
            log.write(f"=== {_now()} calico-node: starting {' '.join(spec.argv)}\n".encode())
            log.flush()
            try:
                child.proc = subprocess.Popen(
                    list(spec.argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(spec.env) if spec.env is not None else None,
                    start_new_session=True,
                )
            except OSError as exc:
                log.write(f"=== cannot start: {exc}\n".encode())
                _log.error("Cannot start %s: %s", spec.name, exc)
                child.last_exit = -1
                child.quick_failures += 1
                child.next_start = now + self._backoff(child)
                return
        child.starts += 1
        child.started_at = now
        child.start_ticks = _start_ticks(child.proc.pid)
        child.probed_at = now - READY_PROBE_INTERVAL  # probe at the next step
        _log.info("Started %s (pid %d)", spec.name, child.proc.pid)

    def _reap(self, child: _Child, now: float) -> None:
        assert child.proc is not None
        _kill_group(child.proc.pid, signal.SIGKILL)  # whatever it left behind
        code = child.proc.wait()
        child.proc, child.last_exit, child.ready = None, code, False
        if code in child.spec.restart_now_codes:
            child.quick_failures, child.next_start = 0, now
            _log.info("%s exited with code %s; restarting now", child.spec.name, code)
            return
        if now - child.started_at >= self.stable_after:
            child.quick_failures = 0
        child.quick_failures += 1
        delay = self._backoff(child)
        child.next_start = now + delay
        _log.warning("%s exited with code %s; restarting in %.1fs", child.spec.name, code, delay)

    def _backoff(self, child: _Child) -> float:
        exponent = max(child.quick_failures - 1, 0)
        return float(min(self.backoff_initial * 2**exponent, self.backoff_max))

    # -- stopping -------------------------------------------------------------

    def stop_all(self) -> None:
        """Ask every child to stop, wait up to ``stop_timeout``, then kill the rest."""
        running = [c for c in self.children if c.running]
        for child in running:
            _ask_to_stop(child)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            assert child.proc is not None
            if not _wait_exited(child.proc, deadline):
                _log.warning("%s did not stop in %.0fs; killing it", child.spec.name,
                             self.stop_timeout)  # fmt: skip
        for child in running:
            assert child.proc is not None
            _kill_group(child.proc.pid, signal.SIGKILL)
            child.last_exit, child.proc, child.ready = child.proc.wait(), None, False
        self.write_status()

    # -- status ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        children = {}
        for child in self.children:
            children[child.spec.name] = {
                "pid": child.proc.pid if child.running and child.proc else None,
                "start_time": child.start_ticks if child.running else None,
                "running": child.running,
                "ready": child.ready,
                "restarts": max(child.starts - 1, 0),
                "last_exit": child.last_exit,
                "log": str(self.log_dir / f"{child.spec.name}.log"),
            }
        ready = all(c["ready"] for c in children.values())
        return {**self.status_extra, "pid": os.getpid(), "ready": ready, "children": children}

    def write_status(self) -> None:
        """Write the status file atomically, when it changed."""
        status = self.status()
        if self.status_path is None or status == self._last_status:
            return
        self.status_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_path.with_name(f".{self.status_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**status, "updated": _now()}, indent=2) + "\n")
        os.replace(tmp, self.status_path)
        self._last_status = status


def kill_leftovers(status_path: Path, timeout: float = 5.0) -> list[int]:
    """SIGKILL the process groups of the children a previous run recorded as
    running, if each pid still has its recorded start time; returns their pids."""
    try:
        children = json.loads(status_path.read_text()).get("children", {})
    except (OSError, ValueError, AttributeError):
        return []
    killed = []
    for entry in children.values():
        pid, ticks = entry.get("pid"), entry.get("start_time")
        if isinstance(pid, int) and ticks is not None and _start_ticks(pid) == ticks:
            _kill_group(pid, signal.SIGKILL)
            killed.append(pid)
    deadline = time.monotonic() + timeout
    while any(_start_ticks(pid) is not None for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.02)  # not our children: init reaps them
    return killed


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _probe(spec: ChildSpec) -> bool:
    if spec.is_ready is None:
        return True
    try:
        return spec.is_ready()
    except Exception as exc:  # a probe must never take the supervisor down
        _log.debug("Readiness probe of %s failed: %s", spec.name, exc)
        return False


def _ask_to_stop(child: _Child) -> None:
    assert child.proc is not None
    if child.spec.graceful_stop is not None:
        try:
            child.spec.graceful_stop()
            return
        except Exception as exc:
            _log.warning("Graceful stop of %s failed (%s); sending SIGTERM", child.spec.name, exc)
    _kill_group(child.proc.pid, signal.SIGTERM)


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` exited, *without* reaping it.

    While the exited leader is an unreaped zombie its pid, which is also its
    process group id (children are session leaders), cannot be reused; so
    killing the group before reaping can only ever hit our own processes.
    """
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True  # already reaped elsewhere (Popen.poll)
    return info is not None


def _wait_exited(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    while not _has_exited(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
