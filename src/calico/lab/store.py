"""The lab's datastore, opened from this process (the CLI, the demo, tests).

Every host opens the datastore itself (calico-node's environment names it);
this module is for the tools around the lab. A sqlite lab's file is
reachable from anywhere on this machine, since namespaces share the file
system. An etcd lab's etcd listens only inside the lab (``calico.lab.etcd``),
so the calling thread enters the gateway namespace while the store is open.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from calico.cni.netns import entered
from calico.datastore.config import DatastoreConfig, open_datastore
from calico.lab import netns

if TYPE_CHECKING:
    from calico.client import Client
    from calico.datastore import Datastore
    from calico.lab.cluster import Lab


@contextlib.contextmanager
def open_store(lab: Lab) -> Iterator[Datastore]:
    """The lab's datastore, for the block's duration.

    For etcd, the calling thread enters the gateway namespace meanwhile
    (``setns`` moves only this thread): every connection is made from there.
    Keep the block to datastore work; commands it runs would inherit it.
    """
    ns = lab.datastore_netns
    where = entered(str(netns.NETNS_DIR / ns)) if ns else contextlib.nullcontext()
    with where:
        store = open_datastore(DatastoreConfig.from_env(lab.datastore_env()))
        try:
            yield store
        finally:
            store.close()


@contextlib.contextmanager
def open_client(lab: Lab) -> Iterator[Client]:
    """A Client (typed resources) on the lab's datastore; see ``open_store``."""
    from calico.client import Client  # pydantic models: only commands that need them pay

    with open_store(lab) as store:
        yield Client(store)
