"""calicoctl's text output for the ``ipam`` commands (``show``, ``check``,
``release --ip``, ``configure``), as plain functions returning the text.

Tables are drawn the way calicoctl's go-pretty default style draws them: ASCII
box, header left-aligned, numeric columns right-aligned in data rows.
Numbers use Go's ``%.5g`` and percentages ``%.f`` so scripts that parse
calicoctl's output parse ours.  The returned text has no trailing newline.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from calico.errors import IPAMError
from calico.ipam._types import parse_ip
from calico.ipam.block import ReleaseOptions
from calico.ipam.check import CheckReport
from calico.ipam.ipam import IPAMClient
from calico.ipam.utilization import borrowed_ips

UTILIZATION_HEADER = ("GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS RESERVED", "IPS FREE")
BORROWED_HEADER = ("IP", "BORROWING-NODE", "BLOCK", "BLOCK OWNER", "TYPE", "ALLOCATED-TO")
TOP_NODES = 20


def render_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right_aligned: Collection[int] = ()
) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str], align_right: Collection[int]) -> str:
        padded = (
            c.rjust(w) if i in align_right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    body = [line(r, right_aligned) for r in rows]
    return "\n".join([rule, line(header, ()), rule, *body, rule])


def _number(n: float) -> str:
    return f"{n:.5g}"


def _with_percentage(n: int, capacity: int) -> str:
    percent = f"{100 * n / capacity:.0f}" if capacity else "NaN"
    return f"{_number(n)} ({percent}%)"


def _utilization_row(
    kind: str, cidr: str, capacity: int, in_use: int, reserved: int, free: int
) -> list[str]:
    return [
        kind,
        cidr,
        _number(capacity),
        _with_percentage(in_use, capacity),
        _with_percentage(reserved, capacity),
        _with_percentage(free, capacity),
    ]


def show_utilization(client: IPAMClient, show_blocks: bool = False) -> str:
    """``calicoctl ipam show [--show-blocks]``."""
    rows: list[list[str]] = []
    for pool in client.get_utilization():
        if pool.cidr is not None:  # the orphaned-blocks group has no pool row
            rows.append(
                _utilization_row(
                    "IP Pool",
                    str(pool.cidr),
                    pool.capacity,
                    pool.in_use,
                    pool.reserved,
                    pool.available,
                )
            )
        if show_blocks:
            rows += [
                _utilization_row(
                    "Block", str(b.cidr), b.capacity, b.in_use, b.reserved, b.available
                )
                for b in pool.blocks
            ]
    return render_table(UTILIZATION_HEADER, rows, right_aligned={2, 3, 4, 5})


def show_ip(client: IPAMClient, ip: str) -> str:
    """``calicoctl ipam show --ip IP``."""
    address = parse_ip(ip)
    attr = client.get_assignment_attributes(str(address))
    if attr is None:
        return f"{address} is not assigned"
    lines = [f"IP {address} is in use", f"Handle ID: {attr.handle_id or '<none>'}"]
    if attr.active_owner_attrs:
        lines += _owner_attrs("Active Owner Attributes", attr.active_owner_attrs)
    else:
        lines.append("No Active Owner attributes defined")
    if attr.alternate_owner_attrs:
        lines += _owner_attrs("Alternate Owner Attributes", attr.alternate_owner_attrs)
    return "\n".join(lines)


def _owner_attrs(title: str, attrs: dict[str, str]) -> list[str]:
    return [f"{title}:", *(f"  {k}: {attrs[k]}" for k in sorted(attrs))]


def show_borrowed(client: IPAMClient) -> str:
    """``calicoctl ipam show --show-borrowed``."""
    found, unclassified = borrowed_ips(client.datastore)
    rows = [
        [b.address, b.borrowing_node, b.block, b.block_owner, b.allocation_type, b.allocated_to]
        for b in found
    ]
    text = render_table(BORROWED_HEADER, rows)
    if unclassified:
        text += (
            f"\n\nNote: found {unclassified} IP allocations without an explicit node "
            "association. Unable to determine if they are borrowed."
        )
    return text


def show_configuration(client: IPAMClient) -> str:
    """``calicoctl ipam show --show-configuration``."""
    config = client.get_ipam_config()
    rows = [
        ["StrictAffinity", _go_bool(config.strict_affinity)],
        ["AutoAllocateBlocks", _go_bool(config.auto_allocate_blocks)],
        ["MaxBlocksPerHost", str(config.max_blocks_per_host)],
        ["IPCooldownSeconds", str(config.ip_cooldown_seconds)],
    ]
    return render_table(("PROPERTY", "VALUE"), rows)


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def release_ip(client: IPAMClient, ip: str) -> str:
    """``calicoctl ipam release --ip IP``; IPAMError if it was not assigned."""
    address = parse_ip(ip)
    if client.release_ips([ReleaseOptions(str(address))]):
        raise IPAMError(f"IP address {address} is not assigned")
    return f"Successfully released IP address {address}"


def configure_ipam(
    client: IPAMClient,
    *,
    strict_affinity: bool | None = None,
    max_blocks_per_host: int | None = None,
    ip_cooldown_seconds: int | None = None,
) -> str:
    """``calicoctl ipam configure``; ValidationError for refused combinations."""
    if strict_affinity is None and max_blocks_per_host is None and ip_cooldown_seconds is None:
        raise IPAMError("at least one configuration option must be specified")
    client.set_ipam_config(
        strict_affinity=strict_affinity,
        max_blocks_per_host=max_blocks_per_host,
        ip_cooldown_seconds=ip_cooldown_seconds,
    )
    lines = []
    if strict_affinity is not None:
        lines.append(f"Successfully set StrictAffinity to: {_go_bool(strict_affinity)}")
    if max_blocks_per_host is not None:
        lines.append(f"Successfully set MaxBlocksPerHost to: {max_blocks_per_host}")
    if ip_cooldown_seconds is not None:
        lines.append(f"Successfully set IPCooldownSeconds to: {ip_cooldown_seconds}")
    return "\n".join(lines)


def render_check(
    report: CheckReport, show_all_ips: bool = False, show_problem_ips: bool = False
) -> str:
    """The text ``calicoctl ipam check`` prints, ending "Check complete; found N problems."."""
    out = ["Checking IPAM for inconsistencies...", ""]
    out += _check_loading(report, show_all_ips)
    out += _check_top_nodes(report)
    out += _check_ips(report, show_problem_ips)
    out += _check_handles_and_blocks(report, show_all_ips, show_problem_ips)
    out.append(f"Check complete; found {report.problems} problems.")
    return "\n".join(out)


def _check_loading(report: CheckReport, show_all_ips: bool) -> list[str]:
    out = ["Loading all IPAM blocks...", f"Found {len(report.blocks)} IPAM blocks."]
    for cidr, affinity in report.blocks:
        out.append(f" IPAM block {cidr} affinity={affinity}:")
        if show_all_ips:
            out += [
                f"  {a.ip} allocated; attrs {a.attrs}"
                for allocs in report.allocations.values()
                for a in allocs
                if a.block == cidr
            ]
    out += [f"IPAM blocks record {report.num_allocations} allocations.", ""]
    out += ["Loading all IPAM pools...", *(f"  {c}" for c in report.active_pools)]
    out += [f"Found {len(report.active_pools)} active IP pools.", ""]
    out += ["Loading all nodes.", f"Found {report.num_node_ips} node tunnel IPs.", ""]
    out.append("Loading all workload endpoints.")
    if show_all_ips:
        out += [f"  {ip} belongs to {o}" for ip, owners in report.in_use.items() for o in owners]
    out += [
        f"Found {report.num_workload_ips} workload IPs.",
        f"Workloads and nodes are using {len(report.in_use)} IPs.",
        "",
    ]
    return out


def _check_top_nodes(report: CheckReport) -> list[str]:
    by_node = report.allocations_by_node()
    out = ["Loading all handles", f"Looking for top (up to {TOP_NODES}) nodes by allocations..."]
    out += [f"  {node} has {count} allocations" for node, count in by_node[:TOP_NODES]]
    if by_node:
        median = by_node[len(by_node) // 2][1]
        out.append(f"Node with most allocations has {by_node[0][1]}; median is {median}")
    out.append("")
    return out


def _check_ips(report: CheckReport, show_problem_ips: bool) -> list[str]:
    out = ["Scanning for IPs that are allocated but not actually in use..."]
    if show_problem_ips:
        out += [
            f"  {ip} leaked; attrs {a.attrs}"
            for ip in report.leaked_ips
            for a in report.allocations[ip]
        ]
    out.append(
        f"Found {len(report.leaked_ips)} IPs that are allocated in IPAM but not actually in use."
    )
    out.append(
        "Scanning for IPs that are in use by a workload or node but not allocated in IPAM..."
    )
    if show_problem_ips:
        out += [f"  {ip} has multiple owners." for ip, o in report.in_use.items() if len(o) > 1]
        out += [
            f"  {ip} in use by {o} is not in any active IP pool."
            for ip in report.non_calico_ips
            for o in report.in_use[ip]
        ]
        out += [
            f"  {ip} in use by {o} and in active IPAM pool but has no IPAM allocation."
            for ip in report.in_use_unallocated_ips
            for o in report.in_use[ip]
        ]
    out += [
        f"Found {len(report.non_calico_ips)} in-use IPs that are not in active IP pools.",
        f"Found {len(report.in_use_unallocated_ips)} in-use IPs that are in active IP pools "
        "but have no corresponding IPAM allocation.",
        "",
    ]
    return out


def _check_handles_and_blocks(
    report: CheckReport, show_all_ips: bool, show_problem_ips: bool
) -> list[str]:
    out = ["Scanning for IPAM handles with no matching IPs..."]
    if show_all_ips:
        out += [f"  {h} doesn't have any active IPs." for h in report.leaked_handles]
    good = len(report.handle_revisions) - len(report.leaked_handles)
    out.append(
        f"Found {len(report.leaked_handles)} handles with no matching IPs "
        f"(and {good} handles with matches)."
    )
    out.append("Scanning for IPs with missing handle...")
    if show_problem_ips:
        out += [f"  {h} is in use in a block but doesn't exist." for h in report.missing_handles]
    out.append(
        f"Found {len(report.missing_handles)} handles mentioned in blocks with no matching "
        "handle resource."
    )
    out.append("Scanning for IPAM blocks affine to nodes that do not exist...")
    out += [f"  IPAMBlock {cidr} is affine to a missing node." for cidr in report.orphaned_blocks]
    out.append(f"Found {len(report.orphaned_blocks)} blocks affine to missing nodes.")
    out.append("Validating IPAMBlock structures...")
    for cidr, problems in report.invalid_blocks.items():
        out += [f"  IPAMBlock {cidr} is invalid: {p}" for p in problems]
    out.append(f"Found {len(report.invalid_blocks)} invalid IPAMBlocks.")
    return out
