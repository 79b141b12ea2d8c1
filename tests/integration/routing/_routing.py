"""A lab cluster seen from the routing side: kernel routes, BGP sessions, probes.

``RoutingLab`` wraps a ``calico.lab.cluster.Lab`` that is up (a real
calico-node -- felix, calico-bgp, BIRD -- in every host namespace, one sqlite
datastore) and adds what the routing tests look at:

* workloads made through the real CNI plugin (``calico.lab.cni_runtime``);
* the blocks IPAM made affine to each host, read from the datastore;
* each host's kernel routes (``ip -j route``), in one-line text form, e.g.
  ``10.244.3.64/26 via 10.99.7.2 dev eth0 proto bird`` or
  ``blackhole 10.244.9.0/26 proto bird``;
* BGP sessions as ``calicoctl node status`` reads them (BIRD's socket);
* ``calicoctl`` itself, run against the lab's datastore, inside a host
  namespace when it asks BIRD.

Everything converges asynchronously, so checks poll (``wait_for``) instead of
sleeping, and a timeout says what was expected and what was last seen.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from calico.bgp.birdcl import BirdClient, BirdError
from calico.bgp.status import PeerStatus, query_peers
from calico.client import Client
from calico.ipam.keys import host_affinity_prefix
from calico.lab import cni_runtime, matrix, netns
from calico.lab.cluster import Lab, open_client
from calico.lab.hosts import Host
from calico.lab.workload import Workload

CONVERGE_TIMEOUT = 30.0
CALICOCTL = str(Path(sys.executable).parent / "calicoctl")
ECHO = str(Path(__file__).with_name("_echo.py"))
ECHO_PORT = 8080
MESH = "node-to-node mesh"
_T = TypeVar("_T")
_NET = re.compile(r"\d+\.\d+\.\d+\.\d+/\d+ ")


def wait_for(
    what: str,
    check: Callable[[], _T],
    timeout: float = CONVERGE_TIMEOUT,
    seen: Callable[[], object] | None = None,
) -> _T:
    """Poll ``check`` until it returns something truthy; that value is returned.

    On timeout the AssertionError names ``what`` and, if given, what ``seen``
    reports at that moment (the state that did not converge).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            last = f"; last seen: {seen()}" if seen is not None else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{last}")
        time.sleep(0.1)


def status_rows(out: str) -> dict[str, list[str]]:
    """``calicoctl node status``'s table rows: peer address -> its five cells."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 5 and cells[0] != "PEER ADDRESS":
            rows[cells[0]] = cells
    return rows


def route_text(route: Mapping[str, Any]) -> str:
    """One ``ip -j route`` object as a stable line (metric and scope left out)."""
    parts = [route["dst"]]
    if route.get("type", "unicast") != "unicast":
        parts.insert(0, route["type"])
    if "gateway" in route:
        parts += ["via", route["gateway"]]
    if "dev" in route:
        parts += ["dev", route["dev"]]
    parts += ["proto", str(route.get("protocol", "boot"))]
    parts += [flag for flag in route.get("flags", []) if flag == "onlink"]
    return " ".join(parts)


class RoutingLab:
    """A lab that is up, plus its workloads (name -> Workload)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.workloads: dict[str, Workload] = {}

    @property
    def name(self) -> str:
        return self.lab.name

    @property
    def hosts(self) -> list[Host]:
        return self.lab.hosts

    def host(self, name: str) -> Host:
        return self.lab.host(name)

    def others(self, host: Host) -> list[Host]:
        return [h for h in self.hosts if h != host]

    # -- datastore ---------------------------------------------------------------

    @contextlib.contextmanager
    def client(self) -> Iterator[Client]:
        with open_client(self.lab) as client:
            yield client

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        with self.client() as client:
            return client.get(kind, name).to_dict()

    def blocks(self, host: Host) -> set[str]:
        """The IPv4 blocks whose affinity to ``host`` is confirmed."""
        prefix = host_affinity_prefix(host.name, 4)
        with self.client() as client:
            items, _ = client.datastore.list(prefix)
        return {
            kv.key[len(prefix) :].replace("-", "/")
            for kv in items
            if json.loads(kv.value).get("state", "confirmed") == "confirmed"
        }

    def ctl_env(self) -> dict[str, str]:
        return {**os.environ, **self.lab.datastore_env()}

    def calicoctl(
        self, *args: str, host: Host | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run calicoctl on the lab's datastore; in ``host``'s namespace, with its
        BIRD socket, when given. Raises on a non-zero exit, with its stderr."""
        argv = [CALICOCTL, *args]
        env = self.ctl_env()
        if host is not None:
            argv = netns.exec_argv(host.netns, argv)
            env["CALICO_BIRD_SOCKET"] = self.lab.bird_socket(host)
        proc = subprocess.run(
            argv, input=stdin, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0, f"calicoctl {' '.join(args)}: {proc.stderr or proc.stdout}"
        return proc

    # -- workloads ---------------------------------------------------------------

    def add_workload(self, host: str, name: str) -> Workload:
        """A pod on ``host`` through the real CNI plugin (and calico-ipam)."""
        wl = cni_runtime.add_container(self.lab, host, name)
        self.workloads[name] = wl
        return wl

    def unreachable(self, workloads: Iterable[Workload] | None = None) -> list[str]:
        """``src -> dst`` for every ordered pair whose TCP probe fails."""
        result = matrix.run(list(workloads or self.workloads.values()), port=80, timeout=1.0)
        return [
            f"{s} -> {d}" for s, row in result.results.items() for d, ok in row.items() if not ok
        ]

    def wait_reachable(self, workloads: Iterable[Workload] | None = None) -> None:
        """Until every ordered pair of workloads reaches the other on TCP 80."""
        chosen = list(workloads or self.workloads.values())
        failing: list[str] = []

        def check() -> bool:
            failing[:] = self.unreachable(chosen)
            return not failing

        wait_for("every workload pair to connect", check, seen=lambda: failing)

    # -- kernel routes -----------------------------------------------------------

    def routes(self, host: Host, *selector: str) -> list[str]:
        """``host``'s main IPv4 table (``ip -j route show SELECTOR``), as lines.

        A selector naming a field (``proto bird``) removes that field from the
        output, so filter by prefix only and look at the text.
        """
        raw = json.loads(host.ip_cmd("-j", "route", "show", *selector) or "[]")
        return sorted(route_text(r) for r in raw)

    def bird_routes(self, host: Host) -> set[str]:
        # Not ``ip route show proto bird``: a selector's fields drop out of the JSON.
        return {r for r in self.routes(host) if r.endswith(" proto bird") or " proto bird " in r}

    def expected_bird_routes(self, host: Host) -> set[str]:
        """Own blocks as blackholes; every other host's blocks via its fabric IP."""
        wanted = {f"blackhole {b} proto bird" for b in self.blocks(host)}
        for other in self.others(host):
            wanted |= {
                f"{b} via {other.ip} dev {host.ifname} proto bird" for b in self.blocks(other)
            }
        return wanted

    def wait_bird_routes(self, hosts: Iterable[Host] | None = None) -> None:
        for host in hosts or self.hosts:
            self._wait_host_bird_routes(host)

    def _wait_host_bird_routes(self, host: Host) -> None:
        wait_for(
            f"BIRD routes on {host.name} to be exactly the blocks",
            lambda: self.bird_routes(host) == self.expected_bird_routes(host),
            seen=lambda: (sorted(self.bird_routes(host)), sorted(self.expected_bird_routes(host))),
        )

    def bird_config(self, host: Host) -> str:
        """The ``bird.cfg`` calico-bgp rendered for ``host``."""
        return (self.lab.host_dir(host) / "bird" / "bird.cfg").read_text()

    def route_get(self, host: Host, dst: str) -> str:
        return host.ip_cmd("route", "get", dst).splitlines()[0]

    # -- BGP -------------------------------------------------------------------------

    def peers(self, host: Host) -> dict[str, PeerStatus]:
        """``calicoctl node status``'s rows for ``host``, by peer IP ({} if BIRD is down)."""
        try:
            return {p.peer_ip: p for p in query_peers([self.lab.bird_socket(host)])}
        except OSError:
            return {}

    def sessions(self, host: Host) -> dict[str, tuple[str, str]]:
        """Peer IP -> (peer type, BGP state: Established, Active, Connect, ...)."""
        return {ip: (p.peer_type, p.bgp_state) for ip, p in self.peers(host).items()}

    def wait_sessions(self, host: Host, wanted: Mapping[str, str]) -> None:
        """Until ``host``'s peers are exactly ``wanted`` (IP -> peer type), all Established."""
        expected = {ip: (kind, "Established") for ip, kind in wanted.items()}
        wait_for(
            f"BGP sessions of {host.name}: {expected}",
            lambda: self.sessions(host) == expected,
            seen=lambda: self.sessions(host),
        )

    def wait_mesh(self) -> None:
        for host in self.hosts:
            self.wait_sessions(host, {o.ip: MESH for o in self.others(host)})

    def bird_knows(self, host: Host, net: str) -> bool:
        """Whether ``host``'s BIRD has a route for exactly ``net`` (any source)."""
        try:
            with BirdClient(self.lab.bird_socket(host)) as bird:
                texts = bird.show_route(net).texts()
        except BirdError:  # 8001 Network not found
            return False
        return any(t.split()[:1] == [net] for t in texts)

    def bird_exports(self, host: Host, protocol: str) -> set[str]:
        """The networks ``host``'s BIRD exports to ``protocol`` (its filter applied now)."""
        with BirdClient(self.lab.bird_socket(host)) as bird:
            texts = bird.show_route(f"export {protocol}").texts()
        return {t.split()[0] for t in texts if _NET.match(t)}

    def node_status(self, host: Host) -> str:
        """``calicoctl node status`` run inside ``host`` against its own BIRD."""
        return self.calicoctl("node", "status", host=host).stdout

    # -- calico-node and its children -----------------------------------------------

    def node_status_file(self, host: Host) -> dict[str, Any]:
        return dict(json.loads(self.lab.node_status_path(host).read_text()))

    def child(self, host: Host, name: str) -> dict[str, Any]:
        return dict(self.node_status_file(host)["children"][name])

    def kill_child(self, host: Host, name: str) -> dict[str, Any]:
        """SIGKILL calico-node's child ``name`` on ``host``, as a crash; wait until
        calico-node has started a new one; returns its status entry."""
        before = self.child(host, name)
        assert before["running"], before
        # The pid is this lab's calico-node's child only while its start time
        # is the one calico-node recorded: never signal a reused pid.
        assert start_ticks(before["pid"]) == before["start_time"], before
        os.kill(before["pid"], signal.SIGKILL)
        return wait_for(
            f"calico-node on {host.name} to restart {name}",
            lambda: (c := self.child(host, name))["running"] and c["pid"] != before["pid"] and c,
            seen=lambda: self.child(host, name),
        )

    def wait_child_ready(self, host: Host, name: str) -> None:
        wait_for(
            f"{name} on {host.name} ready",
            lambda: self.child(host, name)["ready"],
            seen=lambda: self.child(host, name),
        )

    def log(self, host: Host, child: str) -> str:
        return self.child_log_path(host, child).read_text(errors="replace")

    def child_log_path(self, host: Host, child: str) -> Path:
        return self.lab.host_dir(host) / "logs" / f"{child}.log"

    def node_log(self, host: Host) -> str:
        return self.lab.node_log(host).read_text(errors="replace")


def start_ticks(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time since boot); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


class EchoConnection:
    """An established TCP connection from one workload to another's echo server."""

    def __init__(self, src: Workload, dst: Workload, port: int = ECHO_PORT) -> None:
        argv = netns.exec_argv(src.netns, [sys.executable, ECHO, "client", dst.ip, str(port)])
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        try:
            self.first = wait_for("the echo connection to carry data", self._counted, 10.0)
        except BaseException:
            self.close()
            raise

    def _counted(self) -> dict[str, Any]:
        stats = self.stats()
        return stats if stats["count"] > 0 else {}

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"echo client exited with {self.proc.returncode}")
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def assert_alive(self, max_gap: float) -> dict[str, Any]:
        """Still the same connection, still echoing, never silent for ``max_gap`` s."""
        before = self.stats()
        now = wait_for(
            "more round trips on the connection",
            lambda: (s := self.stats())["count"] > before["count"] and s,
            timeout=5.0,
        )
        assert now["error"] is None, now
        assert now["local_port"] == self.first["local_port"], (self.first, now)
        assert now["max_gap"] < max_gap, f"the connection stalled: {now}"
        return now

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # EOF: the client closes its socket and exits
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_echo_server(lab: RoutingLab, wl: Workload, port: int = ECHO_PORT) -> None:
    name = f"echo-{wl.name}"
    ready = lab.lab.pm.pidfile(name).with_suffix(".ready")
    argv = [sys.executable, ECHO, "server", "--port", str(port), "--ready-file", str(ready)]
    lab.lab.pm.start(name, wl.netns, argv, ready_file=ready)


def in_network(ip: str, cidrs: Iterable[str]) -> bool:
    address = ipaddress.IPv4Address(ip)
    return any(address in ipaddress.IPv4Network(c) for c in cidrs)
