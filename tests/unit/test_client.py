"""calico.client.Client over the in-memory datastore: CRUD, CAS, tiers, list, watch."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from calico.client import Client
from calico.datastore import Datastore, EventType, MemoryDatastore
from calico.datastore.sqlite import SqliteDatastore
from calico.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from calico.resources import API_VERSION, Resource, parse_resource

POOL_KEY = "/calico/resources/v3/projectcalico.org/ippools/pool1"


def pool(name: str = "pool1", cidr: str = "10.1.0.0/16", **meta: Any) -> Resource:
    return parse_resource(
        {
            "apiVersion": API_VERSION,
            "kind": "IPPool",
            "metadata": {"name": name, **meta},
            "spec": {"cidr": cidr},
        }
    )


def policy(name: str = "allow", namespace: str = "", tier: str | None = None) -> Resource:
    spec: dict[str, Any] = {"selector": "all()"}
    if tier:
        spec["tier"] = tier
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return parse_resource(
        {"apiVersion": API_VERSION, "kind": "NetworkPolicy", "metadata": meta, "spec": spec}
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Datastore]:
    """Every test runs on each backend: the client must not depend on which."""
    if request.param == "etcd":
        yield request.getfixturevalue("etcd_datastore")
        return
    backend = (
        MemoryDatastore() if request.param == "memory" else SqliteDatastore(str(tmp_path / "c.db"))
    )
    with backend:
        yield backend


@pytest.fixture
def client(store: Datastore) -> Client:
    return Client(store)


# -- create -------------------------------------------------------------------
def test_create_sets_server_metadata(client: Client, store: Datastore) -> None:
    created = client.create(pool())
    kv = store.get(POOL_KEY)
    assert kv is not None
    assert created.metadata.resource_version == str(kv.mod_revision)
    assert re.fullmatch(r"[0-9a-f-]{36}", created.metadata.uid)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created.metadata.creation_timestamp or ""
    )


def test_stored_value_is_full_json_without_resource_version(
    client: Client, store: Datastore
) -> None:
    client.create(pool())
    kv = store.get(POOL_KEY)
    assert kv is not None
    stored = json.loads(kv.value)
    assert stored["kind"] == "IPPool"
    assert stored["spec"]["blockSize"] == 26  # defaults are stored
    assert "resourceVersion" not in stored["metadata"]


def test_create_existing_fails_with_calico_wording(client: Client) -> None:
    client.create(pool())
    with pytest.raises(AlreadyExistsError) as info:
        client.create(pool())
    assert str(info.value) == "resource already exists: IPPool(pool1) with error: <nil>"


def test_create_refuses_a_resource_version(client: Client) -> None:
    with pytest.raises(ValidationError, match=r"metadata\.resourceVersion"):
        client.create(pool(resourceVersion="7"))


def test_create_keeps_given_uid(client: Client) -> None:
    assert client.create(pool(uid="my-uid")).metadata.uid == "my-uid"


def test_namespaced_kinds_default_to_the_default_namespace(
    client: Client, store: Datastore
) -> None:
    created = client.create(policy())
    assert created.namespace == "default"
    key = "/calico/resources/v3/projectcalico.org/networkpolicies/default/allow"
    assert store.get(key) is not None


# -- tiers --------------------------------------------------------------------
def test_first_policy_in_default_tier_creates_the_tier(client: Client) -> None:
    client.create(policy(namespace="prod"))
    tier = client.get("Tier", "default").to_dict()
    assert tier["spec"] == {"order": 1000000, "defaultAction": "Deny"}
    client.create(policy("second", namespace="prod"))  # tier exists: no error
    assert [t.name for t in client.list("Tier")] == ["default"]


def test_policy_in_missing_tier_is_refused(client: Client) -> None:
    with pytest.raises(NotFoundError, match=r"Tier\(security\)"):
        client.create(policy("security.allow", tier="security"))


# -- get / list ---------------------------------------------------------------
def test_get_missing_uses_calico_wording(client: Client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get("NetworkPolicy", "x", "ns1")
    assert str(info.value) == "resource does not exist: NetworkPolicy(ns1/x) with error: <nil>"


def test_get_accepts_aliases(client: Client) -> None:
    client.create(pool())
    assert client.get("ippools", "pool1").name == "pool1"


def test_get_cluster_scoped_with_namespace_is_refused(client: Client) -> None:
    with pytest.raises(ValidationError, match="not a namespaced resource"):
        client.get("IPPool", "pool1", "ns1")


def test_list_one_namespace_or_all(client: Client) -> None:
    client.create(policy("a", "ns1"))
    client.create(policy("b", "ns2"))
    assert [p.name for p in client.list("NetworkPolicy", "ns1")] == ["a"]
    assert [p.name for p in client.list("NetworkPolicy")] == ["a", "b"]


def test_list_with_revision_is_the_store_revision(client: Client, store: Datastore) -> None:
    client.create(pool())
    items, revision = client.list_with_revision("IPPool")
    assert revision == store.current_revision()
    assert items[0].metadata.resource_version == str(revision)


def test_corrupt_stored_value_is_a_validation_error(client: Client, store: Datastore) -> None:
    store.create(POOL_KEY, "{not json")
    with pytest.raises(ValidationError, match="failed to parse datastore entry"):
        client.get("IPPool", "pool1")


# -- update -------------------------------------------------------------------
def test_update_with_current_version(client: Client) -> None:
    created = client.create(pool())
    changed = pool(cidr="10.2.0.0/16", resourceVersion=created.metadata.resource_version)
    updated = client.update(changed)
    assert updated.to_dict()["spec"]["cidr"] == "10.2.0.0/16"
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)


def test_update_with_stale_version_conflicts(client: Client) -> None:
    created = client.create(pool())
    client.update(pool(cidr="10.2.0.0/16"))
    with pytest.raises(ConflictError) as info:
        client.update(pool(resourceVersion=created.metadata.resource_version))
    assert str(info.value) == "update conflict: IPPool(pool1)"


def test_update_keeps_server_metadata_and_takes_new_labels(client: Client) -> None:
    created = client.create(pool(labels={"old": "1"}))
    updated = client.update(pool(labels={"new": "2"}, uid="forged"))
    assert updated.metadata.uid == created.metadata.uid
    assert updated.metadata.creation_timestamp == created.metadata.creation_timestamp
    assert updated.metadata.labels == {"new": "2"}


def test_update_missing_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError, match=r"IPPool\(pool1\)"):
        client.update(pool())


def test_update_without_version_retries_a_lost_race() -> None:
    class RacyStore(MemoryDatastore):
        races = 2

        def update(self, key: str, value: str, expected_revision: int) -> int:
            if self.races:
                self.races -= 1
                self.put(key, self.get(key).value)  # type: ignore[union-attr]
            return super().update(key, value, expected_revision)

    racy = RacyStore()
    client = Client(racy)
    client.create(pool())
    assert client.update(pool(cidr="10.9.0.0/16")).to_dict()["spec"]["cidr"] == "10.9.0.0/16"
    assert racy.races == 0


# -- apply / delete -----------------------------------------------------------
def test_apply_creates_then_updates(client: Client) -> None:
    first = client.apply(pool())
    second = client.apply(pool(cidr="10.3.0.0/16"))
    assert second.metadata.uid == first.metadata.uid
    assert second.to_dict()["spec"]["cidr"] == "10.3.0.0/16"


def test_apply_with_version_of_a_deleted_resource_recreates_it(client: Client) -> None:
    created = client.create(pool())
    client.delete("IPPool", "pool1")
    again = client.apply(pool(resourceVersion=created.metadata.resource_version))
    assert again.name == "pool1"


def test_delete_returns_the_resource(client: Client) -> None:
    client.create(pool())
    deleted = client.delete("IPPool", "pool1")
    assert deleted.name == "pool1"
    with pytest.raises(NotFoundError):
        client.get("IPPool", "pool1")


def test_delete_with_stale_version_conflicts(client: Client) -> None:
    created = client.create(pool())
    client.update(pool(cidr="10.4.0.0/16"))
    with pytest.raises(ConflictError, match="update conflict"):
        client.delete("IPPool", "pool1", resource_version=created.metadata.resource_version)
    assert client.get("IPPool", "pool1")


def test_delete_missing_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError, match="resource does not exist: IPPool"):
        client.delete("IPPool", "nope")


# -- watch --------------------------------------------------------------------
def test_watch_decodes_puts_and_deletes(client: Client) -> None:
    client.create(pool("before"))
    with client.watch("IPPool") as watcher:
        client.create(pool())
        client.delete("IPPool", "pool1")
        events = watcher.get(timeout=1)
        while len(events) < 2:
            events += watcher.get(timeout=1)
    assert [e.type for e in events] == [EventType.PUT, EventType.DELETE]
    assert events[0].resource is not None
    assert events[0].resource.name == "pool1"
    assert events[0].resource.metadata.resource_version == str(events[0].revision)
    assert events[1].resource is None
    assert events[1].key == POOL_KEY


def test_watch_from_a_revision_replays_history(client: Client) -> None:
    created = client.create(pool())
    with client.watch("IPPool", revision=int(created.metadata.resource_version)) as watcher:
        [event] = watcher.get(timeout=1)
    assert event.resource is not None
    assert event.resource.name == "pool1"
