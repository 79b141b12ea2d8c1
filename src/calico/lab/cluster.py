"""A lab cluster: the fabric, one datastore, a real calico-node on every host.

``up(config)`` builds, in order, and records each piece in the lab state
before it exists (so ``down`` finds everything even after a crashed ``up``):

1. the fabric (``Fabric.create``): ``host1..hostK`` on one or two subnets;
2. the datastore: a sqlite file in the lab's state dir, which every host
   opens directly because namespaces share the file system; or, with
   ``etcdv3``, a real etcd in the lab's gateway namespace (below);
3. ``calico-node`` per host, started by the ProcessManager inside the host's
   namespace, with its own state dir (node name, MTU file, ``status.json``),
   log dir, BIRD config dir and BIRD control socket under
   ``<state dir>/<host>/``; its environment is exactly the node's settings,
   never the caller's ``DATASTORE_TYPE`` / ``ETCD_*`` / ``FELIX_*``;
4. the Kubernetes ``default`` namespace (profile ``kns.default``), as every
   Kubernetes cluster has one;
5. a wait (``health.wait_ready``) until every node reports ready and,
   when BGP runs, every host has an Established session with every other
   host (a full mesh).

Encapsulation (``--encap``) maps to the default pool calico-node creates:

=======  ==========================  =====================================
encap    pool (1 subnet / 2 subnets)  routing between hosts
=======  ==========================  =====================================
none     no encapsulation             BGP (BIRD) routes per block
vxlan    VXLAN Always / CrossSubnet   felix's VXLAN routes; no BGP (as
                                      Calico's ``CALICO_NETWORKING_BACKEND
                                      =vxlan`` manifests)
ipip     IPIP Always / CrossSubnet    BGP; refused where the kernel has no
                                      IPIP (it is checked first, in host1)
=======  ==========================  =====================================

With two subnets and ``none`` the router between them does not carry
workload routes (it is the "rest of the data centre"), so workloads on
different subnets cannot reach each other: ``up`` says so and suggests
``--encap vxlan``, whose CrossSubnet mode encapsulates exactly that traffic.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calico.bgp.status import PeerStatus, query_peers
from calico.cni.netns import entered
from calico.datastore.config import DatastoreConfig, open_datastore
from calico.errors import (
    CalicoError,
    ConfigError,
    DataplaneError,
    DatastoreUnavailableError,
    KernelUnsupportedError,
)
from calico.felix.status import STATUS_ROOT as FELIX_STATUS_ROOT
from calico.felix.status import region_string
from calico.lab import netns
from calico.lab.fabric import Fabric
from calico.lab.hosts import Host
from calico.lab.procs import ProcessManager
from calico.lab.state import LabState, TeardownReport, teardown
from calico.node.mtu import FALLBACK_MTU, OVERHEAD

if TYPE_CHECKING:
    from calico.client import Client
    from calico.datastore import Datastore

DEFAULT_POOL = "10.244.0.0/16"
BLOCK_SIZE = 26
ENCAPS = ("none", "ipip", "vxlan")
DATASTORES = ("sqlite", "etcdv3")
READY_TIMEOUT = 120.0  # seconds; a cold start of 3 hosts takes ~10 s on 2 cores
_SECTION = "cluster"
_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL
# Inherited variables that would reconfigure a node behind the lab's back.
_FOREIGN_ENV_PREFIXES = ("DATASTORE_", "CALICO_", "ETCD_", "FELIX_", "NODENAME", "IP", "KUBE")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class LabConfig:
    """What ``calico lab up`` was asked for; persisted as the lab's ``cluster`` section."""

    name: str
    hosts: int = 3
    datastore: str = "sqlite"
    encap: str = "none"
    subnets: int = 1
    pool: str = DEFAULT_POOL

    def validate(self) -> LabConfig:
        if self.datastore not in DATASTORES:
            raise ConfigError(
                f"--datastore must be one of {', '.join(DATASTORES)} (value {self.datastore!r})"
            )
        if self.encap not in ENCAPS:
            raise ConfigError(f"--encap must be one of {', '.join(ENCAPS)} (value {self.encap!r})")
        if self.subnets not in (1, 2):
            raise ConfigError(f"--subnets must be 1 or 2 (value {self.subnets!r})")
        if self.hosts < 1:
            raise ConfigError(f"--hosts must be at least 1 (value {self.hosts!r})")
        return self

    @property
    def encap_mode(self) -> str:
        """The pool's ipipMode/vxlanMode: encapsulate only between subnets when there are two."""
        if self.encap == "none":
            return "Never"
        return "CrossSubnet" if self.subnets == 2 else "Always"

    @property
    def bgp(self) -> bool:
        return self.encap != "vxlan"

    @property
    def mtu(self) -> int:
        return FALLBACK_MTU - OVERHEAD[self.encap]

    def warnings(self) -> list[str]:
        if self.subnets == 2 and self.encap == "none":
            return [
                "workload routes do not cross the router between the two subnets: workloads "
                "on different subnets cannot reach each other (use --encap vxlan, CrossSubnet)"
            ]
        return []

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LabConfig:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__})


class Lab:
    """A lab that is up (or being brought up): its fabric, config and processes."""

    def __init__(self, fabric: Fabric, config: LabConfig) -> None:
        self.fabric = fabric
        self.config = config
        self.name = fabric.name
        self.state: LabState = fabric.state
        self.pm = ProcessManager(self.state)

    @classmethod
    def load(cls, name: str) -> Lab:
        """The lab called ``name``; ConfigError naming ``calico lab up`` if there is none."""
        state = LabState(name)
        raw = state.section(_SECTION) if state.exists() else None
        if raw is None:
            raise ConfigError(f"no lab named {name!r} is up (run: calico lab up --name {name})")
        return cls(Fabric.load(name), LabConfig.from_json(raw))

    @property
    def hosts(self) -> list[Host]:
        return self.fabric.hosts

    def host(self, name: str) -> Host:
        return self.fabric.host(name)

    @property
    def complete(self) -> bool:
        """Whether ``up`` finished (a crashed ``up`` leaves an incomplete lab)."""
        return bool((self.state.section(_SECTION) or {}).get("complete"))

    # -- per-host files -----------------------------------------------------

    def host_dir(self, host: Host) -> Path:
        return self.state.dir / host.name

    def bird_socket(self, host: Host) -> str:
        return str(self.host_dir(host) / "bird.ctl")

    def node_status_path(self, host: Host) -> Path:
        return self.host_dir(host) / "status.json"

    def node_log(self, host: Host) -> Path:
        return self.pm.log_path(node_process(host))

    # -- the datastore ------------------------------------------------------

    @property
    def sqlite_path(self) -> str:
        return str(self.state.dir / "calico.db")

    def datastore_env(self, subnet: int = 0) -> dict[str, str]:
        """The variables that select this lab's datastore, from a host on ``subnet``."""
        if self.config.datastore == "sqlite":
            return {"DATASTORE_TYPE": "sqlite", "CALICO_SQLITE_PATH": self.sqlite_path}
        return {"DATASTORE_TYPE": "etcdv3", "ETCD_ENDPOINTS": etcd_endpoint(self.fabric, subnet)}

    @property
    def datastore_netns(self) -> str | None:
        """Where the datastore must be reached from (None: anywhere on this machine)."""
        return self.fabric.gateway_netns if self.config.datastore == "etcdv3" else None

    def cni_datastore(self, host: Host) -> dict[str, str]:
        """The network config keys naming the datastore, for the CNI plugin on ``host``."""
        env = self.datastore_env(host.subnet)
        if env["DATASTORE_TYPE"] == "sqlite":
            return {"datastore_type": "sqlite", "sqlite_path": env["CALICO_SQLITE_PATH"]}
        return {"datastore_type": "etcdv3", "etcd_endpoints": env["ETCD_ENDPOINTS"]}

    # -- calico-node --------------------------------------------------------

    def node_env(self, host: Host) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV_PREFIXES)}
        mode, cfg = self.config.encap_mode, self.config
        return {
            **inherited,
            **self.datastore_env(host.subnet),
            "NODENAME": host.name,
            "IP": "autodetect",
            "IP_AUTODETECTION_METHOD": f"interface={host.ifname}",
            "CALICO_NETWORKING_BACKEND": "bird" if cfg.bgp else "vxlan",
            "CALICO_IPV4POOL_CIDR": cfg.pool,
            "CALICO_IPV4POOL_BLOCK_SIZE": str(BLOCK_SIZE),
            "CALICO_IPV4POOL_IPIP": mode if cfg.encap == "ipip" else "Never",
            "CALICO_IPV4POOL_VXLAN": mode if cfg.encap == "vxlan" else "Never",
            "FELIX_LOGSEVERITYSCREEN": "Info",
            "FELIX_HEALTHENABLED": "true",  # calico-node then waits on felix's /readiness
            # Containers' veths and VMs' taps (calico.lab.vm) are both workloads.
            "FELIX_INTERFACEPREFIX": "cali,tap",
        }

    def node_argv(self, host: Host) -> list[str]:
        from calico.node.main import program

        d = self.host_dir(host)
        return [
            *program("calico-node", "calico.node.main"),
            "--name",
            host.name,
            "--state-dir",
            str(d),
            "--log-dir",
            str(d / "logs"),
            "--bird-config-dir",
            str(d / "bird"),
            "--bird-socket",
            self.bird_socket(host),
        ]

    def start_node(self, host: Host) -> None:
        self.host_dir(host).mkdir(parents=True, exist_ok=True)
        self.pm.start(node_process(host), host.netns, self.node_argv(host), env=self.node_env(host))


def node_process(host: Host) -> str:
    return f"calico-node-{host.name}"


# -- bring-up and teardown ------------------------------------------------------


def up(config: LabConfig, progress: Progress = _quiet, timeout: float = READY_TIMEOUT) -> Lab:
    """Build the lab and wait until every host is ready.

    Any failure, Ctrl-C included, removes whatever was built and re-raises.
    """
    lab = start(config, progress)
    try:
        wait_ready(lab, timeout, progress)
    except BaseException:
        teardown(config.name)
        raise
    lab.state.set_section(_SECTION, {**asdict(lab.config), "complete": True})
    return lab


def start(config: LabConfig, progress: Progress = _quiet) -> Lab:
    """Build the lab and start every calico-node, without waiting for them."""
    config.validate()
    progress(f"building the fabric: {config.hosts} hosts on {config.subnets} subnet(s)")
    fabric = Fabric.create(config.name, config.hosts, config.subnets)
    try:
        lab = Lab(fabric, config)
        _check_socket_paths(lab)
        fabric.state.set_section(_SECTION, {**asdict(config), "complete": False})
        if config.encap == "ipip":
            check_ipip(fabric.hosts[0])
        if config.datastore == "etcdv3":
            progress("starting etcd in the gateway namespace")
            start_etcd(fabric, lab.pm)
        add_namespace(lab, "default", {})
        for host in fabric.hosts:
            progress(f"starting calico-node on {host.name}")
            lab.start_node(host)
    except BaseException:
        teardown(config.name)
        raise
    return lab


def down(name: str) -> TeardownReport:
    """Remove every namespace, process and file of lab ``name``; safe after any crash."""
    return teardown(name)


def check_ipip(host: Host) -> None:
    """Create and delete an IPIP device in ``host``: the kernel's own answer decides."""
    probe = netns.run(
        ["ip", "-n", host.netns, "link", "add", "calipiptest", "type", "ipip"], check=False
    )
    if probe.returncode != 0:
        raise KernelUnsupportedError(
            f"--encap ipip: kernel has no IPIP support "
            f"(ip link add ... type ipip: {probe.stderr.strip()})"
        )
    netns.ip(host.netns, "link", "del", "calipiptest")


def _check_socket_paths(lab: Lab) -> None:
    longest = max((lab.bird_socket(h) for h in lab.hosts), key=len)
    if len(longest) > _SOCKET_PATH_MAX:
        raise ConfigError(
            f"lab state dir {lab.state.dir} is too deep: BIRD's socket path {longest} exceeds "
            f"{_SOCKET_PATH_MAX} bytes (set CALICO_LAB_STATE_DIR to a shorter directory)"
        )


# -- etcd -------------------------------------------------------------------------
#
# etcd is a data-centre service, so it runs in the gateway namespace: the one
# place every host reaches without crossing a router (the gateway has an
# address on each fabric subnet), and a lab namespace, so teardown stops it.
# It listens on the gateway's fabric addresses only; nothing is added to the
# root namespace. Tools outside the lab (this CLI, calicoctl after ``calico
# lab env``) reach it by entering the gateway namespace.
#
# ``EtcdServer`` is not used: it ties etcd's life to the thread that started
# it (PR_SET_PDEATHSIG), and a lab's etcd must outlive ``calico lab up``.

ETCD_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_PROCESS = "etcd"
ETCD_START_TIMEOUT = 20.0


def etcd_endpoint(fabric: Fabric, subnet: int = 0) -> str:
    return f"http://{fabric.plan.gateway(subnet)}:{ETCD_PORT}"


def etcd_argv(fabric: Fabric) -> list[str]:
    clients = [etcd_endpoint(fabric, i) for i in range(len(fabric.plan.subnets))]
    peer = f"http://{fabric.plan.gateway(0)}:{ETCD_PEER_PORT}"
    member = f"{fabric.name}-etcd"
    return [
        shutil.which("etcd") or "etcd",
        f"--name={member}",
        f"--data-dir={fabric.state.dir / 'etcd'}",
        f"--listen-client-urls={','.join(clients)}",
        f"--advertise-client-urls={clients[0]}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={member}={peer}",
        "--initial-cluster-state=new",
        "--logger=zap",  # without it, --log-outputs is ignored (MACHINE.md)
        "--log-outputs=stderr",
    ]


def start_etcd(fabric: Fabric, pm: ProcessManager) -> None:
    """Start etcd in the gateway namespace and wait until it reports healthy."""
    # etcd reads every ETCD_* variable as a flag; ours mean something else.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
    rec = pm.start(ETCD_PROCESS, fabric.gateway_netns, etcd_argv(fabric), env=env)
    url = f"{etcd_endpoint(fabric)}/health"
    deadline = time.monotonic() + ETCD_START_TIMEOUT
    while not _etcd_healthy(fabric.gateway_netns, url):
        if not pm.is_alive(rec.name) or time.monotonic() > deadline:
            tail = pm.log_path(rec.name).read_text(errors="replace")[-600:].strip()
            raise DatastoreUnavailableError(
                f"etcd in {fabric.gateway_netns} did not become healthy: {tail or '(no output)'}"
            )
        time.sleep(0.1)


def _etcd_healthy(ns: str, url: str) -> bool:
    with entered(str(netns.NETNS_DIR / ns)):
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return b'"health":"true"' in response.read()
        except OSError:
            return False


# -- the datastore, from this process ---------------------------------------------


@contextlib.contextmanager
def open_store(lab: Lab) -> Iterator[Datastore]:
    """The lab's datastore, for the block's duration.

    For etcd, the calling thread enters the gateway namespace meanwhile
    (``setns`` moves only this thread): every connection is made from there.
    Keep the block to datastore work; commands it runs would inherit it.
    """
    ns = lab.datastore_netns
    where = entered(str(netns.NETNS_DIR / ns)) if ns else contextlib.nullcontext()
    with where:
        store = open_datastore(DatastoreConfig.from_env(lab.datastore_env()))
        try:
            yield store
        finally:
            store.close()


@contextlib.contextmanager
def open_client(lab: Lab) -> Iterator[Client]:
    """A Client (typed resources) on the lab's datastore; see ``open_store``."""
    from calico.client import Client  # pydantic models: only commands that need them pay

    with open_store(lab) as store:
        yield Client(store)


def add_namespace(lab: Lab, namespace: str, labels: Mapping[str, str]) -> None:
    """A Kubernetes Namespace: its profile ``kns.<ns>`` (created, or updated in place)."""
    from calico.k8s import namespace_to_profile
    from calico.resources import parse_resource

    raw = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": dict(labels)},
    }
    profile = parse_resource(namespace_to_profile(raw))
    with open_client(lab) as client:
        client.apply(profile)


# -- health -------------------------------------------------------------------------


@dataclass(frozen=True)
class HostHealth:
    """One host as ``status`` shows it and ``up`` waits for it."""

    host: Host
    node_running: bool
    children: Mapping[str, Any]  # calico-node's status.json: name -> {running, ready, ...}
    node_ready: bool
    felix_reported: bool  # Felix's liveness key is in the datastore
    expected_peers: frozenset[str]  # fabric IPs of every other host (full mesh), if BGP runs
    peers: tuple[PeerStatus, ...]
    bgp_error: str = ""

    @property
    def established(self) -> frozenset[str]:
        return frozenset(p.peer_ip for p in self.peers if p.bgp_state == "Established")

    @property
    def ready(self) -> bool:
        return (
            self.node_running
            and self.node_ready
            and self.felix_reported
            and self.expected_peers <= self.established
        )

    def problem(self) -> str:
        """Why the host is not ready, in a few words ("" when it is)."""
        if not self.node_running:
            return "calico-node is not running"
        if not self.node_ready:
            waiting = [n for n, c in self.children.items() if not c.get("ready")]
            return f"waiting for {', '.join(waiting) or 'calico-node start-up'}"
        if not self.felix_reported:
            return "waiting for Felix's first status report"
        missing = sorted(self.expected_peers - self.established)
        if missing:
            return f"BGP not Established with {', '.join(missing)}{_bracket(self.bgp_error)}"
        return ""


def _bracket(text: str) -> str:
    return f" ({text})" if text else ""


def host_health(lab: Lab, host: Host, reported: frozenset[str]) -> HostHealth:
    try:
        status: dict[str, Any] = json.loads(lab.node_status_path(host).read_text())
    except (OSError, ValueError):
        status = {}
    expected = frozenset(h.ip for h in lab.hosts if h != host) if lab.config.bgp else frozenset()
    peers: tuple[PeerStatus, ...] = ()
    error = ""
    if lab.config.bgp:
        try:
            peers = tuple(query_peers([lab.bird_socket(host)]))
        except (OSError, CalicoError) as exc:
            error = str(exc)
    return HostHealth(
        host=host,
        node_running=lab.pm.is_alive(node_process(host)),
        children=status.get("children", {}),
        node_ready=bool(status.get("ready")),
        felix_reported=host.name in reported,
        expected_peers=expected,
        peers=peers,
        bgp_error=error,
    )


def lab_health(lab: Lab) -> list[HostHealth]:
    reported = felix_reports(lab)
    return [host_health(lab, h, reported) for h in lab.hosts]


def felix_reports(lab: Lab) -> frozenset[str]:
    """The hosts whose Felix has a liveness key (``.../host/<host>/status``) right now."""
    prefix = f"{FELIX_STATUS_ROOT}/{region_string('')}/host/"
    try:
        with open_store(lab) as store:
            items, _ = store.list(prefix)
    except CalicoError:
        return frozenset()
    return frozenset(
        kv.key[len(prefix) :].split("/")[0] for kv in items if kv.key.endswith("/status")
    )


def wait_ready(lab: Lab, timeout: float, progress: Progress = _quiet) -> list[HostHealth]:
    """Until every host is ready; DataplaneError naming the laggards after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        health = lab_health(lab)
        ready = [h for h in health if h.ready]
        sessions = sum(len(h.expected_peers & h.established) for h in health)
        wanted = sum(len(h.expected_peers) for h in health)
        bgp = f", BGP sessions Established {sessions}/{wanted}" if lab.config.bgp else ""
        progress(f"hosts ready {len(ready)}/{len(health)}{bgp}")
        if len(ready) == len(health):
            return health
        dead = [h for h in health if not h.node_running]
        if dead or time.monotonic() > deadline:
            raise DataplaneError(_not_ready_message(lab, dead or health, timeout))
        time.sleep(0.5)


def _not_ready_message(lab: Lab, health: list[HostHealth], timeout: float) -> str:
    lines = [f"lab {lab.name} not ready after {timeout:.0f}s:"]
    for h in health:
        if not h.ready:
            lines.append(f"  {h.host.name}: {h.problem()}")
            lines += [f"    | {line}" for line in _log_tail(lab.node_log(h.host))]
    return "\n".join(lines)


def _log_tail(path: Path, lines: int = 5) -> list[str]:
    try:
        return path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return []
