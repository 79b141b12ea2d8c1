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

The bookkeeping (chapters, checks, summary) is ``calico.lab._demo_tour``;
the policy chapters are ``calico.lab._demo_policy``.
"""

from __future__ import annotations

import ipaddress
import subprocess
import time

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from calico.bgp.status import format_table, query_peers
from calico.errors import CalicoError, ConfigError
from calico.lab import cluster, cni_runtime
from calico.lab._demo_policy import policy_chapters
from calico.lab._demo_tour import Tour, summary
from calico.lab.cluster import Lab, LabConfig
from calico.lab.state import LabState
from calico.lab.workload import Workload

DEFAULT_LAB = "demo"


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
    summary(tour, time.monotonic() - started)
    return 1 if tour.failed else 0


def _tour(tour: Tour) -> None:
    lab = _bring_up(tour)
    pods, vm = _workloads(tour, lab)
    _routes(tour, lab, vm)
    _bgp(tour, lab)
    policy_chapters(tour, lab, pods, vm)


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
