"""Typed CRUD, list and watch of ``projectcalico.org/v3`` resources over a Datastore.

The equivalent of libcalico-go's ``clientv3``: every component that reads or
writes Calico resources goes through :class:`Client`, never through raw keys.

Storage
~~~~~~~
A resource lives at :func:`calico.datastore.keys.resource_key` as the JSON of
``Resource.to_dict()`` (full, defaulted), *without* ``resourceVersion``: the
version is the key's ``mod_revision``, stamped back on every read
(``clientv3/resources.go`` ``resourceToKVPair`` / ``kvPairToResource``);
see ``_codec.py``.

Concurrency
~~~~~~~~~~~
Every write is compare-and-swap.  ``update`` with a ``resourceVersion`` is an
optimistic-concurrency write that fails with ConflictError when the object
moved on; without one it reads the latest version and retries a few times.
The server-owned metadata (``uid``, ``creationTimestamp``) always comes from
the stored object; ``labels`` and ``annotations`` from the caller, as
calicoctl's ``mergeMetadataForUpdate`` does.

Errors use libcalico-go's wording (``libcalico-go/lib/errors/errors.go`` as
produced by the etcdv3 backend), because scripts grep for it:
``resource does not exist: IPPool(p) with error: <nil>``,
``resource already exists: NetworkPolicy(ns/p) with error: <nil>``,
``update conflict: Tier(t)``.
"""

from calico.client._client import Client
from calico.client._watch import ResourceEvent, ResourceWatcher

__all__ = ["Client", "ResourceEvent", "ResourceWatcher"]
