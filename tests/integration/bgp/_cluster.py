"""A lab cluster running the real calico-bgp and BIRD on every host.

One sqlite datastore (a file) is shared by the test and by a ``calico-bgp``
daemon per host; each host namespace runs ``bird -f -R`` on the config its
daemon writes.  Sockets and configs live under a short directory in /tmp:
a UNIX socket path must fit in 108 bytes, which pytest's tmp_path may not.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from calico.bgp.bird_process import bird_argv, wait_ready
from calico.bgp.birdcl import BirdClient, ProtocolRow
from calico.datastore.keys import resource_key
from calico.datastore.sqlite import SqliteDatastore
from calico.ipam import IPAMClient
from calico.lab import netns
from calico.lab.fabric import Fabric
from calico.lab.hosts import Host
from calico.lab.procs import ProcessManager
from calico.lab.workload import Workload, create_workload, start_server

POOL_CIDR = "10.48.0.0/16"
CONVERGE_TIMEOUT = 20.0


def wait_for(what: str, check: Callable[[], bool], timeout: float = CONVERGE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class BgpCluster:
    def __init__(self, fab: Fabric) -> None:
        self.fab = fab
        self.pm = ProcessManager(fab.state)
        self.dir = Path(tempfile.mkdtemp(prefix="cbgp-"))
        self.db_path = self.dir / "calico.db"
        self.ds = SqliteDatastore(str(self.db_path))
        self.ctl_config = self.dir / "calicoctl.cfg"
        self.ctl_config.write_text(
            "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\n"
            f"spec:\n  datastoreType: sqlite\n  sqlitePath: {self.db_path}\n"
        )
        self.ipam = IPAMClient(self.ds)

    def close(self) -> None:
        self.fab.teardown()  # stops daemons and BIRDs, deletes namespaces (and routes)
        self.ds.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- datastore -----------------------------------------------------------

    def put(self, kind: str, name: str, spec: dict[str, Any], **meta: Any) -> None:
        doc = {"apiVersion": "projectcalico.org/v3", "kind": kind,
               "metadata": {"name": name, **meta}, "spec": spec}  # fmt: skip
        self.ds.put(resource_key(kind, name), json.dumps(doc))

    def delete(self, kind: str, name: str) -> None:
        self.ds.delete(resource_key(kind, name))

    def add_nodes(self, labels: dict[str, dict[str, str]] | None = None, **bgp: Any) -> None:
        """A Node per host, its BGP address its fabric address."""
        for h in self.fab.hosts:
            extra = bgp.get(h.name, {})
            meta = {"labels": (labels or {})[h.name]} if labels and h.name in labels else {}
            self.put("Node", h.name, {"bgp": {"ipv4Address": h.cidr, **extra}}, **meta)

    def add_pool(self, cidr: str = POOL_CIDR, **spec: Any) -> None:
        self.put("IPPool", cidr.replace("/", "-"), {"cidr": cidr, "blockSize": 26, **spec})

    def assign(self, host: Host, handle: str) -> str:
        """One IPv4 address for ``host`` from IPAM (claims a block on first use)."""
        v4, _ = self.ipam.auto_assign(1, 0, handle, {"node": host.name}, host.name)
        return v4[0].split("/")[0]

    def blocks(self, host: Host) -> list[str]:
        items, _ = self.ds.list(f"/calico/ipam/v2/host/{host.name}/ipv4/block/")
        return [kv.key.rsplit("/", 1)[1].replace("-", "/") for kv in items]

    # -- processes -----------------------------------------------------------

    def host_dir(self, host: Host) -> Path:
        path = self.dir / host.name
        path.mkdir(exist_ok=True)
        return path

    def config_path(self, host: Host) -> Path:
        return self.host_dir(host) / "bird.cfg"

    def socket(self, host: Host) -> str:
        return str(self.host_dir(host) / "bird.ctl")

    def start_agent(self, host: Host) -> None:
        """Run calico-bgp for ``host``; returns once it has written the config."""
        argv = [sys.executable, "-m", "calico.bgp.main", "--node", host.name,
                "--config-dir", str(self.host_dir(host)), "--socket", self.socket(host),
                "-c", str(self.ctl_config)]  # fmt: skip
        self.pm.start(f"bgp-{host.name}", host.netns, argv, ready_file=self.config_path(host))

    def agent_log(self, host: Host) -> str:
        return self.pm.log_path(f"bgp-{host.name}").read_text()

    def start_bird(self, host: Host) -> None:
        pidfile = self.host_dir(host) / "bird.pid"
        argv = bird_argv(self.config_path(host), self.socket(host), pidfile)
        self.pm.start(f"bird-{host.name}", host.netns, argv)
        wait_ready(self.socket(host), timeout=10.0)

    def start_all(self) -> None:
        for h in self.fab.hosts:
            self.start_agent(h)
        for h in self.fab.hosts:
            self.start_bird(h)

    # -- observing -----------------------------------------------------------

    def protocols(self, host: Host) -> dict[str, ProtocolRow]:
        with BirdClient(self.socket(host)) as bird:
            return {row.name: row for row in bird.show_protocols()}

    def bgp_sessions(self, host: Host) -> dict[str, str]:
        """BGP protocol name -> its info column (``Established`` when up)."""
        rows = self.protocols(host).values()
        return {r.name: r.info for r in rows if r.proto == "BGP"}

    def wait_established(self, host: Host, names: set[str]) -> None:
        def up() -> bool:
            sessions = self.bgp_sessions(host)
            return set(sessions) == names and all(
                s.startswith("Established") for s in sessions.values()
            )

        wait_for(f"sessions {sorted(names)} Established on {host.name}", up)

    def routes(self, host: Host) -> list[dict[str, Any]]:
        return host.routes()

    def bird_routes(self, host: Host) -> set[str]:
        """``(blackhole|unicast) <dst> [via <gw>]`` for every route BIRD put in the kernel."""
        found = set()
        for r in self.routes(host):
            if r.get("protocol") == "bird":
                kind = r.get("type", "unicast")
                via = f" via {r['gateway']}" if "gateway" in r else ""
                found.add(f"{kind} {r['dst']}{via}")
        return found

    def wait_routes(self, host: Host, wanted: set[str]) -> None:
        """Until the routes BIRD put in ``host``'s kernel are exactly ``wanted``."""
        wait_for(f"BIRD routes {sorted(wanted)} on {host.name}",
                 lambda: self.bird_routes(host) == wanted)  # fmt: skip

    def workload(self, host: Host, name: str, ip: str) -> Workload:
        wl = create_workload(self.fab.state, host, name, ip)
        start_server(self.pm, wl)
        return wl

    def kill_bird(self, host: Host) -> None:
        """SIGKILL, as a crash: BIRD gets no chance to withdraw anything."""
        name = f"bird-{host.name}"
        rec = self.pm.get(name)
        assert rec is not None
        os.kill(rec.pid, signal.SIGKILL)  # a process this test started
        wait_for("BIRD to die", lambda: not self.pm.is_alive(name), 5.0)
        self.pm.stop(name)  # reaps it and forgets the record

    def ip_route_get(self, host: Host, dst: str) -> str:
        return netns.ip(host.netns, "route", "get", dst)
