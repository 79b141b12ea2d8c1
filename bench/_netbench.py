"""Shared helpers for the felix, routing and CNI benchmarks.

Everything here works inside network namespaces a benchmark created through
``calico.lab`` (a :class:`~calico.lab.fabric.Fabric`, lab workloads, the
lab's :class:`~calico.lab.procs.ProcessManager`); nothing touches the root
namespace.  Pieces:

* :func:`lab_session` -- a uniquely named lab whose teardown runs in a
  ``finally``, whatever happened (Ctrl-C included);
* :class:`Iperf3` -- an ``iperf3`` server in one namespace, single-stream
  clients from another, bits/s parsed from ``-J`` output;
* :class:`Prober` -- a thread that lives inside a namespace (``setns`` moves
  only the calling thread) and keeps opening TCP connections to one address,
  recording when reachability flips; a refused connection (RST) counts as
  reachable, since the packets crossed the whole path both ways;
* :func:`http_get_in` -- an HTTP GET made from inside a namespace (felix's
  health port listens on the host namespace's loopback);
* small statistics (:func:`percentile`, :func:`describe`) and the machine
  line every benchmark prints first.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import socket
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the v3 fixture builders live in tests/unit/felix
    sys.path.insert(0, str(REPO))

from calico.cni.netns import entered  # noqa: E402
from calico.lab import netns  # noqa: E402
from calico.lab.fabric import Fabric  # noqa: E402
from calico.lab.procs import ProcessManager  # noqa: E402
from calico.lab.state import LabState, netns_name, teardown  # noqa: E402

VENV_BIN = Path(sys.executable).parent


# -- statistics and reporting ------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear interpolation between ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def describe(values: Sequence[float], scale: float = 1.0, unit: str = "", digits: int = 1) -> str:
    """``median / p90 / p99 (min-max, n=N)`` of ``values`` times ``scale``."""
    if not values:
        return "no samples"
    s = [v * scale for v in values]
    d = digits
    return (
        f"median {statistics.median(s):.{d}f}{unit}, p90 {percentile(s, 90):.{d}f}{unit}, "
        f"p99 {percentile(s, 99):.{d}f}{unit} (min {min(s):.{d}f}, max {max(s):.{d}f}, "
        f"n={len(s)})"
    )


def machine_line() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"machine: {platform.node()} kernel {platform.release()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load}"
    )


def banner(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.05) -> float:
    """Poll ``check`` until true; returns the seconds it took; TimeoutError after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


# -- labs ---------------------------------------------------------------------------


def unique_lab_name(prefix: str) -> str:
    """``<prefix><6 hex>``: a valid lab name no other run uses."""
    return f"{prefix}{secrets.token_hex(3)}"


@contextlib.contextmanager
def lab_session(prefix: str, hosts: int, subnets: int = 1) -> Iterator[Fabric]:
    """A fresh lab fabric, torn down (processes, namespaces, files) on exit."""
    name = unique_lab_name(prefix)
    try:
        yield Fabric.create(name, hosts, subnets)
    finally:
        teardown(name)


def netns_path(ns: str) -> str:
    return str(netns.NETNS_DIR / ns)


def raw_veth_pair(state: LabState, tag: str = "raw") -> tuple[str, str, str]:
    """Two bare lab namespaces joined by one veth pair, the reference path.

    Returns (client namespace, server namespace, server address).  They are
    named as lab workloads (``<lab>-wl-<tag>a``/``b``), so teardown removes them.
    """
    ns_a, ns_b = netns_name(state.name, f"wl-{tag}a"), netns_name(state.name, f"wl-{tag}b")
    for ns in (ns_a, ns_b):
        state.record_namespace(ns)
        netns.create(ns)
    netns.ip(ns_a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", ns_b)
    for ns, address in ((ns_a, "192.168.250.1/30"), (ns_b, "192.168.250.2/30")):
        netns.ip_batch(ns, [f"addr add {address} dev eth0", "link set eth0 up"])
    return ns_a, ns_b, "192.168.250.2"


# -- iperf3 -------------------------------------------------------------------------


class Iperf3:
    """An iperf3 server in ``server_ns`` bound to ``address``, run by the lab's PM."""

    def __init__(self, pm: ProcessManager, name: str, server_ns: str, address: str) -> None:
        self.pm, self.name, self.address = pm, f"iperf3-{name}", address
        pm.start(self.name, server_ns, ["iperf3", "-s", "-B", address])
        wait_for(
            f"iperf3 server on {address}",
            lambda: self._listening(server_ns),
            timeout=10.0,
        )

    def _listening(self, ns: str) -> bool:
        out = netns.run_in_ns(ns, ["ss", "-Htln", "sport = :5201"], check=False).stdout
        return bool(out.strip())

    def run(self, client_ns: str, seconds: float = 5.0, omit: int = 1) -> float:
        """One single-stream TCP test from ``client_ns``; the receiver's bits/s."""
        argv = ["iperf3", "-c", self.address, "-t", f"{seconds:g}", "-O", str(omit), "-J"]
        proc = netns.run_in_ns(client_ns, argv, check=False, timeout=seconds + omit + 30)
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            raise RuntimeError(
                f"iperf3 client: {proc.stderr.strip() or proc.stdout[:300]}"
            ) from None
        if "error" in report:
            raise RuntimeError(f"iperf3 client: {report['error']}")
        return float(report["end"]["sum_received"]["bits_per_second"])

    def stop(self) -> None:
        self.pm.stop(self.name)


def gbit(bps: float) -> str:
    return f"{bps / 1e9:.2f} Gbit/s"


# -- reachability -------------------------------------------------------------------


def tcp_reachable(address: str, port: int, timeout: float) -> bool:
    """One TCP connection attempt from the calling thread's namespace.

    Connection refused means the SYN reached the destination and its RST came
    back: the path (routes, policy) is open even if nothing listens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
        return True


def reachable_from(ns: str, address: str, port: int = 80, timeout: float = 0.5) -> bool:
    """One TCP attempt from inside ``ns`` (see :func:`tcp_reachable`)."""
    with entered(netns_path(ns)):
        return tcp_reachable(address, port, timeout)


@dataclass(frozen=True)
class Flip:
    """The first probe that saw a new state: when it started and what it saw."""

    at: float  # time.monotonic() when the attempt began
    reachable: bool


class Prober:
    """Keeps probing ``address:port`` from inside namespace ``ns`` on its own thread.

    Each attempt is a new TCP connection with ``timeout``; attempts start every
    ``interval`` seconds (or right after a timed-out one).  Every change of the
    observed state is appended to :attr:`flips`.
    """

    def __init__(
        self,
        ns: str,
        address: str,
        port: int = 80,
        *,
        timeout: float = 0.02,
        interval: float = 0.005,
    ) -> None:
        self.ns, self.address, self.port = ns, address, port
        self.timeout, self.interval = timeout, interval
        self.flips: list[Flip] = []
        self.state: bool | None = None
        self.attempts = 0
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"probe-{ns}", daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        with entered(netns_path(self.ns)):
            while not self._stop.is_set():
                started = time.monotonic()
                ok = tcp_reachable(self.address, self.port, self.timeout)
                self.attempts += 1
                if ok != self.state:
                    with self._changed:
                        self.state = ok
                        self.flips.append(Flip(started, ok))
                        self._changed.notify_all()
                delay = self.interval - (time.monotonic() - started)
                if delay > 0:
                    time.sleep(delay)

    def wait_state(self, reachable: bool, timeout: float) -> Flip:
        """Block until the prober's state is ``reachable``; the flip that made it so."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.state is not reachable:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{self.address}:{self.port} from {self.ns} not "
                        f"{'reachable' if reachable else 'blocked'} after {timeout}s"
                    )
                self._changed.wait(left)
            return self.flips[-1]


def first_reachable(
    ns: str, address: str, port: int = 80, *, timeout: float = 30.0, attempt: float = 0.02
) -> float:
    """Probe from ``ns`` until ``address:port`` answers; time.monotonic() of that attempt."""
    deadline = time.monotonic() + timeout
    with entered(netns_path(ns)):
        while True:
            started = time.monotonic()
            if tcp_reachable(address, port, attempt):
                return started
            if started > deadline:
                raise TimeoutError(f"{address}:{port} not reachable from {ns} after {timeout}s")
            time.sleep(max(0.0, 0.005 - (time.monotonic() - started)))


def http_get_in(ns: str, url: str, timeout: float = 1.0) -> tuple[int, bytes]:
    """GET ``url`` from inside ``ns``; (status, body), status 0 if it cannot connect."""
    with entered(netns_path(ns)):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read()
        except OSError:
            return 0, b""


# -- processes ----------------------------------------------------------------------


def proc_status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM...); 0 if gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid: int) -> tuple[float, float]:
    """(own, reaped children's) user+system CPU seconds of ``pid``; zeros if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0, 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / tick, (cutime + cstime) / tick
