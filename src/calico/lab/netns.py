"""Named network namespaces: create, destroy, run commands inside, sysctls.

Everything goes through iproute2 (``ip netns ...``, ``ip -n NS ...``) rather
than pyroute2: the commands are what an operator would type to inspect the
lab, their error messages are clear, and each costs 2-4 ms, which is nothing
next to what the lab does with them.

``ip netns exec NS CMD`` enters the namespace, remounts ``/sys`` for it and
then *execs* CMD, so the PID of the child is the PID of CMD itself; the
process manager relies on that to record the right PID.

Sysctls deserve care: inside a network namespace some keys are read-only
(``net.core.rmem_max``, ``net.netfilter.nf_conntrack_max``) and
``sysctl -w`` prints an error yet still exits 0 (MACHINE.md). A write is
therefore only trusted after reading the value back.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from calico.errors import CommandFailedError, DataplaneError
from calico.lab import _pids

NETNS_DIR = Path("/run/netns")
DEFAULT_TIMEOUT = 30.0


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; raise CommandFailedError on a non-zero exit."""
    proc = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise CommandFailedError(argv, proc.returncode, proc.stderr, input)
    return proc


def exec_argv(ns: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` inside ``ns`` (and becomes it, by exec)."""
    return ["ip", "netns", "exec", ns, *argv]


def run_in_ns(
    ns: str,
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside namespace ``ns`` and wait for it."""
    return run(exec_argv(ns, argv), check=check, input=input, timeout=timeout)


def ip(ns: str, *args: str, check: bool = True) -> str:
    """Run ``ip -n ns ARGS...`` and return its stdout."""
    return run(["ip", "-n", ns, *args], check=check).stdout


def ip_batch(ns: str, commands: Iterable[str]) -> None:
    """Run several ``ip`` commands in ``ns`` with one process (``ip -batch``).

    iproute2 stops at the first failing line and names it on stderr.
    """
    run(["ip", "-n", ns, "-batch", "-"], input="".join(f"{c}\n" for c in commands))


def exists(ns: str) -> bool:
    return (NETNS_DIR / ns).exists()


def list_netns() -> list[str]:
    """Names of all named namespaces (``ip netns list`` may append ``(id: N)``)."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def create(ns: str) -> None:
    """Create the namespace and bring its loopback up.

    Loopback starts down in a fresh namespace; nearly everything (BIRD's
    control socket aside, which is a Unix socket) expects it up.
    """
    run(["ip", "netns", "add", ns])
    ip(ns, "link", "set", "lo", "up")


def pids(ns: str) -> list[int]:
    """PIDs of processes whose network namespace is ``ns``."""
    if not exists(ns):
        return []
    out = run(["ip", "netns", "pids", ns], check=False).stdout
    return [int(tok) for tok in out.split()]


def destroy(ns: str, timeout: float = 3.0) -> None:
    """Stop every process inside ``ns``, then delete it. Absent is fine.

    ``ip netns delete`` only unmounts the name: a namespace lives on,
    anonymous but with all its interfaces and routes, while any process is
    still inside it. So its processes go first. They can only have been
    started by the lab, whose namespace names are its own.
    """
    for pid in pids(ns):
        started = _pids.start_time(pid)
        if started is not None:
            _pids.terminate(pid, started, timeout)
    if exists(ns):
        run(["ip", "netns", "delete", ns])


def read_sysctls(ns: str, keys: Iterable[str]) -> dict[str, str]:
    """Current values of ``keys`` in ``ns``; keys that do not exist are absent."""
    out = run_in_ns(ns, ["sysctl", *keys], check=False).stdout
    values: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            values[key.strip()] = value.strip()
    return values


def set_sysctls(ns: str, values: Mapping[str, int | str]) -> None:
    """Write sysctls in ``ns`` and verify every one by reading it back."""
    if not values:
        return
    run_in_ns(ns, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in values.items())], check=False)
    actual = read_sysctls(ns, values)
    for key, wanted in values.items():
        got = actual.get(key)
        if got != str(wanted):
            raise DataplaneError(
                f"sysctl {key} in netns {ns}: wrote {wanted}, reads back "
                f"{got if got is not None else '(no such key)'}"
            )
