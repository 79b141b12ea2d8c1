"""Fixtures for the CNI plugin tests: plugins on a CNI_PATH, a seeded datastore, a lab.

* ``cni_bin``: a directory with ``calico`` and ``calico-ipam`` (links to the
  venv's entry points), searched before Debian's ``/usr/lib/cni``.
* ``datastore``: a fresh sqlite file per test holding one IPv4 pool
  (10.244.0.0/16, /26 blocks), one IPv6 pool and the Node resources
  ``host1``/``host2``.
* ``lab``: two hosts on one fabric, built once per test module and torn down
  at its end (random lab name, private state root).  Containers are created
  per test by :meth:`Cluster.container`, recorded in the lab state as
  ``<lab>-wl-<name>`` and destroyed in the test's finalizer.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from calico.datastore.keys import resource_key
from calico.datastore.sqlite import SqliteDatastore
from calico.lab import netns
from calico.lab.fabric import Fabric
from calico.lab.hosts import Host
from calico.lab.procs import ProcessManager
from calico.lab.state import netns_name, teardown
from calico.lab.workload import Workload, start_server

from .runtime import Attachment, Config, Runtime

VENV_BIN = Path(sys.executable).parent
DEBIAN_CNI = "/usr/lib/cni"
POOL_V4 = "10.244.0.0/16"
POOL_V6 = "fd00:244::/64"
NETWORK = "calinet"


def pool_doc(name: str, cidr: str, block_size: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPool",
        "metadata": {"name": name},
        "spec": {"cidr": cidr, "blockSize": block_size, "nodeSelector": "all()", **spec},
    }


def seed_datastore(path: Path, nodes: list[str], pools: list[dict[str, Any]]) -> None:
    with SqliteDatastore(str(path)) as ds:
        for pool in pools:
            ds.put(resource_key("IPPool", pool["metadata"]["name"]), json.dumps(pool))
        for node in nodes:
            doc = {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": node}}
            ds.put(resource_key("Node", node), json.dumps({**doc, "spec": {}}))


@pytest.fixture(scope="session")
def cni_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cni-bin")
    for name in ("calico", "calico-ipam"):
        (directory / name).symlink_to(VENV_BIN / name)
    return directory


@pytest.fixture
def cni_path(cni_bin: Path) -> list[str]:
    return [str(cni_bin), DEBIAN_CNI]


@pytest.fixture
def datastore(tmp_path: Path) -> Path:
    path = tmp_path / "calico.db"
    seed_datastore(
        path,
        ["host1", "host2"],
        [pool_doc("default-ipv4", POOL_V4, 26), pool_doc("default-ipv6", POOL_V6, 122)],
    )
    return path


def network_config(
    datastore: Path, node: str, tmp: Path, version: str = "1.0.0", **extra: Any
) -> Config:
    """A calico network config for ``node`` (explicit nodename and MTU: nothing
    is read from this machine's /var/lib/calico)."""
    conf: Config = {
        "cniVersion": version,
        "name": NETWORK,
        "type": "calico",
        "nodename": node,
        "nodename_file_optional": True,
        "mtu": 1450,
        "datastore_type": "sqlite",
        "sqlite_path": str(datastore),
        "ipam_lock_file": str(tmp / f"ipam-{node}.lock"),
        "log_level": "info",
        "ipam": {"type": "calico-ipam"},
    }
    for key, value in extra.items():
        conf[key] = {**conf[key], **value} if isinstance(conf.get(key), dict) else value
    return conf


def new_container_id() -> str:
    return secrets.token_hex(32)  # like docker's


def ns_of(att: Attachment) -> str:
    """The namespace name of a container (its CNI_NETNS is /run/netns/<name>)."""
    return Path(att.netns).name


def stored(datastore: Path, prefix: str) -> dict[str, Any]:
    """Every key under ``prefix`` with its decoded value."""
    with SqliteDatastore(str(datastore)) as ds:
        return {kv.key: json.loads(kv.value) for kv in ds.list(prefix)[0]}


def endpoints(datastore: Path) -> dict[str, Any]:
    """WorkloadEndpoints by name."""
    docs = stored(datastore, "/calico/resources/v3/projectcalico.org/workloadendpoints/")
    return {doc["metadata"]["name"]: doc for doc in docs.values()}


def handles(datastore: Path) -> set[str]:
    return {key.rsplit("/", 1)[1] for key in stored(datastore, "/calico/ipam/v2/handle/")}


def allocated(datastore: Path) -> dict[str, str]:
    """Allocated address -> handle, read from the IPAM blocks."""
    import ipaddress

    found = {}
    for doc in stored(datastore, "/calico/ipam/v2/assignment/").values():
        network = ipaddress.ip_network(doc["cidr"])
        for ordinal, attr in enumerate(doc["allocations"]):
            if attr is not None:
                found[str(network[ordinal])] = doc["attributes"][attr].get("handle_id", "")
    return found


@dataclass
class Cluster:
    """A built lab plus per-test containers; see the module docstring."""

    fab: Fabric
    cni_path: list[str]
    containers: list[str] = field(default_factory=list)  # namespaces to destroy
    servers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.processes = ProcessManager(self.fab.state)

    def host(self, name: str) -> Host:
        return self.fab.host(name)

    def runtime(self, host: str) -> Runtime:
        return Runtime(self.cni_path, self.host(host).netns)

    def container(self, name: str, **kwargs: Any) -> Attachment:
        """A new, empty container namespace and its attachment parameters."""
        ns = netns_name(self.fab.name, f"wl-{name}")
        self.fab.state.record_namespace(ns)
        self.containers.append(ns)
        netns.create(ns)
        return Attachment(new_container_id(), f"/run/netns/{ns}", **kwargs)

    def serve(self, att: Attachment, host: str, result: Config) -> str:
        """Run the lab's workload server (TCP/UDP 80, 81) in the container; its IP."""
        ip = str(result["ips"][0]["address"]).split("/")[0]
        name = ns_of(att).split("-wl-", 1)[1]
        veth = result["interfaces"][0]["name"]
        wl = Workload(self.fab.name, name, host, self.host(host).netns, ns_of(att), ip, veth)
        start_server(self.processes, wl)
        self.servers.append(f"server-{name}")
        return ip

    def cleanup(self) -> None:
        for server in self.servers:
            self.processes.stop(server)
        for ns in self.containers:
            netns.destroy(ns)
            self.fab.state.forget_namespace(ns)
        self.containers.clear()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fabric]:
    root = tmp_path_factory.mktemp("labs")
    name = "c" + secrets.token_hex(3)
    try:
        fab = Fabric.create(name, hosts=2, root=root)
        yield fab
    finally:
        teardown(name, root)


@pytest.fixture
def cluster(lab: Fabric, cni_path: list[str]) -> Iterator[Cluster]:
    cluster = Cluster(lab, cni_path)
    try:
        yield cluster
    finally:
        cluster.cleanup()
