"""Running the ``bird`` program: config checks, the command line, readiness.

calico-node (and the tests) own BIRD as a child process, so it runs in the
foreground (``-f``): its supervisor sees it exit and restarts it, and its log
(``log stderr all`` in the config) goes wherever the supervisor sends stderr.
``-R`` is graceful-restart recovery, as Calico's runit service runs BIRD: after
a crash the kernel still holds BIRD's routes (``persist``), and BIRD waits for
its BGP peers to re-send theirs before it reconciles the kernel table, so a
restart does not flap the routes.

Starting it inside a lab namespace is the caller's business (the lab's
``ProcessManager.start(name, netns, bird_argv(...))``); ``start_bird`` here is
for a process that already lives in the right namespace, such as calico-node.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from calico.bgp.birdcl import BirdClient, BirdError
from calico.errors import DataplaneError

BIRD = "bird"
DEFAULT_SOCKET = "/var/run/calico/bird.ctl"
DEFAULT_CONFIG_DIR = "/etc/calico/bird"
CONFIG_NAME = "bird.cfg"
CHECK_TIMEOUT = 30.0


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str  # BIRD's complaint (file:line:column message) when not ok


def check_config(path: str | Path, *, bird: str = BIRD) -> CheckResult:
    """``bird -p -c path``: parse the config and exit (no root needed)."""
    try:
        proc = subprocess.run(
            [bird, "-p", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CheckResult(False, f"cannot run {bird} -p: {exc}")
    message = (proc.stderr.strip() or proc.stdout.strip()).removeprefix("bird: ")
    return CheckResult(proc.returncode == 0, message)


def bird_argv(
    config: str | Path,
    socket: str | Path = DEFAULT_SOCKET,
    pidfile: str | Path | None = None,
    *,
    recovery: bool = True,
    bird: str = BIRD,
) -> list[str]:
    """``bird -f [-R] -c CONFIG -s SOCKET [-P PIDFILE]``."""
    argv = [bird, "-f"]
    if recovery:
        argv.append("-R")
    argv += ["-c", str(config), "-s", str(socket)]
    if pidfile is not None:
        argv += ["-P", str(pidfile)]
    return argv


def start_bird(
    config: str | Path,
    socket: str | Path = DEFAULT_SOCKET,
    pidfile: str | Path | None = None,
    *,
    log: IO[bytes] | None = None,
    ready_timeout: float = 10.0,
) -> subprocess.Popen[bytes]:
    """Start BIRD in this namespace and wait until its control socket answers."""
    Path(socket).parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        bird_argv(config, socket, pidfile),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    try:
        wait_ready(str(socket), ready_timeout, proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def wait_ready(
    socket: str, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until BIRD answers on ``socket``; DataplaneError on timeout or exit."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DataplaneError(f"bird exited with code {proc.returncode} before it was ready")
        try:
            with BirdClient(socket, timeout=1.0) as client:
                client.show_status()
            return
        except (OSError, BirdError) as exc:
            last = str(exc)
        time.sleep(0.05)
    raise DataplaneError(f"bird not answering on {socket} after {timeout}s: {last}")


def is_bird(argv: Sequence[str]) -> bool:
    """Whether a command line is BIRD's (``bird`` or a path ending in ``/bird``)."""
    return bool(argv) and Path(argv[0]).name == BIRD
