"""ProcessManager: processes inside lab namespaces, with logs, pidfiles and records."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from calico.errors import ConfigError, DataplaneError
from calico.lab import _pids, netns
from calico.lab.procs import ProcessManager
from calico.lab.state import LabState

from .conftest import BuildLab

pytestmark = pytest.mark.root


@pytest.fixture
def pm_ns(build_lab: BuildLab) -> tuple[ProcessManager, str]:
    fab = build_lab(hosts=1)
    return ProcessManager(fab.state), fab.hosts[0].netns


def _own_netns(pid: int) -> str:
    return Path(f"/proc/{pid}/ns/net").readlink().name


def test_start_records_logs_and_runs_inside_the_namespace(
    pm_ns: tuple[ProcessManager, str],
) -> None:
    pm, ns = pm_ns
    rec = pm.start("talker", ns, ["sh", "-c", "echo hello; exec sleep 60"])
    assert pm.is_alive("talker")
    assert [p.name for p in pm.list()] == ["talker"]
    assert Path(rec.pidfile).read_text() == f"{rec.pid}\n"
    assert rec.pid in netns.pids(ns)
    assert _own_netns(rec.pid) != _own_netns(os.getpid())
    # Another manager (another process, later) sees the same record.
    assert ProcessManager(LabState(pm.state.name)).get("talker") == rec
    deadline = time.monotonic() + 2
    while "hello" not in Path(rec.log).read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)

    assert pm.stop("talker") is True
    assert not _pids.is_alive(rec.pid, rec.start_time)
    assert pm.list() == []
    assert not Path(rec.pidfile).exists()
    assert pm.stop("talker") is False


def test_stop_escalates_to_sigkill(pm_ns: tuple[ProcessManager, str]) -> None:
    pm, ns = pm_ns
    ready = pm.state.dir / "stubborn.ready"
    script = f"trap '' TERM; touch {ready}; while :; do sleep 0.05; done"
    rec = pm.start("stubborn", ns, ["sh", "-c", script], ready_file=ready)
    started = time.monotonic()
    assert pm.stop("stubborn", timeout=0.3) is True
    assert time.monotonic() - started < 2
    assert not _pids.is_alive(rec.pid, rec.start_time)


def test_a_process_that_dies_before_ready_reports_its_log(
    pm_ns: tuple[ProcessManager, str],
) -> None:
    pm, ns = pm_ns
    with pytest.raises(DataplaneError, match="boom"):
        pm.start("dud", ns, ["sh", "-c", "echo boom; exit 3"], ready_file=pm.state.dir / "x")
    assert pm.list() == []


def test_a_process_that_never_gets_ready_is_stopped(pm_ns: tuple[ProcessManager, str]) -> None:
    pm, ns = pm_ns
    with pytest.raises(DataplaneError, match="not ready after"):
        pm.start("slow", ns, ["sleep", "60"], ready_file=pm.state.dir / "y", ready_timeout=0.2)
    assert not pm.is_alive("slow")
    assert pm.list() == []


def test_names_are_validated_and_unique_while_running(pm_ns: tuple[ProcessManager, str]) -> None:
    pm, ns = pm_ns
    with pytest.raises(ConfigError, match="process name"):
        pm.start("../evil", ns, ["true"])
    pm.start("once", ns, ["sleep", "60"])
    with pytest.raises(ConfigError, match="already running"):
        pm.start("once", ns, ["sleep", "60"])
