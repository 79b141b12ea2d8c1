"""CNI ADD/DEL wall time of the real ``calico`` plugin vs Debian's ``bridge`` + ``host-local``.

    .venv/bin/python bench/bench_cni.py [--runs 20]

One lab host namespace plays the node; for every run a fresh container
namespace is created (untimed), then ADD and DEL are each timed as a
container runtime sees them: ``ip netns exec <host> <plugin>`` with the CNI
environment and the network config on stdin, until the plugin exits.  The
plugins alternate run by run, so both see the same machine load.

* ``calico``: this project's plugin (``.venv/bin/calico``, delegating IPAM to
  ``calico-ipam``: two Python processes per operation) on a sqlite datastore
  with one /16 pool (/26 blocks) and the Node; writes the WorkloadEndpoint,
  claims a block on the first ADD, host-side ``cali*`` veth with proxy ARP.
* ``bridge``: Debian's Go ``bridge`` plugin (``isGateway``, no masquerade)
  delegating to ``host-local`` (a file store), from ``/usr/lib/cni``.
* floors, same run: ``ip netns exec <host> true`` (the exec wrapper) and the
  venv's ``python -c pass`` (interpreter start-up; ``-S`` beside it).

Beside wall time, the CPU time (user + system) of the plugin and everything
it runs is taken from ``getrusage(RUSAGE_CHILDREN)``: on a shared 2-vCPU
machine wall time mostly measures the queue for a CPU, CPU time does not.

Then one more ADD/DEL pair of ``calico`` runs with ``PYTHONPROFILEIMPORTTIME=1``
(inherited by ``calico-ipam``) to list the modules each process imports and
what they cost; this run is not in the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _netbench as nb

from calico.datastore.keys import resource_key
from calico.datastore.sqlite import SqliteDatastore
from calico.lab import netns
from calico.lab.fabric import Fabric
from calico.lab.state import netns_name

DEBIAN_CNI = "/usr/lib/cni"
POOL = "10.244.0.0/16"
_PROBES = ("encodings", "org", "sitecustomize", "usercustomize")
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass
class Plugin:
    label: str
    path: str
    config: dict[str, Any]
    add: list[float] = field(default_factory=list)
    delete: list[float] = field(default_factory=list)
    add_cpu: list[float] = field(default_factory=list)
    delete_cpu: list[float] = field(default_factory=list)


def calico_config(state_dir: Path, db: str) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "k8s-pod-network",
        "type": "calico",
        "nodename": "host1",
        "nodename_file_optional": True,
        "mtu": 1450,
        "datastore_type": "sqlite",
        "sqlite_path": db,
        "ipam_lock_file": str(state_dir / "ipam.lock"),
        "log_level": "info",
        "policy": {"type": "k8s"},
        "ipam": {"type": "calico-ipam"},
    }


def bridge_config(state_dir: Path) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "bridgenet",
        "type": "bridge",
        "bridge": "cnibr0",
        "isGateway": True,
        "ipMasq": False,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.233.0.0/16"}]],
            "dataDir": str(state_dir / "host-local"),
        },
    }


def seed(db: str) -> None:
    pool = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPool",
        "metadata": {"name": "default-ipv4"},
        "spec": {"cidr": POOL, "blockSize": 26, "nodeSelector": "all()"},
    }
    node = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Node",
        "metadata": {"name": "host1"},
        "spec": {},
    }
    with SqliteDatastore(db) as ds:
        ds.put(resource_key("IPPool", "default-ipv4"), json.dumps(pool))
        ds.put(resource_key("Node", "host1"), json.dumps(node))


def children_cpu() -> float:
    """User + system CPU seconds of every child process reaped so far (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def invoke(
    host_ns: str,
    plugin: Plugin,
    command: str,
    container_id: str,
    container_ns: str,
    extra_env: dict[str, str] | None = None,
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run one CNI command; (wall seconds, CPU seconds, the process).

    The CPU time is the plugin's and its children's (``calico-ipam``, ``ip``):
    each reaps its own children, so their usage rolls up into ours when
    ``subprocess.run`` reaps the plugin.  Unlike wall time it hardly depends
    on how busy the machine is.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": nb.netns_path(container_ns),
        "CNI_IFNAME": "eth0",
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={container_ns}",
        "CNI_PATH": f"{nb.VENV_BIN}:{DEBIAN_CNI}",
        **(extra_env or {}),
    }
    argv = ["ip", "netns", "exec", host_ns, plugin.path]
    cpu, start = children_cpu(), time.perf_counter()
    proc = subprocess.run(
        argv, input=json.dumps(plugin.config), env=env, capture_output=True, text=True, timeout=120
    )
    elapsed, cpu = time.perf_counter() - start, children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError(
            f"{plugin.label} {command} failed ({proc.returncode}): {proc.stdout.strip()} "
            f"{proc.stderr.strip()[-800:]}"
        )
    return elapsed, cpu, proc


def time_floor(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` runs of ``argv``."""
    wall, cpu = [], []
    for _ in range(runs):
        cpu0, start = children_cpu(), time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        wall.append(time.perf_counter() - start)
        cpu.append(children_cpu() - cpu0)
    return wall, cpu


def one_pair(fab: Fabric, plugin: Plugin, run: int) -> tuple[float, float, float, float]:
    """ADD then DEL in a fresh container namespace; wall and CPU seconds of each."""
    host_ns = fab.hosts[0].netns
    ns = netns_name(fab.name, f"wl-{plugin.label[:3]}{run}")
    fab.state.record_namespace(ns)
    netns.create(ns)
    cid = secrets.token_hex(32)
    try:
        add_s, add_cpu, _ = invoke(host_ns, plugin, "ADD", cid, ns)
        del_s, del_cpu, _ = invoke(host_ns, plugin, "DEL", cid, ns)
    finally:
        netns.destroy(ns)
        fab.state.forget_namespace(ns)
    return add_s, del_s, add_cpu, del_cpu


@dataclass
class ImportReport:
    modules: int
    self_us: int
    top: list[tuple[str, int]]  # the modules with the largest own (self) import time, us
    packages: Counter[str]  # "stdlib", "calico", or the third-party top-level name

    def origin_summary(self) -> str:
        return ", ".join(f"{p} {c}" for p, c in self.packages.most_common())


def origin(module: str) -> str:
    top = module.split(".")[0]
    if top == "calico":
        return "calico"
    # ``org.python.core`` is copy.py probing for Jython and ``sitecustomize``
    # site.py probing for a hook: failed look-ups the standard library makes.
    if top in sys.stdlib_module_names or top.startswith("_") or top in _PROBES:
        return "stdlib"
    return top


def import_reports(stderr: str) -> list[ImportReport]:
    """One report per process in ``-X importtime`` output (a header starts each)."""
    reports: list[ImportReport] = []
    current: list[tuple[int, int, int, str]] = []
    chunks: list[list[tuple[int, int, int, str]]] = []
    for line in stderr.splitlines():
        if line.startswith("import time: self [us]"):
            current = []
            chunks.append(current)
            continue
        match = _IMPORT_LINE.match(line)
        if match:
            self_us, cum_us, indent, name = match.groups()
            current.append((int(self_us), int(cum_us), len(indent), name))
    for rows in chunks:
        if not rows:
            continue
        top = sorted(((r[3], r[0]) for r in rows), key=lambda t: -t[1])
        packages = Counter(origin(r[3]) for r in rows)
        reports.append(ImportReport(len(rows), sum(r[0] for r in rows), top[:8], packages))
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(nb.machine_line())
    with nb.lab_session("cnib", hosts=1) as fab:
        state_dir = fab.state.dir
        db = str(state_dir / "calico.db")
        seed(db)
        plugins = [
            Plugin("calico", str(nb.VENV_BIN / "calico"), calico_config(state_dir, db)),
            Plugin("bridge", f"{DEBIAN_CNI}/bridge", bridge_config(state_dir)),
        ]
        # Warm-up (not timed): page caches, calico's first block claim, the bridge device.
        for plugin in plugins:
            one_pair(fab, plugin, 999)
        for run in range(args.runs):
            for plugin in plugins if run % 2 == 0 else reversed(plugins):
                add_s, del_s, add_cpu, del_cpu = one_pair(fab, plugin, run)
                plugin.add.append(add_s)
                plugin.delete.append(del_s)
                plugin.add_cpu.append(add_cpu)
                plugin.delete_cpu.append(del_cpu)
        host_ns = fab.hosts[0].netns
        floors = {
            "ip netns exec true": time_floor(["ip", "netns", "exec", host_ns, "true"], args.runs),
            "python -c pass": time_floor([sys.executable, "-c", "pass"], args.runs),
            "python -S -c pass": time_floor([sys.executable, "-S", "-c", "pass"], args.runs),
        }

        nb.banner(f"CNI ADD / DEL, {args.runs} runs each, alternating: wall time, then CPU time")
        for plugin in plugins:
            print(f"  {plugin.label:<7} ADD wall {nb.describe(plugin.add, 1000, ' ms')}")
            print(f"  {plugin.label:<7} DEL wall {nb.describe(plugin.delete, 1000, ' ms')}")
        for plugin in plugins:
            print(f"  {plugin.label:<7} ADD CPU  {nb.describe(plugin.add_cpu, 1000, ' ms')}")
            print(f"  {plugin.label:<7} DEL CPU  {nb.describe(plugin.delete_cpu, 1000, ' ms')}")
        for label, (wall, cpu) in floors.items():
            print(f"  floor: {label:<22} wall {nb.describe(wall, 1000, ' ms')}")
            print(f"  {'':<29} CPU  {nb.describe(cpu, 1000, ' ms')}")
        calico, bridge = plugins
        for op in ("add", "delete", "add_cpu", "delete_cpu"):
            c, b = statistics.median(getattr(calico, op)), statistics.median(getattr(bridge, op))
            what = op.replace("delete", "DEL").replace("add", "ADD").replace("_cpu", " CPU")
            print(f"  {what:<7}: calico / bridge+host-local = {c / b:.1f} (medians)")

        nb.banner("modules imported (one extra ADD with PYTHONPROFILEIMPORTTIME=1)")
        ns = netns_name(fab.name, "wl-imports")
        fab.state.record_namespace(ns)
        netns.create(ns)
        cid = secrets.token_hex(32)
        env = {"PYTHONPROFILEIMPORTTIME": "1"}
        for command in ("ADD", "DEL"):
            _, _, proc = invoke(host_ns, calico, command, cid, ns, env)
            reports = import_reports(proc.stderr)
            for n, report in enumerate(reports):
                who = "calico" if n == 0 else "calico-ipam"
                top = ", ".join(f"{m} {us / 1000:.1f}" for m, us in report.top[:6])
                print(
                    f"  {command} {who}: {report.modules} modules, {report.self_us / 1000:.0f} ms "
                    f"of import time\n      from: {report.origin_summary()}\n      largest "
                    f"own import time (ms): {top}"
                )
        netns.destroy(ns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
