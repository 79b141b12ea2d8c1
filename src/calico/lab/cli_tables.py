"""The tables ``calico lab up`` and ``calico lab status`` print.

Hosts (calico-node's children, BGP peers Established, ready or why not),
BGP sessions (BIRD's view per host, as ``calicoctl node status`` shows it)
and workloads (kind, host, namespace, address, host interface, named ports).
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from calico.lab.cluster import Lab
from calico.lab.health import HostHealth
from calico.lab.pods import PodRecord, load_pods
from calico.lab.workload import Workload, load_workloads


def hosts_table(health: list[HostHealth]) -> Table:
    table = Table(
        "host",
        "namespace",
        "fabric IP",
        "calico-node",
        "BGP peers Established",
        "state",
        header_style="bold",
    )
    for h in health:
        peers = f"{len(h.established & h.expected_peers)}/{len(h.expected_peers)}"
        state = "[green]ready[/]" if h.ready else f"[red]{escape(h.problem())}[/]"
        host = h.host
        table.add_row(
            host.name,
            host.netns,
            host.cidr,
            _node_cell(h),
            peers if h.expected_peers else "-",
            state,
        )
    return table


def _node_cell(h: HostHealth) -> str:
    """``running: felix, bgp (not ready), ...`` or not running."""
    children = ", ".join(
        n.removeprefix("calico-") + ("" if c.get("ready") else " (not ready)")
        for n, c in h.children.items()
    )
    return f"running: {children}" if h.node_running else "[red]not running[/]"


def bgp_table(health: list[HostHealth]) -> Table:
    table = Table(
        "host",
        "peer address",
        "peer type",
        "state",
        "since",
        "info",
        title="BGP sessions",
        header_style="bold",
    )
    for h in health:
        if h.bgp_error:
            table.add_row(h.host.name, "-", "-", "-", "-", f"[red]{escape(h.bgp_error)}[/]")
        for p in h.peers:
            style = "green" if p.bgp_state == "Established" else "red"
            info = f"{p.bgp_state} {p.info}".strip()
            table.add_row(
                h.host.name, p.peer_ip, p.peer_type, p.state, p.since, f"[{style}]{info}[/]"
            )
    return table


def workloads_table(lab: Lab) -> Table:
    pods = load_pods(lab.state)
    table = Table(
        "workload",
        "kind",
        "host",
        "namespace",
        "IP",
        "interface",
        "ports",
        title="Workloads",
        header_style="bold",
    )
    for wl in load_workloads(lab.state).values():
        table.add_row(*_workload_row(wl, pods.get(wl.name)))
    return table


def _workload_row(wl: Workload, pod: PodRecord | None) -> list[str]:
    ports = ", ".join(f"{p.name}={p.port}/{p.protocol}" for p in pod.ports) if pod else ""
    return [
        wl.name,
        pod.kind if pod else "?",
        wl.host,
        pod.namespace if pod else "",
        wl.ip,
        wl.host_ifname,
        ports,
    ]
