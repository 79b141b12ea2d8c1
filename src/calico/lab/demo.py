"""``calico lab demo``: the guided tour, which checks everything it shows.

A fresh lab (``demo`` unless ``--name`` says otherwise; an earlier one of that
name is removed first) with three hosts,
then, chapter by chapter:

1. the cluster: calico-node on every host, a BGP full mesh;
2. workloads: three pods through the CNI plugin and, where the OpenStack
   path is available, a VM through the ML2 driver and DHCP;
3. routing: ``ip route`` on host1 shows the other hosts' blocks learned by
   BIRD (``proto bird``) and a blackhole for its own block; then BIRD's
   sessions as ``calicoctl node status`` prints them;
4. policy, as a user writes it: YAML shown on screen and applied with
   ``calicoctl apply -f`` (a subprocess, with the lab's ``calico lab env``),
   the connectivity matrix before and after each step: all open; a
   namespace default-deny; allow rules; a ``security`` tier whose ``Pass``
   hands everything on except a quarantined workload, which a label
   change (``calico lab workload label``) then cuts off.

Every expectation is checked, not just shown: matrices against their truth
tables (retried for a few seconds, since policy reaches the dataplane
asynchronously), routes and sessions against the topology. The exit status
is 1 if any check failed. The lab is torn down at the end, whatever happened.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from calico.bgp.status import format_table, query_peers
from calico.errors import CalicoError, ConfigError
from calico.lab import cluster, cni_runtime, matrix
from calico.lab.cluster import Lab, LabConfig
from calico.lab.state import LabState
from calico.lab.workload import Workload

DEFAULT_LAB = "demo"
CONVERGE_TIMEOUT = 20.0
Allowed = Callable[[str, str], bool]


@dataclass
class Tour:
    name: str  # the lab's
    console: Console
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def chapter(self, title: str, text: str) -> None:
        self.console.rule(f"[bold cyan]{title}")
        self.console.print(Panel(text, border_style="cyan"))

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((what, ok, detail))
        mark = "[bold green]✓[/]" if ok else "[bold red]✗[/]"
        suffix = f" [dim]({escape(detail)})[/]" if detail else ""
        self.console.print(f"{mark} {escape(what)}{suffix}")
        return ok

    @property
    def failed(self) -> list[tuple[str, bool, str]]:
        return [c for c in self.checks if not c[1]]


def run(name: str = DEFAULT_LAB, console: Console | None = None) -> int:
    tour = Tour(name, console or Console(highlight=False))
    started = time.monotonic()
    try:
        if LabState(name).exists():
            with tour.console.status(f"Removing the previous lab {name}"):
                cluster.down(name)
        _tour(tour)
    except (CalicoError, subprocess.SubprocessError, OSError) as exc:
        tour.check("the tour ran to its end", False, str(exc))
    finally:
        with tour.console.status(f"Tearing down lab {name}"):
            report = cluster.down(name)
        tour.console.print(f"Lab {name} torn down ({len(report.namespaces)} namespaces removed).")
    _summary(tour, time.monotonic() - started)
    return 1 if tour.failed else 0


def _tour(tour: Tour) -> None:
    lab = _bring_up(tour)
    pods, vm = _workloads(tour, lab)
    _routes(tour, lab, vm)
    _bgp(tour, lab)
    _policies(tour, lab, pods, vm)


# -- 1. the cluster -------------------------------------------------------------------


def _bring_up(tour: Tour) -> Lab:
    tour.chapter(
        "1. A three-host cluster",
        "Each host is a network namespace with one NIC on a shared fabric and a default route "
        "to a gateway that knows nothing about workloads. Every host runs a real calico-node: "
        "start-up (Node resource, default IP pool 10.244.0.0/16 in /26 blocks), then Felix "
        "(policy and routes in iptables/ipsets and the kernel), calico-bgp and BIRD. All share "
        "one datastore (a sqlite file).",
    )
    with tour.console.status("Bringing up 3 hosts") as status:
        lab = cluster.up(
            LabConfig(tour.name, hosts=3), lambda m: status.update(f"Bringing up: {m}")
        )
    health = cluster.lab_health(lab)
    table = Table("host", "fabric IP", "calico-node children", "state", header_style="bold")
    for h in health:
        children = ", ".join(h.children)
        table.add_row(h.host.name, h.host.cidr, children, "ready" if h.ready else h.problem())
    tour.console.print(table)
    tour.check(
        "every host is ready (Felix ready and reporting, BGP mesh up)", all(h.ready for h in health)
    )
    return lab


# -- 2. workloads -----------------------------------------------------------------------


def _workloads(tour: Tour, lab: Lab) -> tuple[list[Workload], Workload | None]:
    tour.chapter(
        "2. Workloads",
        "Pods are created like a Kubernetes node does it: a network namespace, then the real "
        "`calico` CNI plugin (with `calico-ipam`) wires a veth, takes an address from the "
        "host's block and writes the WorkloadEndpoint. The VM goes the OpenStack way: the ML2 "
        "driver binds its port and writes the endpoint, a tap is plugged, calico-dhcp-agent's "
        "dnsmasq hands the VM its address. Each workload serves TCP and UDP 80 and 81.",
    )
    pods = []
    for host, name in (("host1", "frontend"), ("host2", "backend"), ("host3", "db")):
        with tour.console.status(f"calico lab workload add {host} {name} --labels app={name}"):
            wl = cni_runtime.add_container(lab, host, name, labels={"app": name})
        tour.console.print(f"  pod [bold]{name}[/] on {host}: {wl.ip} ({wl.host_ifname})")
        pods.append(wl)
    pool = ipaddress.ip_network(lab.config.pool)
    tour.check(
        "every pod got an address from the pool",
        all(ipaddress.ip_address(p.ip) in pool for p in pods),
    )
    return pods, _vm(tour, lab)


def _vm(tour: Tour, lab: Lab) -> Workload | None:
    from calico.lab import vm

    try:
        with tour.console.status("calico lab workload add host3 vm1 --vm"):
            wl = vm.add_vm(lab, "host3", "vm1", labels={"app": "vm"})
    except ConfigError as exc:
        if "neutron-lib" not in str(exc):
            raise
        tour.console.print(f"[yellow]No VM in this tour:[/] {escape(str(exc))}")
        return None
    tour.console.print(f"  VM [bold]vm1[/] on host3: {wl.ip} by DHCP ({wl.host_ifname})")
    tour.check(
        "the VM got its Neutron port's address by DHCP",
        ipaddress.ip_address(wl.ip) in vm.SUBNET_CIDR,
    )
    return wl


# -- 3. routes and BGP ------------------------------------------------------------------


def _routes(tour: Tour, lab: Lab, vm: Workload | None) -> None:
    tour.chapter(
        "3. Routes",
        "No overlay here: each host advertises its address blocks over BGP, and installs a "
        "blackhole for its own block (traffic to an unused address there goes nowhere). VMs' "
        "addresses are not in blocks: their /32 routes travel alone.",
    )
    host1 = lab.host("host1")
    text = host1.ip_cmd("route", "show")
    tour.console.print(f"[dim]$ ip netns exec {host1.netns} ip route[/]")
    tour.console.print(Syntax(text.rstrip(), "text", theme="ansi_dark"))
    routes = host1.routes()
    bird = [r for r in routes if r.get("protocol") == "bird"]
    tour.check(
        "host1 has a blackhole for its own block (proto bird)",
        any(r.get("type") == "blackhole" for r in bird),
    )
    for other in lab.hosts[1:]:
        # Blocks only: a VM's /32 (a bare address in ip -j output) is checked below.
        via = [r["dst"] for r in bird if r.get("gateway") == other.ip and "/" in r["dst"]]
        tour.check(
            f"host1 routes {other.name}'s block via {other.ip} (proto bird)",
            bool(via),
            ", ".join(via),
        )
    if vm is not None:
        vm_host = lab.host(vm.host)
        tour.check(
            f"host1 routes the VM's /32 via {vm.host}",
            any(r["dst"] == vm.ip and r.get("gateway") == vm_host.ip for r in bird),
        )


def _bgp(tour: Tour, lab: Lab) -> None:
    tour.chapter(
        "4. BGP sessions",
        "BIRD on every host peers with every other host (a full mesh, AS 64512). "
        "host1's view, as `calicoctl node status` prints it:",
    )
    peers = query_peers([lab.bird_socket(lab.host("host1"))])
    tour.console.print(format_table(peers))
    health = cluster.lab_health(lab)
    for h in health:
        tour.check(
            f"{h.host.name}: BGP Established with all {len(h.expected_peers)} peers",
            h.expected_peers <= h.established,
        )


# -- 5. policy ---------------------------------------------------------------------------

DEFAULT_DENY = """\
# Pods in namespace "default" accept no traffic unless a policy allows it:
# this policy selects them all and allows nothing.
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: default
spec:
  selector: all()
  types:
  - Ingress
"""

ALLOW = """\
# frontend may call backend, and backend may call db, on TCP 80 only.
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-frontend-to-backend
  namespace: default
spec:
  order: 100
  selector: app == 'backend'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: app == 'frontend'
    destination:
      ports: [80]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-backend-to-db
  namespace: default
spec:
  order: 100
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: app == 'backend'
    destination:
      ports: [80]
"""

TIER = """\
# A tier evaluated before the default one. Quarantined workloads are cut off
# both ways; everything else is passed on to the next tier unchanged.
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: security
spec:
  order: 100
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.quarantine
spec:
  tier: security
  order: 10
  selector: quarantine == 'true'
  types: [Ingress, Egress]
  ingress:
  - action: Deny
  egress:
  - action: Deny
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.pass-the-rest
spec:
  tier: security
  order: 20
  selector: all()
  types: [Ingress, Egress]
  ingress:
  - action: Pass
  egress:
  - action: Pass
"""


def _policies(tour: Tour, lab: Lab, pods: list[Workload], vm: Workload | None) -> None:
    workloads = [*pods, *([vm] if vm else [])]
    pod_names = {p.name for p in pods}
    calls = {("frontend", "backend"), ("backend", "db")}

    def allow_rules(src: str, dst: str) -> bool:
        return dst not in pod_names or (src, dst) in calls

    tour.chapter(
        "5. Connectivity, all open",
        "Every pod's namespace profile (kns.default) allows everything; the VM's "
        "security group (lab-open) too. The matrix probes TCP 80 from every workload "
        "to every other.",
    )
    _converge(tour, workloads, lambda s, d: True, "all open")
    with tempfile.TemporaryDirectory(prefix="calico-demo-") as tmp:
        _apply(
            tour,
            lab,
            Path(tmp),
            "default-deny.yaml",
            DEFAULT_DENY,
            "6. Default deny for the pods",
            "A NetworkPolicy in namespace default selects every pod there and allows no "
            "ingress. The VM is not in that namespace: its security group still rules.",
        )
        _converge(tour, workloads, lambda s, d: d not in pod_names, "default deny")
        _apply(
            tour,
            lab,
            Path(tmp),
            "allow.yaml",
            ALLOW,
            "7. Allow what the application needs",
            "Two policies open exactly the calls the application makes.",
        )
        _converge(tour, workloads, allow_rules, "allow rules")
        _apply(
            tour,
            lab,
            Path(tmp),
            "tier.yaml",
            TIER,
            "8. A tier with Pass",
            "Tiers are evaluated in order. The security tier passes every workload on to "
            "the default tier (nothing changes) unless it carries quarantine=true.",
        )
        _converge(tour, workloads, allow_rules, "security tier passes everything on")
    tour.console.print(
        f"[dim]$ calico lab workload label --name {tour.name} backend quarantine=true[/]"
    )
    labels = cni_runtime.relabel(lab, "backend", ["quarantine=true"])
    tour.console.print("backend: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    _converge(
        tour,
        workloads,
        lambda s, d: "backend" not in (s, d) and allow_rules(s, d),
        "backend quarantined",
    )


def _apply(tour: Tour, lab: Lab, tmp: Path, file: str, yaml: str, title: str, text: str) -> None:
    """Show the YAML and apply it as a user would: calicoctl apply -f, with the lab's env."""
    tour.chapter(title, text)
    path = tmp / file
    path.write_text(yaml)
    tour.console.print(Syntax(yaml.rstrip(), "yaml", theme="ansi_dark"))
    tour.console.print(f"[dim]$ calicoctl apply -f {file}[/]")
    calicoctl = [str(Path(sys.executable).parent / "calicoctl"), "apply", "-f", str(path)]
    if lab.datastore_netns:
        calicoctl = ["ip", "netns", "exec", lab.datastore_netns, *calicoctl]
    env = {**os.environ, **lab.datastore_env()}
    proc = subprocess.run(calicoctl, env=env, capture_output=True, text=True, timeout=60)
    tour.console.print(escape((proc.stdout + proc.stderr).strip()))
    if not tour.check(f"calicoctl apply -f {file}", proc.returncode == 0):
        raise CalicoError(f"calicoctl apply -f {file} failed: {proc.stderr.strip()}")


def _converge(tour: Tour, workloads: list[Workload], allowed: Allowed, what: str) -> None:
    """Probe until the matrix matches ``allowed`` (policy lands asynchronously), then show it."""
    expected = matrix.expected([w.name for w in workloads], allowed)
    started = time.monotonic()
    with tour.console.status(f"Probing: expecting {what}"):
        while True:
            result = matrix.run(workloads)
            late = time.monotonic() - started > CONVERGE_TIMEOUT
            if late or not result.differences(expected):
                break
            time.sleep(0.5)
    tour.console.print(matrix.table(result, expected))
    diffs = result.differences(expected)
    detail = "; ".join(diffs[:3]) if diffs else f"after {time.monotonic() - started:.1f}s"
    tour.check(f"matrix: {what}", not diffs, detail)


def _summary(tour: Tour, seconds: float) -> None:
    tour.console.rule("[bold]Summary")
    table = Table("", "check", header_style="bold")
    for what, ok, detail in tour.checks:
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        table.add_row(mark, escape(what) + (f" [dim]({escape(detail)})[/]" if not ok else ""))
    tour.console.print(table)
    passed = len(tour.checks) - len(tour.failed)
    colour = "green" if not tour.failed else "red"
    tour.console.print(
        f"[bold {colour}]{passed}/{len(tour.checks)} checks passed[/] in {seconds:.0f}s."
    )
