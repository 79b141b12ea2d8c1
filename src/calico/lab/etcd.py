"""The lab's etcd (``--datastore etcdv3``): one member in the gateway namespace.

etcd is a data-centre service, so it runs in the gateway namespace: the one
place every host reaches without crossing a router (the gateway has an
address on each fabric subnet), and a lab namespace, so teardown stops it.
It listens on the gateway's fabric addresses only; nothing is added to the
root namespace. Tools outside the lab (this CLI, calicoctl after ``calico
lab env``) reach it by entering the gateway namespace.

``EtcdServer`` is not used: it ties etcd's life to the thread that started
it (PR_SET_PDEATHSIG), and a lab's etcd must outlive ``calico lab up``.
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.request

from calico.cni.netns import entered
from calico.errors import DatastoreUnavailableError
from calico.lab import netns
from calico.lab.fabric import Fabric
from calico.lab.procs import ProcessManager

ETCD_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_PROCESS = "etcd"
ETCD_START_TIMEOUT = 20.0
_LOG_TAIL_CHARS = 600


def etcd_endpoint(fabric: Fabric, subnet: int = 0) -> str:
    """The client URL of the lab's etcd, as a host on ``subnet`` reaches it."""
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
            tail = pm.log_path(rec.name).read_text(errors="replace")[-_LOG_TAIL_CHARS:].strip()
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
