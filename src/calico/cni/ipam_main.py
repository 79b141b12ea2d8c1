"""The ``calico-ipam`` IPAM plugin (``cni-plugin/pkg/ipamplugin/ipam_plugin.go``).

Exec'd by the ``calico`` plugin (or any CNI plugin) with the full network
config; it reads the ``ipam`` section and answers the abbreviated result.

* ADD: ``AutoAssign`` one IPv4 address unless ``assign_ipv4`` is "false" and
  one IPv6 address if ``assign_ipv6`` is "true", from ``ipv4_pools`` /
  ``ipv6_pools`` (CIDRs or pool names; default: every pool selecting the
  node), under handle ``<network>.<containerID>`` with attributes
  ``node``, ``timestamp`` and, for k8s pods, ``namespace`` and ``pod``.
  Specific addresses come from ``args.cni.ips`` (CNI convention) or else
  ``CNI_ARGS`` ``IP=`` and go through ``AssignIP``.  Addresses are returned
  block-masked (``10.65.0.5/26``), as upstream returns them.  All or nothing:
  a family that cannot be served gives back the other.
* DEL: release by handle, and by the legacy workload handle
  (``<ns>.<pod>`` or the container ID) as upstream also does.  Releasing
  nothing is success.
* CHECK: the handle still holds every address of ``prevResult``.
* GC: release handles ``<network>.<id>`` whose container is not among the
  valid attachments, if their addresses belong to this node (the runtime
  only knows this node's containers).
* STATUS: the datastore answers and an enabled pool exists for every family
  ADD would assign; error 50 otherwise.

A host-wide ``flock`` on ``ipam_lock_file`` serialises the IPAM calls of one
host: every write is CAS anyway, but fifty containers starting at once would
otherwise spend most of their time retrying each other's conflicts.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from calico import __version__
from calico.cni.gc import valid_attachments
from calico.cni.invocation import Command, Invocation, plugin_main
from calico.cni.result import IPConfig, Result
from calico.cni.spec import CHECK_FAILED, INVALID_CONFIG, NOT_AVAILABLE, CniError
from calico.cni.status import reachable_datastore
from calico.cni.wep import identifiers
from calico.ipam import IPAMClient, ReleaseOptions
from calico.ipam.keys import HANDLE_PREFIX, parse_handle_key
from calico.ipam.pools import list_pools

ABOUT = f"Calico CNI IPAM plugin v{__version__}"

_log = logging.getLogger(__name__)


@contextlib.contextmanager
def host_lock(path: str) -> Iterator[None]:
    """Hold the host-wide IPAM lock; best effort, as upstream (a lock we cannot
    create only costs contention, never correctness)."""
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        _log.warning("Cannot open IPAM lock %s (%s); going on without it", path, exc)
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def cmd_add(inv: Invocation) -> dict[str, Any]:
    ids = inv.ids
    attrs = {"node": ids.node, "timestamp": datetime.now(UTC).isoformat()}
    if ids.pod:
        attrs |= {"namespace": ids.namespace, "pod": ids.pod}
    client = IPAMClient(inv.datastore())
    requested = _requested_ips(inv)
    with host_lock(inv.conf.ipam_lock_file):
        if requested:
            addresses = _assign_specific(client, requested, inv.handle_id, attrs, ids.node)
        else:
            addresses = _auto_assign(client, inv, attrs)
    _log.info("Assigned %s to %s", addresses, inv.handle_id)
    ips = [IPConfig(a).to_json(inv.version) for a in addresses]
    return {"cniVersion": inv.version, "ips": ips, "dns": {}}


def _auto_assign(client: IPAMClient, inv: Invocation, attrs: dict[str, str]) -> list[str]:
    conf = inv.conf.ipam
    if not (conf.assign_ipv4 or conf.assign_ipv6):
        raise CniError(INVALID_CONFIG, "assign_ipv4 and assign_ipv6 are both false")
    v4, v6 = client.auto_assign(
        int(conf.assign_ipv4),
        int(conf.assign_ipv6),
        inv.handle_id,
        attrs,
        inv.ids.node,
        ipv4_pools=conf.ipv4_pools,
        ipv6_pools=conf.ipv6_pools,
    )
    return v4 + v6


def _requested_ips(inv: Invocation) -> list[str]:
    """Specific addresses asked for: ``args.cni.ips``, else CNI_ARGS ``IP`` (conventions)."""
    cni = inv.conf.args.get("cni") or {}
    raw = cni.get("ips") if isinstance(cni, dict) else None
    if raw is None:
        raw = [ip for ip in inv.args.cni_args().get("IP", "").split(",") if ip]
    if not isinstance(raw, list) or not all(isinstance(ip, str) for ip in raw):
        raise CniError(INVALID_CONFIG, "invalid args.cni.ips", repr(raw))
    try:
        return [str(ipaddress.ip_interface(ip).ip) for ip in raw]
    except ValueError as exc:
        raise CniError(INVALID_CONFIG, "invalid requested IP", str(exc)) from None


def _assign_specific(
    client: IPAMClient, ips: Sequence[str], handle: str, attrs: dict[str, str], node: str
) -> list[str]:
    done: list[str] = []
    try:
        for ip in ips:
            client.assign_ip(ip, handle, attrs, node)
            done.append(ip)
    except BaseException:
        client.release_ips([ReleaseOptions(ip, handle) for ip in done])
        raise
    return [f"{ip}/{ipaddress.ip_address(ip).max_prefixlen}" for ip in done]


def cmd_del(inv: Invocation) -> None:
    # No node name needed: the handles say what to release.
    workload_id = identifiers(inv.args, "").workload_id
    client = IPAMClient(inv.datastore())
    with host_lock(inv.conf.ipam_lock_file):
        released = client.release_by_handle(inv.handle_id)
        if workload_id != inv.handle_id:
            released += client.release_by_handle(workload_id)
    _log.info("Released %d address(es) of %s", released, inv.handle_id)


def cmd_check(inv: Invocation) -> None:
    held = set(IPAMClient(inv.datastore()).ips_by_handle(inv.handle_id))
    if not held:
        raise CniError(
            CHECK_FAILED, "CHECK failed", f"IPAM handle {inv.handle_id} holds no address"
        )
    previous = Result.from_json(inv.conf.prev_result or {}, "prevResult")
    missing = [ip.address for ip in previous.ips if str(ip.ip) not in held]
    if missing:
        raise CniError(
            CHECK_FAILED,
            "CHECK failed",
            f"handle {inv.handle_id} does not hold {', '.join(missing)}",
        )


def cmd_gc(inv: Invocation) -> None:
    valid = {container for container, _ in valid_attachments(inv.args.config)}
    prefix = f"{inv.conf.name}."
    ds = inv.datastore()
    client = IPAMClient(ds)
    items, _ = ds.list(HANDLE_PREFIX + prefix)
    with host_lock(inv.conf.ipam_lock_file):
        for kv in items:
            handle = parse_handle_key(kv.key)
            if handle is None or handle[len(prefix) :] in valid:
                continue
            if _held_on_node(client, handle, inv.nodename):
                _log.info("GC: releasing %s", handle)
                client.release_by_handle(handle)


def _held_on_node(client: IPAMClient, handle: str, node: str) -> bool:
    ips = client.ips_by_handle(handle)
    owners = [client.get_assignment_attributes(ip) for ip in ips]
    return bool(ips) and all(
        o is not None and (o.active_owner_attrs or {}).get("node") == node for o in owners
    )


def cmd_status(inv: Invocation) -> None:
    ds = reachable_datastore(inv)
    conf = inv.conf.ipam
    for version, wanted in ((4, conf.assign_ipv4), (6, conf.assign_ipv6)):
        if wanted and not any(not p.disabled for p in list_pools(ds, version)):
            raise CniError(NOT_AVAILABLE, f"no enabled IPv{version} pool", "ADD would fail")


COMMANDS: dict[str, Command] = {
    "ADD": cmd_add,
    "DEL": cmd_del,
    "CHECK": cmd_check,
    "GC": cmd_gc,
    "STATUS": cmd_status,
}


def main(argv: Sequence[str] | None = None) -> int:
    return plugin_main(COMMANDS, ABOUT, argv)


if __name__ == "__main__":
    sys.exit(main())
