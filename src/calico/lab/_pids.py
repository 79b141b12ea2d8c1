"""Process identity and termination by PID, safe against PID reuse.

The lab records the PID of every process it starts so that a later, different
process (``calico lab down``, or a test's finalizer after the creator was
SIGKILLed) can stop it. A bare PID is not an identity: once the process has
exited, the kernel may hand the same number to an unrelated process. So every
record also carries the process's start time (field 22 of ``/proc/<pid>/stat``,
in clock ticks since boot), and a PID is only signalled while that start time
still matches. This is the same check ``pidfd``-less supervisors have always
used, and it keeps the rule "kill only PIDs you started".

A zombie counts as dead: it has already exited and only waits to be reaped.
When it is our own child we reap it here so that it does not linger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

_POLL_INTERVAL = 0.02


def start_time(pid: int) -> int | None:
    """Return the start time of a live process in clock ticks, or None if gone.

    ``None`` also for zombies, which have exited already.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Field 2 (comm) is in parentheses and may itself contain spaces and
    # parentheses: split only after the last ')'. Then field 3 (state) is
    # index 0 and field 22 (starttime) is index 19.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own exited child."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int, started: int) -> bool:
    """True while the process ``pid`` that started at ``started`` still runs."""
    _reap(pid)
    return start_time(pid) == started


def _signal(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process, and to its group when it leads one.

    The lab starts every process as the leader of a new session, so its
    process group holds exactly what it forked (BIRD under calico-node, for
    instance): signalling the group stops those descendants too.
    """
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _wait_gone(pid: int, started: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(pid, started):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL)
    return True


def terminate(pid: int, started: int, timeout: float = 3.0) -> bool:
    """Stop a process: SIGTERM, wait up to ``timeout``, then SIGKILL.

    Returns True if the process was running (and is now gone), False if it
    had already exited or the PID now belongs to someone else.
    """
    if not is_alive(pid, started):
        return False
    _signal(pid, signal.SIGTERM)
    if not _wait_gone(pid, started, timeout):
        _signal(pid, signal.SIGKILL)
        _wait_gone(pid, started, timeout)
    return True
