"""What a lab owns, persisted, and how to remove all of it.

A lab is built by one process (``calico lab up``, a test fixture) and used and
torn down by others (``calico lab workload add``, ``calico lab down``, a
finalizer after the builder was SIGKILLed). So everything a lab creates is
written down in ``<root>/<lab>/state.json`` *before* it is created: a crash
then leaves a trace for ``teardown`` to follow, never an orphan. A record
whose object was never created is harmless; teardown tolerates absences.

``root`` is ``/run/calico-lab`` (tmpfs: a reboot wipes namespaces and state
alike), or ``$CALICO_LAB_STATE_DIR`` for tests. Writes are atomic (temp file
+ rename) and serialised between processes by ``flock`` on ``<dir>/lock``;
the kernel drops the lock when its holder dies, even by SIGKILL.

Names: a lab name is lowercase letters and digits only (``calico``, ``t3f9a``).
Every namespace of lab ``L`` is ``L-<role>`` with role ``fabric``, ``gw``,
``host<N>`` or ``wl-<workload>``. Because ``L`` has no ``-``, the prefix
``L-`` cannot belong to another lab, and teardown also sweeps namespaces of
those roles that a crash left unrecorded (e.g. a process started but killed
before it wrote the PID).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from calico.errors import ConfigError
from calico.lab import _pids, netns

STATE_ROOT_ENV = "CALICO_LAB_STATE_DIR"
DEFAULT_STATE_ROOT = Path("/run/calico-lab")
_LAB_NAME = re.compile(r"[a-z][a-z0-9]{0,15}")
_FORMAT_VERSION = 1


def validate_lab_name(name: str) -> str:
    if not _LAB_NAME.fullmatch(name):
        raise ConfigError(
            f"lab name must be 1-16 lowercase letters or digits, starting with a letter "
            f"(value {name!r})"
        )
    return name


def netns_name(lab: str, role: str) -> str:
    """The namespace of ``role`` (fabric, gw, host<N>, wl-<name>) in ``lab``."""
    return f"{lab}-{role}"


def _lab_netns_pattern(lab: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(lab)}-(fabric|gw|host\d+|wl-.+)")


def state_root() -> Path:
    return Path(os.environ.get(STATE_ROOT_ENV) or DEFAULT_STATE_ROOT)


@dataclass(frozen=True)
class ProcessRecord:
    """A long-lived process the lab started inside one of its namespaces."""

    name: str
    pid: int
    start_time: int  # clock ticks since boot, from /proc/<pid>/stat: the PID's identity
    netns: str
    argv: tuple[str, ...]
    log: str
    pidfile: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "argv": list(self.argv)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ProcessRecord:
        return cls(**{**raw, "argv": tuple(raw["argv"])})


@dataclass
class StateData:
    """The content of ``state.json``; ``sections`` belong to other lab modules."""

    name: str
    namespaces: list[str] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": _FORMAT_VERSION,
            "name": self.name,
            "namespaces": self.namespaces,
            "processes": [p.to_json() for p in self.processes],
            "files": self.files,
            "sections": self.sections,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> StateData:
        return cls(
            name=raw["name"],
            namespaces=list(raw["namespaces"]),
            processes=[ProcessRecord.from_json(p) for p in raw["processes"]],
            files=list(raw["files"]),
            sections=dict(raw["sections"]),
        )


class LabState:
    """The persisted record of one lab's namespaces, processes and files."""

    def __init__(self, name: str, root: Path | None = None) -> None:
        self.name = validate_lab_name(name)
        self.dir = (root or state_root()) / name
        self.path = self.dir / "state.json"

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> StateData:
        """The current state (empty when nothing was recorded yet)."""
        if not self.path.exists():
            return StateData(self.name)
        return StateData.from_json(json.loads(self.path.read_text()))

    @contextlib.contextmanager
    def edit(self) -> Iterator[StateData]:
        """Read-modify-write under the lab's lock; saved when the block exits cleanly."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.load()
            yield data
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data.to_json(), indent=1))
            tmp.replace(self.path)

    def record_namespace(self, ns: str) -> None:
        if not _lab_netns_pattern(self.name).fullmatch(ns):
            raise ConfigError(f"namespace {ns!r} is not named like a namespace of lab {self.name}")
        with self.edit() as data:
            if ns not in data.namespaces:
                data.namespaces.append(ns)

    def forget_namespace(self, ns: str) -> None:
        with self.edit() as data:
            data.namespaces = [n for n in data.namespaces if n != ns]
            data.processes = [p for p in data.processes if p.netns != ns]

    def record_process(self, rec: ProcessRecord) -> None:
        with self.edit() as data:
            data.processes = [p for p in data.processes if p.name != rec.name] + [rec]

    def forget_process(self, name: str) -> None:
        with self.edit() as data:
            data.processes = [p for p in data.processes if p.name != name]

    def record_file(self, path: Path | str) -> None:
        """Record a file or directory outside the state dir that teardown must delete."""
        with self.edit() as data:
            if str(path) not in data.files:
                data.files.append(str(path))

    def set_section(self, key: str, value: Any) -> None:
        with self.edit() as data:
            data.sections[key] = value

    def section(self, key: str) -> Any:
        return self.load().sections.get(key)


@dataclass
class TeardownReport:
    processes: list[str] = field(default_factory=list)  # names of recorded processes stopped
    namespaces: list[str] = field(default_factory=list)  # namespaces deleted
    notes: list[str] = field(default_factory=list)


def teardown(name: str, root: Path | None = None) -> TeardownReport:
    """Remove everything lab ``name`` owns; safe to repeat and after any crash."""
    state = LabState(name, root)
    report = TeardownReport()
    try:
        data = state.load()
    except (ValueError, KeyError, TypeError) as exc:  # unreadable: fall back to the sweep
        report.notes.append(f"state file {state.path} unreadable ({exc}); swept by name")
        data = StateData(name)
    for rec in reversed(data.processes):
        if _pids.terminate(rec.pid, rec.start_time):
            report.processes.append(rec.name)
    pattern = _lab_netns_pattern(name)
    swept = [ns for ns in netns.list_netns() if pattern.fullmatch(ns)]
    for ns in dict.fromkeys([*reversed(data.namespaces), *swept]):
        if netns.exists(ns):
            netns.destroy(ns)
            report.namespaces.append(ns)
    for path in map(Path, data.files):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    shutil.rmtree(state.dir, ignore_errors=True)
    return report
