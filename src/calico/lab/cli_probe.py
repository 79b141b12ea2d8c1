"""``calico lab exec | probe | matrix``: acting from inside a workload (or host).

A target is a workload or host name of the lab; ``probe``'s destination may
also be an IP address. ``exec`` replaces this process with the command (its
exit status, signals and terminal are the caller's). ``probe`` exits 0 if
the destination answered, 1 if not, 2 if it could not probe at all.
``matrix -o json`` prints JSON on stdout.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Sequence

import click
from rich.markup import escape

from calico.errors import CalicoError, ConfigError
from calico.lab import matrix, netns
from calico.lab._cli_common import EXIT_USAGE, err, name_option, out, spinner
from calico.lab.cluster import Lab
from calico.lab.probe import PROTOCOLS, ProbeResult, probe_result
from calico.lab.workload import Workload, load_workloads


def _target_netns(lab: Lab, target: str) -> str:
    """The namespace of a workload or host name."""
    workloads = load_workloads(lab.state)
    if target in workloads:
        return workloads[target].netns
    if target in {h.name for h in lab.hosts}:
        return lab.host(target).netns
    known = ", ".join([*workloads, *(h.name for h in lab.hosts)])
    raise ConfigError(f"lab {lab.name} has no workload or host {target!r} (known: {known})")


def _target_ip(lab: Lab, target: str) -> str:
    """The address of a workload or host name, or ``target`` itself if it is an IP."""
    workloads = load_workloads(lab.state)
    if target in workloads:
        return workloads[target].ip
    if target in {h.name for h in lab.hosts}:
        return lab.host(target).ip
    try:
        return str(ipaddress.ip_address(target))
    except ValueError:
        raise ConfigError(
            f"DST {target!r} is not a workload, host or IP address of lab {lab.name}"
        ) from None


@click.command("exec", context_settings={"ignore_unknown_options": True})
@name_option
@click.argument("target", metavar="NAME")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(name: str, target: str, command: Sequence[str]) -> int:
    """Run COMMAND inside workload (or host) NAME: calico lab exec web -- ip addr."""
    ns = _target_netns(Lab.load(name), target)
    sys.stdout.flush()
    # exec: the command's exit status, signals and terminal are the caller's.
    os.execvp("ip", netns.exec_argv(ns, command))


@click.command("probe")
@name_option
@click.argument("src")
@click.argument("dst")
@click.option("--port", type=click.IntRange(1, 65535), default=80, show_default=True)
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="tcp", show_default=True)
@click.option("--timeout", type=click.FloatRange(0.01, 60), default=1.0, show_default=True)
def probe_cmd(name: str, src: str, dst: str, port: int, protocol: str, timeout: float) -> int:
    """Can SRC reach DST (a workload, host or IP)? Exit 0 yes, 1 no, 2 cannot tell."""
    try:
        lab = Lab.load(name)
        ns, ip = _target_netns(lab, src), _target_ip(lab, dst)
        result = probe_result(ns, ip, port, protocol, timeout)
    except CalicoError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_USAGE
    what = f"{src} -> {dst} ({ip}) {protocol}" + ("" if protocol == "icmp" else f"/{port}")
    return _report(what, result)


def _report(what: str, result: ProbeResult) -> int:
    if result.reachable:
        reply = f" [dim]({escape(result.reply)})[/]" if result.reply else ""
        out.print(f"{what}: [green]reachable[/]{reply}")
        return 0
    detail = escape(result.detail or "no answer")
    out.print(f"{what}: [red]not reachable[/] [dim]({detail})[/]")
    return 1


@click.command("matrix")
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
