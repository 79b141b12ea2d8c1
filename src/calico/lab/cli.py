"""``calico lab ...``: the lab's command line (a contract other tools script against).

Commands and their exit codes (ARCHITECTURE.md, "The lab"): every command
exits 0 on success, 1 when it failed (one line on stderr, no traceback) and
2 on a usage error; ``probe`` exits 0 if the destination answered, 1 if
not, 2 if it could not probe at all; ``status`` exits 1 while a host is not
ready; ``exec`` exits with the command's own status.

Results go to stdout (``workload add`` ends with the IP, ``env`` prints
shell lines, ``matrix -o json`` prints JSON); progress spinners and notes
go to stderr, so scripts can capture stdout alone.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from calico.errors import CalicoError, ConfigError
from calico.lab import cluster, cni_runtime, matrix, netns
from calico.lab.cluster import DATASTORES, ENCAPS, Lab, LabConfig
from calico.lab.cni_runtime import NamedPort
from calico.lab.fabric import MAX_HOSTS_PER_SUBNET
from calico.lab.probe import PROTOCOLS, probe_result
from calico.lab.state import LabState, validate_lab_name
from calico.lab.workload import Workload, load_workloads

DEFAULT_LAB = "calico"
EXIT_USAGE = 2

# Piped output is not cut at 80 columns: scripts and logs read it whole.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_F = TypeVar("_F", bound=Callable[..., Any])


def name_option(func: _F) -> _F:
    return click.option(
        "--name",
        default=DEFAULT_LAB,
        show_default=True,
        help="Which lab (several can coexist).",
    )(func)


@contextmanager
def spinner(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr; the yielded function changes its text."""
    with err.status(text) as status:
        yield lambda message: status.update(f"{text}: {message}")


@click.group(name="calico", context_settings={"help_option_names": ["-h", "--help"]})
def calico() -> None:
    """Project Calico in Python."""


@calico.group()
def lab() -> None:
    """A multi-host Calico cluster in network namespaces on this machine."""


# -- up / down / status / env ---------------------------------------------------------


@lab.command()
@name_option
@click.option("--hosts", type=click.IntRange(1, MAX_HOSTS_PER_SUBNET), default=3, show_default=True)
@click.option("--datastore", type=click.Choice(DATASTORES), default="sqlite", show_default=True)
@click.option("--encap", type=click.Choice(ENCAPS), default="none", show_default=True)
@click.option(
    "--subnets",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="2: hosts split across two routed subnets.",
)
def up(name: str, hosts: int, datastore: str, encap: str, subnets: int) -> int:
    """Build a lab: hosts, a datastore and calico-node on every host; wait until ready."""
    config = LabConfig(name, hosts, datastore, encap, subnets).validate()
    if LabState(name).exists():
        return _already_up(config)
    with spinner(f"Bringing up lab {name}") as progress:
        lab_ = cluster.up(config, progress)
    health = cluster.lab_health(lab_)
    out.print(f"[bold green]Lab {name} is up[/]: {hosts} hosts, ready.")
    _print_summary(lab_, health)
    return 0


def _already_up(config: LabConfig) -> int:
    name = config.name
    try:
        existing = Lab.load(name)
    except ConfigError:
        existing = None
    if existing is None or not existing.complete:
        raise ConfigError(
            f"lab {name} exists but its bring-up did not finish (still starting, "
            f"or it failed): run calico lab down --name {name}"
        )
    if existing.config != config:
        raise ConfigError(
            f"lab {name} is already up with other settings ({_describe(existing)}); "
            f"run calico lab down --name {name} first"
        )
    health = cluster.lab_health(existing)
    ready = all(h.ready for h in health)
    state = "[green]healthy[/]" if ready else "[red]NOT healthy[/]"
    out.print(f"Lab {name} is already up ({state}); nothing changed.")
    _print_summary(existing, health)
    return 0 if ready else 1


def _describe(lab_: Lab) -> str:
    c = lab_.config
    return f"hosts={c.hosts} datastore={c.datastore} encap={c.encap} subnets={c.subnets}"


def _print_summary(lab_: Lab, health: list[cluster.HostHealth]) -> None:
    c = lab_.config
    routing = "BGP full mesh (BIRD)" if c.bgp else "VXLAN routes from felix (no BGP)"
    out.print(f"  datastore: {c.datastore} ({_datastore_where(lab_)})")
    out.print(
        f"  pool: {c.pool} (/{cluster.BLOCK_SIZE} blocks), encapsulation "
        f"{c.encap} ({c.encap_mode}), {routing}"
    )
    out.print(_hosts_table(health))
    for warning in c.warnings():
        err.print(f"[yellow]warning:[/] {warning}")
    flag = "" if lab_.name == DEFAULT_LAB else f" --name {lab_.name}"
    out.print(
        f"Next: calico lab workload add{flag} host1 web   ·   "
        f'eval "$(calico lab env{flag})"; calicoctl get nodes'
    )


def _datastore_where(lab_: Lab) -> str:
    env = lab_.datastore_env()
    if lab_.config.datastore == "sqlite":
        return env["CALICO_SQLITE_PATH"]
    return f"etcd {env['ETCD_ENDPOINTS']} in namespace {lab_.datastore_netns}"


def _hosts_table(health: list[cluster.HostHealth]) -> Table:
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
        children = ", ".join(
            n.removeprefix("calico-") + ("" if c.get("ready") else " (not ready)")
            for n, c in h.children.items()
        )
        node = f"running: {children}" if h.node_running else "[red]not running[/]"
        peers = f"{len(h.established & h.expected_peers)}/{len(h.expected_peers)}"
        state = "[green]ready[/]" if h.ready else f"[red]{escape(h.problem())}[/]"
        host = h.host
        table.add_row(
            host.name, host.netns, host.cidr, node, peers if h.expected_peers else "-", state
        )
    return table


@lab.command()
@name_option
def down(name: str) -> int:
    """Remove the lab: every namespace, process and file (also after a crash)."""
    with spinner(f"Tearing down lab {name}"):
        report = cluster.down(name)
    if not report.namespaces and not report.processes:
        out.print(f"No lab {name} here; nothing to remove.")
    else:
        out.print(
            f"Lab {name} removed: {len(report.processes)} processes stopped, "
            f"{len(report.namespaces)} namespaces deleted."
        )
    for note in report.notes:
        err.print(f"note: {note}")
    return 0


@lab.command()
@name_option
def status(name: str) -> int:
    """Hosts, BGP sessions, workloads and health; exit 1 while a host is not ready."""
    lab_ = Lab.load(name)
    health = cluster.lab_health(lab_)
    out.print(f"[bold]Lab {name}[/]: {_describe(lab_)}, datastore {_datastore_where(lab_)}")
    out.print(_hosts_table(health))
    if lab_.config.bgp:
        out.print(_bgp_table(health))
    out.print(_workloads_table(lab_))
    return 0 if all(h.ready for h in health) else 1


def _bgp_table(health: list[cluster.HostHealth]) -> Table:
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


def _workloads_table(lab_: Lab) -> Table:
    pods = cni_runtime.load_pods(lab_.state)
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
    for wl in load_workloads(lab_.state).values():
        pod = pods.get(wl.name)
        ports = ", ".join(f"{p.name}={p.port}/{p.protocol}" for p in pod.ports) if pod else ""
        table.add_row(
            wl.name,
            pod.kind if pod else "?",
            wl.host,
            pod.namespace if pod else "",
            wl.ip,
            wl.host_ifname,
            ports,
        )
    return table


@lab.command()
@name_option
def env(name: str) -> int:
    """Print shell lines that point calicoctl at the lab: eval "$(calico lab env)"."""
    lab_ = Lab.load(name)
    lines = [f"export {key}={shlex.quote(value)}" for key, value in lab_.datastore_env().items()]
    other = "ETCD_ENDPOINTS" if lab_.config.datastore == "sqlite" else "CALICO_SQLITE_PATH"
    lines.append(f"unset {other}")
    calicoctl = shlex.quote(str(Path(sys.executable).parent / "calicoctl"))
    if lab_.datastore_netns:
        # No address of the lab exists in the root namespace (by design), so
        # calicoctl runs where etcd listens: the lab's gateway namespace.
        lines.append(
            f"# etcd is reachable only inside the lab: calicoctl runs in "
            f"namespace {lab_.datastore_netns}"
        )
        calicoctl = f"ip netns exec {lab_.datastore_netns} {calicoctl}"
    lines.append(f'calicoctl() {{ {calicoctl} "$@"; }}')
    click.echo("\n".join(lines))  # plain text: the shell reads it, nothing may wrap
    return 0


# -- namespaces and workloads ------------------------------------------------------------


@lab.group()
def namespace() -> None:
    """Kubernetes-style namespaces (Calico profile kns.<namespace>)."""


@namespace.command("add")
@name_option
@click.argument("ns")
@click.option("--labels", default="", help="k=v,... (inherited by its pods as pcns.<k>)")
def namespace_add(name: str, ns: str, labels: str) -> int:
    """Create (or relabel) namespace NS."""
    lab_ = Lab.load(name)
    values = cni_runtime.parse_labels(labels)
    cluster.add_namespace(lab_, ns, values)
    out.print(f"namespace {ns}: profile kns.{ns} {_labels_text(values)}")
    return 0


def _labels_text(labels: dict[str, str]) -> str:
    return "(" + (", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels") + ")"


@lab.group()
def workload() -> None:
    """Containers (through the CNI plugin) and VMs (through the OpenStack driver)."""


@workload.command("add")
@name_option
@click.argument("host")
@click.argument("workload_name", metavar="NAME")
@click.option("--namespace", "ns", default="default", show_default=True)
@click.option("--labels", default="", help="k=v,...")
@click.option("--vm", is_flag=True, help="A VM: tap interface, OpenStack port, DHCP.")
@click.option(
    "--port",
    "ports",
    multiple=True,
    metavar="NAME=PORT/PROTO",
    help="A named port it serves (repeatable), e.g. http=8080/tcp.",
)
def workload_add(
    name: str, host: str, workload_name: str, ns: str, labels: str, vm: bool, ports: Sequence[str]
) -> int:
    """Create workload NAME on HOST; prints its IP as the last line."""
    lab_ = Lab.load(name)
    values = cni_runtime.parse_labels(labels)
    named = [NamedPort.parse(p) for p in ports]
    kind = "VM" if vm else "container"
    with spinner(f"Adding {kind} {workload_name} on {host}"):
        if vm:
            from calico.lab import vm as vms

            wl = vms.add_vm(lab_, host, workload_name, ns, values, named)
        else:
            wl = cni_runtime.add_container(lab_, host, workload_name, ns, values, named)
    served = sorted({80, 81, *(p.port for p in named)})
    endpoint_ns = cni_runtime.pod_record(lab_.state, wl.name).namespace
    out.print(
        f"{kind} {wl.name} on {wl.host} (namespace {endpoint_ns}, interface "
        f"{wl.host_ifname}), serving ports {', '.join(map(str, served))}:"
    )
    out.print(wl.ip)
    return 0


@workload.command("rm")
@name_option
@click.argument("workload_name", metavar="NAME")
def workload_rm(name: str, workload_name: str) -> int:
    """Remove workload NAME (CNI DEL or OpenStack port delete, then cleanup)."""
    lab_ = Lab.load(name)
    record = cni_runtime.pod_record(lab_.state, workload_name)
    with spinner(f"Removing {workload_name}"):
        if record.kind == "vm":
            from calico.lab import vm as vms

            vms.remove_vm(lab_, record)
        else:
            cni_runtime.remove_container(lab_, record)
    out.print(f"removed {record.kind} {workload_name}")
    return 0


@workload.command("label")
@name_option
@click.argument("workload_name", metavar="NAME")
@click.argument("changes", nargs=-1, required=True, metavar="k=v|k- ...")
def workload_label(name: str, workload_name: str, changes: Sequence[str]) -> int:
    """Set (k=v) or remove (k-) labels on workload NAME's endpoint."""
    labels = cni_runtime.relabel(Lab.load(name), workload_name, changes)
    out.print(f"{workload_name}: {_labels_text(labels)}")
    return 0


# -- exec / probe / matrix / demo ----------------------------------------------------------


def _target_netns(lab_: Lab, target: str) -> str:
    """The namespace of a workload or host name."""
    workloads = load_workloads(lab_.state)
    if target in workloads:
        return workloads[target].netns
    if target in {h.name for h in lab_.hosts}:
        return lab_.host(target).netns
    known = ", ".join([*workloads, *(h.name for h in lab_.hosts)])
    raise ConfigError(f"lab {lab_.name} has no workload or host {target!r} (known: {known})")


@lab.command("exec", context_settings={"ignore_unknown_options": True})
@name_option
@click.argument("target", metavar="NAME")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(name: str, target: str, command: Sequence[str]) -> int:
    """Run COMMAND inside workload (or host) NAME: calico lab exec web -- ip addr."""
    ns = _target_netns(Lab.load(name), target)
    sys.stdout.flush()
    # exec: the command's exit status, signals and terminal are the caller's.
    os.execvp("ip", netns.exec_argv(ns, command))


@lab.command("probe")
@name_option
@click.argument("src")
@click.argument("dst")
@click.option("--port", type=click.IntRange(1, 65535), default=80, show_default=True)
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="tcp", show_default=True)
@click.option("--timeout", type=click.FloatRange(0.01, 60), default=1.0, show_default=True)
def probe_cmd(name: str, src: str, dst: str, port: int, protocol: str, timeout: float) -> int:
    """Can SRC reach DST (a workload, host or IP)? Exit 0 yes, 1 no, 2 cannot tell."""
    try:
        lab_ = Lab.load(name)
        ns, ip = _target_netns(lab_, src), _target_ip(lab_, dst)
        result = probe_result(ns, ip, port, protocol, timeout)
    except CalicoError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_USAGE
    what = f"{src} -> {dst} ({ip}) {protocol}" + ("" if protocol == "icmp" else f"/{port}")
    if result.reachable:
        reply = f" [dim]({escape(result.reply)})[/]" if result.reply else ""
        out.print(f"{what}: [green]reachable[/]{reply}")
        return 0
    detail = escape(result.detail or "no answer")
    out.print(f"{what}: [red]not reachable[/] [dim]({detail})[/]")
    return 1


def _target_ip(lab_: Lab, target: str) -> str:
    workloads = load_workloads(lab_.state)
    if target in workloads:
        return workloads[target].ip
    if target in {h.name for h in lab_.hosts}:
        return lab_.host(target).ip
    try:
        return str(ipaddress.ip_address(target))
    except ValueError:
        raise ConfigError(
            f"DST {target!r} is not a workload, host or IP address of lab {lab_.name}"
        ) from None


@lab.command("matrix")
@name_option
@click.option("--port", type=click.IntRange(1, 65535), default=80, show_default=True)
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="tcp", show_default=True)
@click.option("--timeout", type=click.FloatRange(0.01, 60), default=1.0, show_default=True)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def matrix_cmd(name: str, port: int, protocol: str, timeout: float, output: str) -> int:
    """Probe every ordered pair of workloads; ✓ reachable, ✗ blocked."""
    workloads: list[Workload] = list(load_workloads(Lab.load(name).state).values())
    with spinner(f"Probing {len(workloads) * (len(workloads) - 1)} pairs"):
        result = matrix.run(workloads, port, protocol, timeout)
    if output == "json":
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        out.print(matrix.table(result))
    return 0


@lab.command()
@click.option("--name", default="demo", show_default=True, help="The tour's own lab.")
def demo(name: str) -> int:
    """The guided tour: a 3-host lab, workloads, routes, BGP, policy, matrices; then down."""
    from calico.lab import demo as tour

    validate_lab_name(name)  # before anything starts
    return tour.run(name)


# -- entry point --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``calico ...``; returns the exit status (never raises for a user error)."""
    try:
        result = calico.main(
            args=list(argv) if argv is not None else None, prog_name="calico", standalone_mode=False
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        err.print("Aborted.")
        return 130
    except CalicoError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return 1
    return result if isinstance(result, int) else 0
