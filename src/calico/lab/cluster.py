"""A lab cluster: the fabric, one datastore, a real calico-node on every host.

``up(config)`` builds, in order, and records each piece in the lab state
before it exists (so ``down`` finds everything even after a crashed ``up``):

1. the fabric (``Fabric.create``): ``host1..hostK`` on one or two subnets;
2. the datastore: a sqlite file in the lab's state dir, which every host
   opens directly because namespaces share the file system; or, with
   ``etcdv3``, a real etcd in the lab's gateway namespace (``calico.lab.etcd``);
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

What ``--encap`` and ``--subnets`` mean for the pool and the routing is
``calico.lab.config``'s docstring. The names other code imports from here
(``LabConfig``, ``open_client``, ``lab_health``, ...) are re-exported from the
modules that define them.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from calico.errors import ConfigError, KernelUnsupportedError
from calico.lab import netns
from calico.lab.config import BLOCK_SIZE, DATASTORES, DEFAULT_POOL, ENCAPS, LabConfig
from calico.lab.etcd import etcd_endpoint, start_etcd
from calico.lab.fabric import Fabric
from calico.lab.health import HostHealth, Progress, lab_health, quiet, wait_ready
from calico.lab.hosts import Host
from calico.lab.namespaces import add_namespace
from calico.lab.procs import ProcessManager
from calico.lab.state import LabState, TeardownReport, teardown
from calico.lab.store import open_client, open_store

__all__ = [
    "BLOCK_SIZE",
    "DATASTORES",
    "DEFAULT_POOL",
    "ENCAPS",
    "READY_TIMEOUT",
    "HostHealth",
    "Lab",
    "LabConfig",
    "Progress",
    "add_namespace",
    "check_ipip",
    "down",
    "etcd_endpoint",
    "lab_health",
    "node_process",
    "open_client",
    "open_store",
    "start",
    "up",
    "wait_ready",
]

READY_TIMEOUT = 120.0  # seconds; a cold start of 3 hosts takes ~10 s on 2 cores
_SECTION = "cluster"
_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL
# Inherited variables that would reconfigure a node behind the lab's back.
_FOREIGN_ENV_PREFIXES = ("DATASTORE_", "CALICO_", "ETCD_", "FELIX_", "NODENAME", "IP", "KUBE")


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

    def node_running(self, host: Host) -> bool:
        return self.pm.is_alive(node_process(host))


def node_process(host: Host) -> str:
    """The ProcessManager's name for ``host``'s calico-node."""
    return f"calico-node-{host.name}"


# -- bring-up and teardown ------------------------------------------------------


def up(config: LabConfig, progress: Progress = quiet, timeout: float = READY_TIMEOUT) -> Lab:
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


def start(config: LabConfig, progress: Progress = quiet) -> Lab:
    """Build the lab and start every calico-node, without waiting for them."""
    config.validate()
    progress(f"building the fabric: {config.hosts} hosts on {config.subnets} subnet(s)")
    fabric = Fabric.create(config.name, config.hosts, config.subnets)
    try:
        lab = Lab(fabric, config)
        _check_socket_paths(lab)
        fabric.state.set_section(_SECTION, {**asdict(config), "complete": False})
        _start_services(lab, progress)
    except BaseException:
        teardown(config.name)
        raise
    return lab


def _start_services(lab: Lab, progress: Progress) -> None:
    """The datastore, the ``default`` namespace, then calico-node on every host."""
    if lab.config.encap == "ipip":
        check_ipip(lab.hosts[0])
    if lab.config.datastore == "etcdv3":
        progress("starting etcd in the gateway namespace")
        start_etcd(lab.fabric, lab.pm)
    add_namespace(lab, "default", {})
    for host in lab.hosts:
        progress(f"starting calico-node on {host.name}")
        lab.start_node(host)


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
