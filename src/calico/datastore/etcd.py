"""etcd v3 datastore, over etcd's JSON gateway (etcd3gw sessions, no protobuf).

How the contract maps onto etcd:

* revisions are etcd's own: every response header carries the store
  revision, and a single-operation write moves it by exactly one, so the
  header of a write's response is that write's ``mod_revision``;
* ``create`` is a transaction comparing ``create_revision == 0``; ``update``
  and CAS ``delete`` compare ``mod_revision`` (and ``create_revision > 0``,
  so that a missing key never matches), with a read of the key on the
  failure branch to tell NotFound from Conflict in the same round trip;
* ``list`` pages through the prefix pinned at the first page's revision, so
  the snapshot is consistent however many keys there are;
* TTL keys are attached to a fresh lease.  etcd rounds lease TTLs up to its
  minimum (2 s with default timings) and expires them within ~0.5 s;
* ``compact(R)`` compacts etcd at R + 1: etcd keeps the compaction revision
  itself watchable while the contract forgets it too.  When R is the head
  revision etcd cannot forget it, so a watch from exactly R still works
  there; any watch from below R raises CompactedError as everywhere else;
* watches are our own streaming reader (``_etcd_watch``): etcd3gw's watch
  silently drops the compaction response.
"""

from __future__ import annotations

import builtins
from typing import Any

from calico.datastore._base import KV, Datastore, Watcher
from calico.datastore._etcd_http import EtcdHttp, EtcdRequestError, Json, b64, prefix_range, unb64
from calico.datastore._etcd_watch import EtcdWatcher
from calico.errors import AlreadyExistsError, ConflictError, NotFoundError

DEFAULT_TIMEOUT = 10.0
# Keys per range request when listing; bounds each response's size.
LIST_PAGE_SIZE = 2000
# A list whose pinned revision gets compacted mid-way starts again this often.
_LIST_ATTEMPTS = 5


class EtcdDatastore(Datastore):
    """The datastore contract over an etcd v3 cluster; see the module docstring."""

    def __init__(
        self,
        endpoints: builtins.list[str],
        ca_cert: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._http = EtcdHttp(endpoints, ca_cert=ca_cert, cert=cert, key=key, timeout=timeout)
        self.endpoints = self._http.endpoints

    # -- reads ------------------------------------------------------------
    def get(self, key: str) -> KV | None:
        kvs = self._http.post("kv/range", {"key": b64(key)}, idempotent=True).get("kvs", [])
        return _kv(kvs[0]) if kvs else None

    def list(self, prefix: str) -> tuple[builtins.list[KV], int]:
        for _ in range(_LIST_ATTEMPTS - 1):
            try:
                return self._list_once(prefix)
            except EtcdRequestError as exc:
                if not _is_compacted(exc):
                    raise
        return self._list_once(prefix)

    def _list_once(self, prefix: str) -> tuple[builtins.list[KV], int]:
        start, end = prefix_range(prefix)
        items: builtins.list[KV] = []
        revision = 0  # 0 asks etcd for "now"; later pages pin the first page's revision
        while True:
            page = {"key": b64(start), "range_end": b64(end), "limit": LIST_PAGE_SIZE}
            if revision:
                page["revision"] = revision
            response = self._http.post("kv/range", page, idempotent=True)
            revision = revision or _header_revision(response)
            kvs = response.get("kvs", [])
            items.extend(_kv(raw) for raw in kvs)
            if not response.get("more") or not kvs:
                return items, revision
            start = items[-1].key.encode() + b"\0"

    def current_revision(self) -> int:
        probe = {"key": b64("\0"), "count_only": True}
        return _header_revision(self._http.post("kv/range", probe, idempotent=True))

    # -- writes -----------------------------------------------------------
    def create(self, key: str, value: str, *, ttl: int | None = None) -> int:
        lease = self._grant(ttl)
        compare = [{"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": 0}]
        response = self._txn(compare, {"request_put": _put_request(key, value, lease)}, key)
        if not response.get("succeeded"):
            self._revoke(lease)
            raise AlreadyExistsError(f"key already exists: {key}", key=key)
        return _header_revision(response)

    def update(self, key: str, value: str, expected_revision: int) -> int:
        response = self._cas(key, expected_revision, {"request_put": _put_request(key, value, 0)})
        return _header_revision(response)

    def put(self, key: str, value: str, *, ttl: int | None = None) -> int:
        request = _put_request(key, value, self._grant(ttl))
        # A repeated put leaves the same value: safe to retry on another endpoint.
        return _header_revision(self._http.post("kv/put", request, idempotent=True))

    def delete(self, key: str, expected_revision: int | None = None) -> int:
        response = self._cas(key, expected_revision, {"request_delete_range": {"key": b64(key)}})
        return _header_revision(response)

    def compact(self, revision: int) -> None:
        target = min(revision + 1, self.current_revision())
        try:
            self._http.post(
                "kv/compaction", {"revision": target, "physical": True}, idempotent=True
            )
        except EtcdRequestError as exc:
            if not _is_compacted(exc):  # already compacted at or past target: done
                raise

    def watch(self, prefix: str, start_revision: int) -> Watcher:
        return EtcdWatcher(self._http, prefix, start_revision)

    def close(self) -> None:
        self._http.close()

    # -- helpers ----------------------------------------------------------
    def _cas(self, key: str, expected_revision: int | None, operation: Json) -> Json:
        """Run ``operation`` if ``key`` is live (at ``expected_revision`` when given)."""
        compare: builtins.list[Json] = [
            {"key": b64(key), "target": "CREATE", "result": "GREATER", "create_revision": 0}
        ]
        if expected_revision is not None:
            compare.append(
                {
                    "key": b64(key),
                    "target": "MOD",
                    "result": "EQUAL",
                    "mod_revision": expected_revision,
                }
            )
        response = self._txn(compare, operation, key)
        if response.get("succeeded"):
            return response
        found = response["responses"][0]["response_range"].get("kvs", [])
        if not found:
            raise NotFoundError(f"key not found: {key}", key=key)
        raise ConflictError(
            f"revision conflict on {key}: expected {expected_revision}, "
            f"found {found[0]['mod_revision']}",
            key=key,
        )

    def _txn(self, compare: builtins.list[Json], success: Json, key: str) -> Json:
        txn = {
            "compare": compare,
            "success": [success],
            "failure": [{"request_range": {"key": b64(key)}}],
        }
        return self._http.post("kv/txn", txn, idempotent=False)

    def _grant(self, ttl: int | None) -> int:
        """A new lease of ``ttl`` seconds (0 = no lease)."""
        if not ttl:
            return 0
        response = self._http.post("lease/grant", {"TTL": ttl, "ID": 0}, idempotent=False)
        return int(response["ID"])

    def _revoke(self, lease: int) -> None:
        if lease:
            self._http.post("kv/lease/revoke", {"ID": lease}, idempotent=True)


def _put_request(key: str, value: str, lease: int) -> Json:
    request: Json = {"key": b64(key), "value": b64(value)}
    if lease:
        request["lease"] = lease
    return request


def _kv(raw: dict[str, Any]) -> KV:
    # Protobuf JSON omits empty fields: an empty value arrives without "value".
    return KV(
        key=unb64(raw["key"]),
        value=unb64(raw.get("value", "")),
        mod_revision=int(raw["mod_revision"]),
        create_revision=int(raw["create_revision"]),
    )


def _header_revision(response: Json) -> int:
    return int(response["header"]["revision"])


def _is_compacted(exc: EtcdRequestError) -> bool:
    return "required revision has been compacted" in exc.etcd_message
