"""One calico-node process in a lab host namespace, with its own files and sqlite datastore.

Its files live under a short directory in /tmp: a UNIX socket path (BIRD's
control socket) must fit in 108 bytes, which pytest's tmp_path may not.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from calico.client import Client
from calico.datastore.sqlite import SqliteDatastore
from calico.lab import netns
from calico.lab.hosts import Host

STARTUP_TIMEOUT = 30.0


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def is_gone(pid: int) -> bool:
    """No such process, or a zombie waiting for its (re)parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class NodeProcess:
    def __init__(self, host: Host, flags: Sequence[str], env: Mapping[str, str]) -> None:
        self.host = host
        self.dir = Path(tempfile.mkdtemp(prefix="cnode-"))
        self.db_path = self.dir / "calico.db"
        self.state_dir = self.dir / "state"
        self.log_dir = self.dir / "logs"
        self.socket = str(self.dir / "bird.ctl")
        self.flags = list(flags)
        self.env = {**os.environ, "DATASTORE_TYPE": "sqlite",
                    "CALICO_SQLITE_PATH": str(self.db_path), **env}  # fmt: skip
        self.store = SqliteDatastore(str(self.db_path))
        self.client = Client(self.store)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "calico.node.main", "--name", self.host.name,
            "--state-dir", str(self.state_dir), "--log-dir", str(self.log_dir),
            "--bird-config-dir", str(self.dir / "bird"), "--bird-socket", self.socket,
            *self.flags,
        ]  # fmt: skip

    def start(self) -> None:
        with (self.dir / "calico-node.log").open("ab") as log:
            self.proc = subprocess.Popen(
                netns.exec_argv(self.host.netns, self.argv),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, start_new_session=True,
            )  # fmt: skip
        wait_for("calico-node's status file", self._status_is_ours, STARTUP_TIMEOUT)

    def _status_is_ours(self) -> bool:
        """The status file is this calico-node's (not a previous run's)."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"calico-node exited {self.proc.returncode}: {self.log()}")
        try:
            return bool(self.status()["pid"] == self.proc.pid)  # ip netns exec execs it
        except (OSError, ValueError):
            return False

    @property
    def status_path(self) -> Path:
        return self.state_dir / "status.json"

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.status_path.read_text()))

    def child(self, name: str) -> dict[str, Any]:
        return dict(self.status()["children"][name])

    def wait_child(self, name: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        wait_for(f"child {name}", lambda: check(self.child(name)))
        return self.child(name)

    def log(self, name: str = "calico-node") -> str:
        path = self.dir / f"{name}.log" if name == "calico-node" else self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM calico-node (a process this test started); returns its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def crash(self) -> None:
        """SIGKILL calico-node (a process this test started): its children live on."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # a failed test: the lab teardown sweeps its children
            self.proc.wait()
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)
