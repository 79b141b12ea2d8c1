"""``calicoctl node``: status of this host's Calico processes and BGP sessions.

``node status`` reads BIRD's control socket (``/var/run/calico/bird.ctl`` by
default).  Our extension: ``CALICO_BIRD_SOCKET`` (or ``--bird-socket``) names
another socket, which the lab uses because several hosts share one machine.
"""

from __future__ import annotations

import os

import click

from calico.bgp.status import DEFAULT_SOCKETS, node_status
from calico.ctl.context import global_options
from calico.ctl.errors import CommandError


@click.group("node")
def node() -> None:
    """Calico node management."""


@node.command("status")
@global_options
@click.option(
    "--bird-socket",
    envvar="CALICO_BIRD_SOCKET",
    metavar="PATH",
    help="BIRD control socket (default /var/run/calico/bird.ctl).",
)
def status(bird_socket: str | None) -> None:
    """Check the status of the Calico node instance and its BGP sessions."""
    if os.geteuid() != 0:
        raise CommandError("This command must be run as root.")
    sockets = (bird_socket,) if bird_socket else DEFAULT_SOCKETS
    click.echo(node_status(sockets), nl=False)


@node.command("diags")
@global_options
@click.option(
    "--log-dir",
    "log_dirs",
    multiple=True,
    default=("/var/log/calico",),
    show_default=True,
    help="Directory of Calico logs to include (repeatable).",
)
@click.option("--dest", default=".", show_default=True, help="Directory or .tar.gz path to write.")
@click.option("--bird-socket", envvar="CALICO_BIRD_SOCKET", metavar="PATH", help="BIRD socket.")
def diags(log_dirs: tuple[str, ...], dest: str, bird_socket: str | None) -> None:
    """Collect routes, addresses, iptables, ipsets, BIRD state and logs into a tarball."""
    from calico.bgp.bird_process import DEFAULT_SOCKET
    from calico.node import diags as node_diags

    click.echo("Collecting diagnostics")
    path = node_diags.collect_diags(dest, log_dirs, bird_socket or DEFAULT_SOCKET)
    click.echo(f"Diags saved to {path}")
