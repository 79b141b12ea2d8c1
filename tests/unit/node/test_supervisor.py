"""The supervisor with small real child programs (``python -c``)."""

from __future__ import annotations

import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from calico.node.supervisor import ChildSpec, Supervisor

FAST = {"backoff_initial": 0.05, "backoff_max": 0.2, "poll_interval": 0.02, "stop_timeout": 2.0}


class Harness:
    """Runs a Supervisor in a thread; every child carries a marker for the orphan check."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.marker = f"calico-node-test-{secrets.token_hex(4)}"
        self.runs: list[tuple[Supervisor, threading.Event, threading.Thread]] = []

    def spec(self, name: str, script: str, **kw: Any) -> ChildSpec:
        return ChildSpec(name, [sys.executable, "-c", script, self.marker], **kw)

    def sh_spec(self, name: str, script: str, **kw: Any) -> ChildSpec:
        return ChildSpec(name, ["sh", "-c", script, self.marker], **kw)

    def start(self, *specs: ChildSpec, **kw: Any) -> Supervisor:
        options = {**FAST, **kw}
        sup = Supervisor(specs, self.tmp / "logs", self.tmp / "status.json", **options)
        stop = threading.Event()
        thread = threading.Thread(target=sup.run, args=(stop,))
        thread.start()
        self.runs.append((sup, stop, thread))
        return sup

    def stop(self, timeout: float = 10.0) -> float:
        """Stop every supervisor; returns how long it took."""
        began = time.monotonic()
        for _, stop, thread in self.runs:
            stop.set()
            thread.join(timeout)
            assert not thread.is_alive(), "supervisor did not stop"
        return time.monotonic() - began

    def leftovers(self) -> list[int]:
        """Live processes carrying our marker (zombies do not count)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if self.marker.encode() in cmdline and state != "Z":
                found.append(int(entry.name))
        return found


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.stop()
    assert h.leftovers() == [], "orphan processes left behind"


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def status(harness: Harness) -> dict[str, Any]:
    path = harness.tmp / "status.json"
    wait_for(path.exists)
    return dict(json.loads(path.read_text()))


def test_restarts_a_crashing_child_with_exponential_backoff(harness: Harness) -> None:
    starts = harness.tmp / "starts"
    crasher = harness.sh_spec("crasher", f"date +%s.%N >> {starts}; exit 3")
    harness.start(crasher, backoff_initial=0.1, backoff_max=0.4)
    wait_for(lambda: len(lines(starts)) >= 6)
    times = [float(t) for t in lines(starts)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Back-off delays 0.1, 0.2, 0.4, 0.4 (capped; 0.8 without the cap), 0.4 (1.6)
    # are lower bounds; a loaded machine only adds to them.
    for gap, delay in zip(gaps, (0.1, 0.2, 0.4, 0.4, 0.4), strict=False):
        assert gap >= delay, gaps
    assert gaps[4] < 1.2, gaps
    wait_for(lambda: status(harness)["children"]["crasher"]["restarts"] >= 5)
    assert status(harness)["children"]["crasher"]["last_exit"] == 3


def test_restart_now_exit_code_skips_the_backoff(harness: Harness) -> None:
    starts = harness.tmp / "starts"
    # Exits 129 at once, like felix after a configuration change: restarted
    # without the (here deliberately huge) back-off.
    felix_like = harness.sh_spec(
        "felix", f"date +%s.%N >> {starts}; exit 129", restart_now_codes=frozenset({129})
    )
    harness.start(felix_like, backoff_initial=5.0, backoff_max=5.0)
    wait_for(lambda: len(lines(starts)) >= 4, timeout=4.0)


def test_backoff_resets_after_a_stable_run(harness: Harness) -> None:
    starts = harness.tmp / "starts"
    steady = harness.sh_spec("steady", f"date +%s.%N >> {starts}; sleep 0.3")
    harness.start(steady, stable_after=0.2, backoff_initial=0.1, backoff_max=5.0)
    wait_for(lambda: len(lines(starts)) >= 5)
    times = [float(t) for t in lines(starts)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Each run lasts 0.3 s > stable_after, so every delay is the initial 0.1 s;
    # without the reset the fourth gap would be 0.3 + 0.8.
    assert all(g >= 0.4 for g in gaps), gaps
    assert gaps[3] < 1.0, gaps


def test_clean_stop_terminates_children_and_their_children(harness: Harness) -> None:
    pids = harness.tmp / "pids"
    script = (
        "import os, subprocess, time\n"
        "p = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{p.pid}}')\n"
        "time.sleep(300)\n"
    )
    sup = harness.start(harness.spec("parent", script))
    wait_for(lambda: len(lines(pids)) == 2)
    child, grandchild = (int(p) for p in lines(pids))
    assert os.getpgid(grandchild) == child  # its own process group
    harness.stop()
    assert not Path(f"/proc/{child}").exists()
    assert _gone(grandchild)
    parent = sup.status()["children"]["parent"]
    assert parent["running"] is False
    assert parent["last_exit"] == -signal.SIGTERM  # asked, not killed after the timeout


def test_child_ignoring_sigterm_is_killed_after_the_timeout(harness: Harness) -> None:
    ready = harness.tmp / "ready"
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "time.sleep(300)\n"
    )
    harness.start(harness.spec("stubborn", script), stop_timeout=0.5)
    wait_for(ready.exists)
    assert 0.4 < harness.stop() < 3.0


def test_leftovers_of_a_crashed_child_are_killed(harness: Harness) -> None:
    pids = harness.tmp / "pids"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pids)!r}, 'a').write(f'{{p.pid}}\\n')\n"
        "sys.exit(1)\n"
    )
    harness.start(harness.spec("leaky", script), backoff_initial=5.0)
    wait_for(lambda: len(lines(pids)) >= 1)
    grandchild = int(lines(pids)[0])
    wait_for(lambda: _gone(grandchild))


def _gone(pid: int) -> bool:
    """Dead: no such process, or a zombie (an orphan waits for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_can_start_gates_a_child_and_ready_is_reported(harness: Harness) -> None:
    gate, out = harness.tmp / "gate", harness.tmp / "out"
    script = f"import time; open({str(out)!r}, 'w').close(); time.sleep(300)"
    harness.start(
        harness.spec("gated", script, can_start=gate.exists, is_ready=out.exists),
        harness.spec("plain", "import time; time.sleep(300)"),
    )
    wait_for(lambda: status(harness)["children"]["plain"]["running"])
    time.sleep(0.2)
    assert not out.exists()
    assert status(harness)["children"]["gated"] == {
        "pid": None, "start_time": None, "running": False, "ready": False, "restarts": 0,
        "last_exit": None,
        "log": str(harness.tmp / "logs" / "gated.log"),
    }  # fmt: skip
    gate.touch()
    wait_for(lambda: status(harness)["ready"])
    gated = status(harness)["children"]["gated"]
    assert gated["running"]
    assert gated["pid"] > 0


def test_graceful_stop_hook_replaces_sigterm(harness: Harness) -> None:
    seen, pidfile = harness.tmp / "seen", harness.tmp / "pid"
    script = (
        "import os, signal, sys, time\n"
        f"def on(sig, frame): open({str(seen)!r}, 'w').write(str(sig)); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, on)\n"
        "signal.signal(signal.SIGUSR1, on)\n"
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(300)\n"
    )

    def hook() -> None:
        os.kill(int(pidfile.read_text()), signal.SIGUSR1)  # a process this test started

    harness.start(harness.spec("graceful", script, graceful_stop=hook))
    wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
    harness.stop()
    assert seen.read_text() == str(int(signal.SIGUSR1))
    assert status(harness)["children"]["graceful"]["last_exit"] == 0


def test_output_goes_to_the_log_file(harness: Harness) -> None:
    script = "import sys, time; print('hello out', flush=True); print('hello err', file=sys.stderr, flush=True); time.sleep(300)"  # noqa: E501
    harness.start(harness.spec("talker", script))
    log = harness.tmp / "logs" / "talker.log"
    wait_for(lambda: log.exists() and "hello err" in log.read_text())
    text = log.read_text()
    assert "calico-node: starting" in text
    assert "hello out" in text


def test_a_missing_program_is_retried_not_fatal(harness: Harness) -> None:
    missing = ChildSpec("missing", [str(harness.tmp / "no-such-program")])
    harness.start(missing, harness.spec("other", "import time; time.sleep(300)"))
    log = harness.tmp / "logs" / "missing.log"
    wait_for(lambda: log.exists() and log.read_text().count("cannot start") >= 2)
    assert status(harness)["children"]["other"]["running"]
    assert status(harness)["children"]["missing"]["last_exit"] == -1


def test_children_of_a_killed_supervisor_are_killed_by_the_next(harness: Harness) -> None:
    # A supervisor in its own process, SIGKILLed: its child lives on in its own group.
    program = (
        "import sys, threading\n"
        "from calico.node.supervisor import ChildSpec, Supervisor\n"
        f"spec = ChildSpec('sleeper', ['sh', '-c', 'exec sleep 300', {harness.marker!r}])\n"
        "Supervisor([spec], sys.argv[1], sys.argv[2]).run(threading.Event())\n"
    )
    status_path = harness.tmp / "status.json"
    first = subprocess.Popen([sys.executable, "-c", program, str(harness.tmp / "logs"),
                              str(status_path)])  # fmt: skip
    try:
        wait_for(lambda: status_path.exists() and status(harness)["children"]["sleeper"]["pid"])
        orphan = status(harness)["children"]["sleeper"]["pid"]
    finally:
        first.kill()  # a process this test started
        first.wait()
    assert not _gone(orphan)
    harness.start(harness.spec("sleeper", "import time; time.sleep(300)"))
    wait_for(lambda: _gone(orphan))
    wait_for(lambda: status(harness)["children"]["sleeper"]["running"])
