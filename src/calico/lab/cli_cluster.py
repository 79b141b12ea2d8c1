"""``calico lab up | down | status | env``: a lab's life cycle on the command line.

``up`` is idempotent: a lab already up with the same settings is reported
(exit 1 if it is not healthy) and left alone; other settings, or a bring-up
that never finished, are refused with the ``down`` command to run.
``status`` exits 1 while a host is not ready. ``env`` prints shell lines
(plain text: the shell reads them, nothing may wrap).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from calico.errors import ConfigError
from calico.lab import cluster
from calico.lab._cli_common import DEFAULT_LAB, err, name_option, out, spinner
from calico.lab.cli_tables import bgp_table, hosts_table, workloads_table
from calico.lab.cluster import DATASTORES, ENCAPS, Lab, LabConfig
from calico.lab.fabric import MAX_HOSTS_PER_SUBNET
from calico.lab.health import HostHealth
from calico.lab.state import LabState


@click.command()
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
        lab = cluster.up(config, progress)
    health = cluster.lab_health(lab)
    out.print(f"[bold green]Lab {name} is up[/]: {hosts} hosts, ready.")
    _print_summary(lab, health)
    return 0


def _already_up(config: LabConfig) -> int:
    existing = _existing_lab(config)
    health = cluster.lab_health(existing)
    ready = all(h.ready for h in health)
    state = "[green]healthy[/]" if ready else "[red]NOT healthy[/]"
    out.print(f"Lab {config.name} is already up ({state}); nothing changed.")
    _print_summary(existing, health)
    return 0 if ready else 1


def _existing_lab(config: LabConfig) -> Lab:
    """The lab of that name, if its bring-up finished with the same settings."""
    name = config.name
    try:
        existing: Lab | None = Lab.load(name)
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
    return existing


def _describe(lab: Lab) -> str:
    c = lab.config
    return f"hosts={c.hosts} datastore={c.datastore} encap={c.encap} subnets={c.subnets}"


def _print_summary(lab: Lab, health: list[HostHealth]) -> None:
    c = lab.config
    routing = "BGP full mesh (BIRD)" if c.bgp else "VXLAN routes from felix (no BGP)"
    out.print(f"  datastore: {c.datastore} ({_datastore_where(lab)})")
    out.print(
        f"  pool: {c.pool} (/{cluster.BLOCK_SIZE} blocks), encapsulation "
        f"{c.encap} ({c.encap_mode}), {routing}"
    )
    out.print(hosts_table(health))
    for warning in c.warnings():
        err.print(f"[yellow]warning:[/] {warning}")
    flag = "" if lab.name == DEFAULT_LAB else f" --name {lab.name}"
    out.print(
        f"Next: calico lab workload add{flag} host1 web   ·   "
        f'eval "$(calico lab env{flag})"; calicoctl get nodes'
    )


def _datastore_where(lab: Lab) -> str:
    env = lab.datastore_env()
    if lab.config.datastore == "sqlite":
        return env["CALICO_SQLITE_PATH"]
    return f"etcd {env['ETCD_ENDPOINTS']} in namespace {lab.datastore_netns}"


@click.command()
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


@click.command()
@name_option
def status(name: str) -> int:
    """Hosts, BGP sessions, workloads and health; exit 1 while a host is not ready."""
    lab = Lab.load(name)
    health = cluster.lab_health(lab)
    out.print(f"[bold]Lab {name}[/]: {_describe(lab)}, datastore {_datastore_where(lab)}")
    out.print(hosts_table(health))
    if lab.config.bgp:
        out.print(bgp_table(health))
    out.print(workloads_table(lab))
    return 0 if all(h.ready for h in health) else 1


@click.command()
@name_option
def env(name: str) -> int:
    """Print shell lines that point calicoctl at the lab: eval "$(calico lab env)"."""
    lab = Lab.load(name)
    lines = [f"export {key}={shlex.quote(value)}" for key, value in lab.datastore_env().items()]
    other = "ETCD_ENDPOINTS" if lab.config.datastore == "sqlite" else "CALICO_SQLITE_PATH"
    lines.append(f"unset {other}")
    calicoctl = shlex.quote(str(Path(sys.executable).parent / "calicoctl"))
    if lab.datastore_netns:
        # No address of the lab exists in the root namespace (by design), so
        # calicoctl runs where etcd listens: the lab's gateway namespace.
        lines.append(
            f"# etcd is reachable only inside the lab: calicoctl runs in "
            f"namespace {lab.datastore_netns}"
        )
        calicoctl = f"ip netns exec {lab.datastore_netns} {calicoctl}"
    lines.append(f'calicoctl() {{ {calicoctl} "$@"; }}')
    click.echo("\n".join(lines))  # plain text: the shell reads it, nothing may wrap
    return 0
