"""``calicoctl ipam``: show, check, release and configure IP address management.

The logic and the exact output live in :mod:`calico.ipam.report` and
:mod:`calico.ipam.check`; this module only maps calicoctl's flags onto them.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import click

from calico.ctl.context import get_context, global_options
from calico.errors import BadSequenceNumberError, ConfigError, IPAMError
from calico.ipam import report
from calico.ipam.block import ReleaseOptions
from calico.ipam.check import check_ipam
from calico.ipam.ipam import IPAMClient


def _check_ips(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """``--ip`` values must be IP addresses, checked before anything is read or released."""
    for text in value if isinstance(value, tuple) else [value]:
        try:
            if text is not None:
                ipaddress.ip_address(text.strip())
        except ValueError:
            raise click.BadParameter(f"{text!r} is not an IP address", ctx, param) from None
    return value


def _ipam_client() -> IPAMClient:
    return IPAMClient(get_context().open_datastore())


@click.group("ipam")
def ipam() -> None:
    """IP address management."""


@ipam.command("show")
@global_options
@click.option(
    "--ip",
    "ip",
    callback=_check_ips,
    metavar="IP",
    help="Report whether this IP address is in use.",
)
@click.option("--show-blocks", is_flag=True, help="Show detailed information for IP blocks.")
@click.option("--show-borrowed", is_flag=True, help="Show IPs borrowed from other nodes' blocks.")
@click.option("--show-configuration", is_flag=True, help="Show the IPAM configuration.")
def show(ip: str | None, show_blocks: bool, show_borrowed: bool, show_configuration: bool) -> None:
    """Show details of Calico configuration and allocations."""
    client = _ipam_client()
    if ip is not None:
        click.echo(report.show_ip(client, ip))
    elif show_borrowed:
        click.echo(report.show_borrowed(client))
    elif show_configuration:
        click.echo(report.show_configuration(client))
    else:
        click.echo(report.show_utilization(client, show_blocks))


@ipam.command("check")
@global_options
@click.option("--show-all-ips", is_flag=True, help="Print all IPs that were found.")
@click.option(
    "--show-problem-ips", is_flag=True, help="Print all IPs that are leaked or not allocated."
)
@click.option("-o", "--output", "output", metavar="FILE", help="Write a report (JSON) to FILE.")
def check(show_all_ips: bool, show_problem_ips: bool, output: str | None) -> None:
    """Check the integrity of the IPAM datastructures."""
    result = check_ipam(get_context().open_datastore())
    click.echo(report.render_check(result, show_all_ips, show_problem_ips))
    if output:
        from calico.ctl.version import client_version

        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(result.to_json(client_version()))
        except OSError as exc:
            raise ConfigError(f"--output {output}: cannot write report: {exc.strerror}") from None
        click.echo(f"Wrote report to {output}")


@ipam.command("release")
@global_options
@click.option(
    "--ip", "ips", callback=_check_ips, metavar="IP", multiple=True, help="IP address to release."
)
@click.option("--from-report", metavar="FILE", help="Release the leaked IPs listed in a report.")
@click.option("--force", is_flag=True, help="Release even if the report is old (accepted).")
def release(ips: tuple[str, ...], from_report: str | None, force: bool) -> None:
    """Release IP addresses that are no longer in use."""
    if not ips and not from_report:
        raise click.UsageError("one of --ip or --from-report is required")
    leaked = _leaked_from_report(from_report) if from_report else []  # bad file: write nothing
    client = _ipam_client()
    for address in ips:
        click.echo(report.release_ip(client, address))
    if from_report:
        _release_from_report(client, leaked)


def _release_from_report(client: IPAMClient, leaked: list[ReleaseOptions]) -> None:
    """Release each leaked allocation guarded by its handle and sequence number.

    Between ``ipam check`` and this release an address may have been freed
    and handed out again: the sequence number recorded in the report no
    longer matches, so that address is skipped rather than taken from its
    new owner (as calicoctl does).
    """
    released = 0
    for option in leaked:
        try:
            not_allocated = client.release_ips([option])
        except (BadSequenceNumberError, IPAMError) as exc:
            click.echo(f"Skipping {option.address}: changed since the report ({exc})")
            continue
        if not_allocated:
            click.echo(f"Skipping {option.address}: no longer allocated")
            continue
        released += 1
    click.echo(f"Released {released} IPs successfully")


def _leaked_from_report(path: str) -> list[ReleaseOptions]:
    """The allocations a ``calicoctl ipam check -o`` report lists as not in use."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc
        raise ConfigError(f"--from-report {path}: cannot read report: {reason}") from None
    allocations = data.get("allocations") if isinstance(data, dict) else None
    if not isinstance(allocations, dict):
        raise ConfigError(f"--from-report {path}: field 'allocations' is missing or not a map")
    return [
        ReleaseOptions(
            str(alloc["ip"]),
            handle=alloc.get("handle") or None,
            sequence_number=alloc.get("sequenceNumber"),
        )
        for allocs in allocations.values()
        for alloc in allocs
        if isinstance(alloc, dict) and alloc.get("ip") and not alloc.get("inUse")
    ]


@ipam.command("configure")
@global_options
@click.option("--strictaffinity", type=click.Choice(["true", "false"]), help="Strict affinity.")
@click.option("--max-blocks-per-host", type=click.IntRange(min=0), help="Blocks per host limit.")
@click.option("--ip-cooldown-seconds", type=click.IntRange(0, 1200), help="Released-IP cooldown.")
def configure(
    strictaffinity: str | None, max_blocks_per_host: int | None, ip_cooldown_seconds: int | None
) -> None:
    """Configure IPAM."""
    strict = None if strictaffinity is None else strictaffinity == "true"
    click.echo(
        report.configure_ipam(
            _ipam_client(),
            strict_affinity=strict,
            max_blocks_per_host=max_blocks_per_host,
            ip_cooldown_seconds=ip_cooldown_seconds,
        )
    )
