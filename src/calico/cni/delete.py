"""CNI DEL (``cmdDel`` / ``CmdDelK8s``): best effort, idempotent.

Every step runs even when an earlier one failed, and each treats "already
gone" as done, so DEL can be repeated until it succeeds (SPEC: plugins MUST
accept multiple DELs):

1. the container interface, inside ``CNI_NETNS`` if it still exists
   (deleting one end of a veth deletes both, and the host route with it);
2. the WorkloadEndpoint, unless it now belongs to another container (a k8s
   pod re-created with a new sandbox keeps its endpoint name); with it goes
   the host-side veth if the container side could not be reached;
3. the IP addresses, through the IPAM delegate (by handle, so this works
   without the netns or the endpoint).

The addresses go last so that none is handed out again while a veth or a
route for it may still exist.  The first failure is reported, after all
steps ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from calico.cni import ipam, netsetup, store
from calico.cni.invocation import Invocation

_log = logging.getLogger(__name__)


def cmd_del(inv: Invocation) -> None:
    args = inv.args
    failures: list[Exception] = []
    steps: list[tuple[str, Callable[[], object]]] = [
        ("container interface", lambda: _teardown(args.netns, args.ifname)),
        ("workload endpoint", lambda: _delete_endpoint(inv)),
        ("IP addresses", lambda: ipam.delete(inv.conf.ipam.type, args)),
    ]
    for what, step in steps:
        try:
            step()
        except Exception as exc:
            _log.error("DEL: removing the %s failed: %s", what, exc)
            failures.append(exc)
    if failures:
        raise failures[0]


def _teardown(netns_path: str, ifname: str) -> None:
    if netns_path:  # DEL may come without a netns (it is optional)
        netsetup.teardown(netns_path, ifname)


def _delete_endpoint(inv: Invocation) -> None:
    ds = inv.datastore()
    store.ensure_ready(ds)
    ids = inv.ids
    stored = store.get_endpoint(ds, ids.namespace, ids.name)
    if stored is None:
        _log.info("Endpoint %s does not exist; nothing to delete", ids.name)
        return
    if store.delete_endpoint(ds, stored, inv.args.container_id):
        host_side = stored.spec.get("interfaceName", "")
        if host_side and netsetup.remove_host_side(host_side):
            _log.info("Deleted host interface %s (container side was unreachable)", host_side)
