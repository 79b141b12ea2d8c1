"""Long-lived processes inside lab namespaces: start, stop, check, list.

Each process runs as ``ip netns exec NS ARGV`` (which execs ARGV, so the PID
is ARGV's), in a new session so that a Ctrl-C aimed at the creator does not
reach it and it outlives a short-lived creator such as ``calico lab up``. Its
stdout and stderr go to ``<state dir>/logs/<name>.log``, its PID to
``<state dir>/run/<name>.pid``, and its record (PID plus start time, see
``_pids``) to the lab state, so any later process can stop it.

The record is written right after the fork, because only then is the PID
known. A creator killed in between leaves a process that only the namespace
sweep of ``teardown`` finds: every lab process lives in a lab namespace, and
teardown stops whatever is inside those before deleting them.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from calico.errors import ConfigError, DataplaneError
from calico.lab import _pids, netns
from calico.lab.state import LabState, ProcessRecord

_PROC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LOG_TAIL_CHARS = 2000


class ProcessManager:
    """Starts and stops the processes of one lab, recording them in its state."""

    def __init__(self, state: LabState) -> None:
        self.state = state
        # Our own children, kept so they are reaped (no zombies, no
        # "subprocess still running" warnings) while this object lives.
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return self.state.dir / "logs" / f"{name}.log"

    def pidfile(self, name: str) -> Path:
        return self.state.dir / "run" / f"{name}.pid"

    def start(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        ready_file: Path | None = None,
        ready_timeout: float = 10.0,
    ) -> ProcessRecord:
        """Start ``argv`` in namespace ``ns`` under the unique ``name``.

        With ``ready_file``, wait until the process creates that file; if it
        exits or the wait times out, it is stopped and DataplaneError raised
        with the tail of its log.
        """
        if not _PROC_NAME.fullmatch(name):
            raise ConfigError(f"process name must match {_PROC_NAME.pattern} (value {name!r})")
        if self.is_alive(name):
            raise ConfigError(f"process {name!r} is already running in lab {self.state.name}")
        log, pidfile = self.log_path(name), self.pidfile(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
        with log.open("ab") as out:
            child = subprocess.Popen(
                netns.exec_argv(ns, argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        self._children[child.pid] = child
        started = _pids.start_time(child.pid)
        if started is None:
            child.wait()
            raise DataplaneError(f"process {name} exited at once: {self._log_tail(name)}")
        rec = ProcessRecord(name, child.pid, started, ns, tuple(argv), str(log), str(pidfile))
        self.state.record_process(rec)
        pidfile.write_text(f"{child.pid}\n")
        if ready_file is not None:
            self._wait_ready(rec, ready_file, ready_timeout)
        return rec

    def _wait_ready(self, rec: ProcessRecord, ready_file: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready_file.exists():
            if not _pids.is_alive(rec.pid, rec.start_time):
                self.stop(rec.name)
                raise DataplaneError(
                    f"process {rec.name} exited before it was ready: {self._log_tail(rec.name)}"
                )
            if time.monotonic() >= deadline:
                self.stop(rec.name)
                raise DataplaneError(
                    f"process {rec.name} not ready after {timeout}s: {self._log_tail(rec.name)}"
                )
            time.sleep(0.01)

    def _log_tail(self, name: str) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return text[-_LOG_TAIL_CHARS:].strip() or "(empty log)"

    def get(self, name: str) -> ProcessRecord | None:
        return next((p for p in self.list() if p.name == name), None)

    def list(self) -> list[ProcessRecord]:
        """Every recorded process, running or not."""
        return self.state.load().processes

    def is_alive(self, name: str) -> bool:
        rec = self.get(name)
        return rec is not None and _pids.is_alive(rec.pid, rec.start_time)

    def stop(self, name: str, timeout: float = 5.0) -> bool:
        """Stop ``name`` (SIGTERM, then SIGKILL after ``timeout``) and forget it.

        Returns True if it was running. Unknown names are not an error.
        """
        rec = self.get(name)
        if rec is None:
            return False
        was_running = _pids.terminate(rec.pid, rec.start_time, timeout)
        child = self._children.pop(rec.pid, None)
        if child is not None:
            child.wait()
        self.state.forget_process(name)
        Path(rec.pidfile).unlink(missing_ok=True)
        return was_running
