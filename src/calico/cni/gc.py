"""CNI GC (spec 1.1): remove what belongs to attachments the runtime no longer has.

The runtime lists the still-valid attachments (``cni.dev/valid-attachments``:
container ID + interface name) of one network.  Stale here means a
WorkloadEndpoint of *this node* and *this network* (the
``cni.projectcalico.org/network`` annotation ADD writes) whose container and
interface are not in the list.  Each goes with its host-side veth, if the
container namespace somehow kept it alive.  Endpoints written by anything
else (no annotation: OpenStack, the lab, upstream Calico) are never touched.

GC is forwarded to the IPAM delegate first (calico-ipam releases the
network's handles of this node that are not listed).  Errors do not stop
the sweep; the first one is reported at the end.
"""

from __future__ import annotations

import logging
from typing import Any

from calico.cni import ipam, netsetup, store
from calico.cni.invocation import Invocation
from calico.cni.spec import INVALID_CONFIG, CniError

VALID_ATTACHMENTS = "cni.dev/valid-attachments"

_log = logging.getLogger(__name__)


def valid_attachments(config: dict[str, Any]) -> set[tuple[str, str]]:
    """(containerID, ifname) pairs of ``cni.dev/valid-attachments`` (error 7 if malformed)."""
    raw = config.get(VALID_ATTACHMENTS, [])
    if not isinstance(raw, list):
        raise CniError(INVALID_CONFIG, f"invalid {VALID_ATTACHMENTS}", "expected a list")
    pairs = set()
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("containerID"), str):
            raise CniError(INVALID_CONFIG, f"invalid {VALID_ATTACHMENTS}", f"entry {item!r}")
        pairs.add((item["containerID"], str(item.get("ifname", ""))))
    return pairs


def cmd_gc(inv: Invocation) -> None:
    valid = valid_attachments(inv.args.config)
    failures: list[Exception] = []
    try:
        ipam.gc_or_status(inv.conf.ipam.type, "GC", inv.args)
    except Exception as exc:
        failures.append(exc)
    ds = inv.datastore()
    for stale in _stale_endpoints(inv, valid):
        try:
            _log.info("GC: removing endpoint %s", stale.name)
            netsetup.remove_host_side(stale.spec.get("interfaceName", ""))
            store.delete_endpoint(ds, stale, stale.spec.get("containerID", ""))
        except Exception as exc:
            _log.error("GC: could not remove endpoint %s: %s", stale.name, exc)
            failures.append(exc)
    if failures:
        raise failures[0]


def _stale_endpoints(inv: Invocation, valid: set[tuple[str, str]]) -> list[store.StoredEndpoint]:
    return [
        ep
        for ep in store.list_endpoints(inv.datastore())
        if ep.spec.get("node") == inv.nodename
        and ep.network == inv.conf.name
        and (ep.spec.get("containerID", ""), ep.spec.get("endpoint", "")) not in valid
    ]
