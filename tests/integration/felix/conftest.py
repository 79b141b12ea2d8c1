"""A harness for felix integration tests: lab hosts running the real ``calico-felix``.

Each lab host (a network namespace, see ``calico.lab``) gets workloads wired
the way the CNI plugin wires pods, and felix runs as a real process inside
the host namespace (``ip netns exec <host> python -m calico.felix.main``)
against a real datastore: a sqlite file, or etcd running in the lab's
gateway namespace (reached over the fabric, as on a real cluster).

Fixtures:

* ``felix_lab_factory(hosts=1, subnets=1, datastore="sqlite")`` builds a
  :class:`FelixLab`, torn down at the end of the *module*;
* ``felix_host``: one host (``host1``) of a module-wide single-host lab,
  with the profile ``allow-all`` and the Node already written.

A :class:`FelixHost` adds workloads (``add_workload``), writes resources
(``apply``/``delete``, v3 dicts), starts and stops felix (``start_felix``,
``stop_felix``, ``restart_felix``), probes (``probe``), and runs commands in
the host (``run``, ``iptables``).  :func:`eventually` / :func:`consistently`
turn probes into assertions that tolerate propagation delays.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from calico.client import Client
from calico.cni.netns import entered
from calico.datastore import Datastore
from calico.datastore.config import DatastoreConfig, open_datastore
from calico.datastore.etcd_server import EtcdServer
from calico.lab import netns
from calico.lab.fabric import Fabric
from calico.lab.hosts import Host
from calico.lab.probe import probe
from calico.lab.procs import ProcessManager
from calico.lab.workload import Workload, create_workload, delete_workload, start_server
from calico.resources import parse_resource
from tests.etcd_fixture import tmp_parent
from tests.integration.lab.conftest import unique_lab_name

POOL_CIDR = "10.65.0.0/16"
HEALTH_PORT = 9099
# Short refresh intervals, so that drift repair shows within a test.
FAST_REFRESH = {
    "FELIX_IPTABLESREFRESHINTERVAL": "2",
    "FELIX_IPSETSREFRESHINTERVAL": "2",
    "FELIX_ROUTEREFRESHINTERVAL": "2",
    "FELIX_REPORTINGINTERVALSECS": "1",
}
_FOREIGN_ENV = ("FELIX_", "DATASTORE_", "ETCD_", "CALICO_", "NODENAME")

ALLOW_ALL_PROFILE = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "Profile",
    "metadata": {"name": "allow-all"},
    "spec": {"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]},
}


def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Assert that ``check()`` becomes true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def consistently(check: Callable[[], bool], what: str, duration: float = 2.0) -> None:
    """Assert that ``check()`` stays true for ``duration`` seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert check(), f"{what} stopped holding"
        time.sleep(0.1)


def resource(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


class FelixProcess:
    """One calico-felix process inside a host namespace (we started it: we stop it)."""

    def __init__(self, host: Host, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                netns.exec_argv(host.netns, [sys.executable, "-m", "calico.felix.main"]),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal felix and wait; returns its exit status (SIGKILL after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class FelixLab:
    """A fabric, one datastore, and a :class:`FelixHost` per lab host."""

    def __init__(self, root: Path, hosts: int, subnets: int, datastore: str) -> None:
        self.root = root
        self.fabric = Fabric.create(unique_lab_name(), hosts, subnets, root=root)
        self.pm = ProcessManager(self.fabric.state)
        self.etcd: EtcdServer | None = None
        self.store_netns: str | None = None
        self.hosts: dict[str, FelixHost] = {}
        try:
            self._setup(root, datastore)
        except BaseException:
            self.close()
            raise

    def _setup(self, root: Path, datastore: str) -> None:
        if datastore == "etcdv3":
            gw = self.fabric.plan.gateway(0)
            self.etcd = EtcdServer(gw, netns=self.fabric.gateway_netns, tmp_parent=tmp_parent())
            self.etcd.start()
            self.store_netns = self.fabric.gateway_netns
            self.datastore_env = {"DATASTORE_TYPE": "etcdv3", "ETCD_ENDPOINTS": self.etcd.endpoint}
        else:
            db = root / f"{self.fabric.name}.db"
            self.datastore_env = {"DATASTORE_TYPE": "sqlite", "CALICO_SQLITE_PATH": str(db)}
        self.hosts = {h.name: FelixHost(self, h) for h in self.fabric.hosts}
        self.apply(ALLOW_ALL_PROFILE)
        for h in self.fabric.hosts:
            self.apply(resource("Node", h.name, {"bgp": {"ipv4Address": h.cidr}}))

    def close(self) -> None:
        for host in self.hosts.values():
            host.stop_felix()
        self.fabric.teardown()
        if self.etcd is not None:
            self.etcd.stop()

    # --- the datastore, from the test process ---------------------------------------------

    @contextlib.contextmanager
    def datastore(self) -> Iterator[Datastore]:
        """The lab's datastore for the block (inside the gateway namespace for etcd:
        ``setns`` moves only this thread, so every connection is made there)."""
        path = str(netns.NETNS_DIR / self.store_netns) if self.store_netns else None
        with entered(path) if path else contextlib.nullcontext():
            store = open_datastore(DatastoreConfig.from_env(self.datastore_env))
            try:
                yield store
            finally:
                store.close()

    def apply(self, *docs: dict[str, Any]) -> None:
        with self.datastore() as store:
            client = Client(store)
            for doc in docs:
                client.apply(parse_resource(doc))

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        with self.datastore() as store:
            Client(store).delete(kind, name, namespace)

    def put_raw(self, key: str, value: dict[str, Any]) -> None:
        with self.datastore() as store:
            store.put(key, json.dumps(value))

    def get_raw(self, key: str) -> dict[str, Any] | None:
        with self.datastore() as store:
            kv = store.get(key)
        return None if kv is None else dict(json.loads(kv.value))

    def keys(self, prefix: str) -> list[str]:
        with self.datastore() as store:
            return sorted(kv.key for kv in store.list(prefix)[0])


class FelixHost:
    def __init__(self, lab: FelixLab, host: Host) -> None:
        self.lab = lab
        self.host = host
        self.name = host.name
        self.number = int(host.name.removeprefix("host"))
        self.workloads: dict[str, Workload] = {}
        self.felix: FelixProcess | None = None
        self._next_ip = 2
        self._starts = 0

    # --- workloads ----------------------------------------------------------------------------

    @property
    def block(self) -> str:
        """This host's /26 of the pool (10.65.<host>.0/26)."""
        return f"10.65.{self.number}.0/26"

    def add_workload(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        profiles: tuple[str, ...] = ("allow-all",),
        namespace: str = "default",
        endpoint: bool = True,
        **spec: Any,
    ) -> Workload:
        """A workload with a server on TCP/UDP 80 and 81; with ``endpoint`` its
        WorkloadEndpoint is written too (extra ``spec`` fields go into it)."""
        ip = f"10.65.{self.number}.{self._next_ip}"
        self._next_ip += 1
        wl = create_workload(self.lab.fabric.state, self.host, name, ip)
        self.workloads[name] = wl
        start_server(self.lab.pm, wl)
        if endpoint:
            self.lab.apply(self.endpoint_doc(wl, labels or {}, profiles, namespace, **spec))
        return wl

    def endpoint_doc(
        self,
        wl: Workload,
        labels: dict[str, str],
        profiles: tuple[str, ...],
        namespace: str = "default",
        **spec: Any,
    ) -> dict[str, Any]:
        segments = [s.replace("-", "--") for s in (self.name, "k8s", wl.name, "eth0")]
        body = {
            "orchestrator": "k8s",
            "node": self.name,
            "pod": wl.name,
            "endpoint": "eth0",
            "interfaceName": wl.host_ifname,
            "ipNetworks": [f"{wl.ip}/32"],
            "profiles": list(profiles),
            **spec,
        }
        name = "-".join(segments)
        return resource("WorkloadEndpoint", name, body, namespace=namespace, labels=labels)

    def remove_workload(self, name: str) -> None:
        wl = self.workloads.pop(name)
        self.lab.pm.stop(f"server-{name}")
        delete_workload(self.lab.fabric.state, wl)

    # --- felix ----------------------------------------------------------------------------------

    def felix_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
        return {
            **env,
            **self.lab.datastore_env,
            "NODENAME": self.name,
            "CALICO_FELIX_CONFIG_FILE": "/nonexistent/felix.cfg",
            "FELIX_HEALTHENABLED": "true",
            "FELIX_HEALTHHOST": "127.0.0.1",
            "FELIX_HEALTHPORT": str(HEALTH_PORT),
            "PYTHONUNBUFFERED": "1",
            **FAST_REFRESH,
            **(extra or {}),
        }

    def start_felix(self, env: dict[str, str] | None = None, *, wait: bool = True) -> None:
        assert self.felix is None or not self.felix.running, "felix is already running"
        self._starts += 1
        log = self.lab.root / f"felix-{self.lab.fabric.name}-{self.name}-{self._starts}.log"
        self.felix = FelixProcess(self.host, self.felix_env(env), log)
        if wait:
            eventually(self.ready, f"felix on {self.name} to be ready", timeout=30)

    def stop_felix(self, sig: int = signal.SIGTERM) -> int | None:
        if self.felix is None:
            return None
        return self.felix.stop(sig)

    def restart_felix(self, env: dict[str, str] | None = None) -> None:
        self.stop_felix()
        self.start_felix(env)

    def health(self, path: str) -> tuple[int, dict[str, Any]]:
        """GET the health endpoint inside the host namespace: (status, body)."""
        url = f"http://127.0.0.1:{HEALTH_PORT}{path}"
        with entered(str(netns.NETNS_DIR / self.host.netns)):
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read() or b"{}")
            except OSError:
                return 0, {}

    def ready(self) -> bool:
        if self.felix is not None and not self.felix.running:
            raise AssertionError(
                f"felix exited ({self.felix.proc.returncode}):\n{self.felix.log()}"
            )
        return self.health("/readiness")[0] == 200

    # --- inspection ------------------------------------------------------------------------------

    def run(self, *argv: str, check: bool = True) -> str:
        return self.host.run(list(argv), check=check).stdout

    def iptables(self, *args: str, check: bool = True) -> str:
        return self.run("iptables", *args, check=check)

    def probe(self, src: Workload, dst: Workload | str, port: int = 80, proto: str = "tcp") -> bool:
        ip = dst if isinstance(dst, str) else dst.ip
        return probe(src.netns, ip, port, proto, timeout=0.5)


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def felix_lab_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., FelixLab]]:
    labs: list[FelixLab] = []

    def build(hosts: int = 1, subnets: int = 1, datastore: str = "sqlite") -> FelixLab:
        root = tmp_path_factory.mktemp("felixlab")
        lab = FelixLab(root, hosts, subnets, datastore)  # tears itself down if it fails
        labs.append(lab)
        return lab

    yield build
    for lab in labs:
        with contextlib.suppress(Exception):
            lab.close()


@pytest.fixture(scope="module")
def felix_host(felix_lab_factory: Callable[..., FelixLab]) -> FelixHost:
    return felix_lab_factory().hosts["host1"]
