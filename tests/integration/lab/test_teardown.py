"""Teardown after the lab's creator was SIGKILLed, mid-build and after it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from calico.lab import _pids, netns
from calico.lab.state import LabState, teardown

from .conftest import unique_lab_name

pytestmark = pytest.mark.root

# Builds a big lab slowly enough to be killed half-way.
_BUILD_BIG = """
import sys
from calico.lab.fabric import Fabric
Fabric.create(sys.argv[1], hosts=60)
"""

# Builds a lab, starts a recorded server and an unrecorded process (as a crash
# between fork and record would leave), reports their PIDs, then hangs.
_BUILD_AND_HANG = """
import json, subprocess, sys, time
from calico.lab import netns
from calico.lab.fabric import Fabric
from calico.lab.procs import ProcessManager
from calico.lab.workload import create_workload, start_server
fab = Fabric.create(sys.argv[1], hosts=2)
wl = create_workload(fab.state, fab.hosts[0], "w1", "10.65.0.1")
server = start_server(ProcessManager(fab.state), wl)
stray = subprocess.Popen(netns.exec_argv(fab.hosts[1].netns, ["sleep", "300"]))
print(json.dumps({"server": server.pid, "stray": stray.pid}), flush=True)
time.sleep(300)
"""


def _lab_namespaces(name: str) -> list[str]:
    return [ns for ns in netns.list_netns() if ns.startswith(f"{name}-")]


def _recorded_namespaces(state: LabState) -> int:
    try:
        return len(state.load().namespaces)
    except (ValueError, FileNotFoundError):
        return 0


def test_teardown_after_sigkill_mid_build(lab_names: list[str], lab_root: Path) -> None:
    name = unique_lab_name()
    lab_names.append(name)
    state = LabState(name)
    child = subprocess.Popen([sys.executable, "-c", _BUILD_BIG, name])
    deadline = time.monotonic() + 20
    while _recorded_namespaces(state) < 8 and child.poll() is None:
        assert time.monotonic() < deadline, "the build never got going"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    left = _lab_namespaces(name)
    # Recorded before created: the 8th may be recorded and not yet exist.
    assert 7 <= len(left) < 62, "killed half-way: some but not all namespaces exist"

    report = teardown(name)

    assert sorted(report.namespaces) == sorted(left)
    assert _lab_namespaces(name) == []
    assert not state.dir.exists()
    assert teardown(name).namespaces == []  # idempotent


def test_teardown_after_sigkill_stops_recorded_and_stray_processes(
    lab_names: list[str], lab_root: Path
) -> None:
    name = unique_lab_name()
    lab_names.append(name)
    child = subprocess.Popen(
        [sys.executable, "-c", _BUILD_AND_HANG, name], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    pids = json.loads(child.stdout.readline())
    child.kill()
    child.wait()
    child.stdout.close()
    started = {key: _pids.start_time(pid) for key, pid in pids.items()}
    assert None not in started.values(), "both processes outlive their creator"
    assert len(_lab_namespaces(name)) == 5  # fabric, gw, host1, host2, wl-w1

    report = teardown(name)

    assert report.processes == ["server-w1"]
    for key, pid in pids.items():
        assert not _pids.is_alive(pid, started[key] or 0), key
    assert _lab_namespaces(name) == []
    assert not LabState(name).dir.exists()
