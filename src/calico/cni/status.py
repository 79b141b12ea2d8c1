"""CNI STATUS (spec 1.1): can this plugin serve an ADD right now?

Ready means the datastore answers (and does not say an upgrade is under
way), and the IPAM delegate reports ready too (SPEC: STATUS is forwarded to
delegates).  Not ready is error 50.  An sqlite datastore whose file does not
exist is not ready: opening it would create an empty store, and calico-node
(which creates it) is evidently not running.
"""

from __future__ import annotations

import os

from calico.cni import ipam, store
from calico.cni.invocation import Invocation
from calico.cni.spec import NOT_AVAILABLE, CniError
from calico.datastore import Datastore


def cmd_status(inv: Invocation) -> None:
    reachable_datastore(inv)
    ipam.gc_or_status(inv.conf.ipam.type, "STATUS", inv.args)


def reachable_datastore(inv: Invocation) -> Datastore:
    """The open datastore, after one read; error 50 if it cannot be used."""
    cfg = inv.conf.datastore_config()
    if cfg.type == "sqlite" and not os.path.exists(cfg.sqlite_path):
        raise CniError(NOT_AVAILABLE, "datastore unavailable", f"{cfg.sqlite_path} does not exist")
    try:
        ds = inv.datastore()
        store.ensure_ready(ds)
    except CniError as exc:
        raise CniError(NOT_AVAILABLE, exc.msg, exc.details) from exc
    except Exception as exc:
        raise CniError(NOT_AVAILABLE, "datastore unavailable", str(exc)) from exc
    return ds
