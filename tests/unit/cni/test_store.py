"""The plugin's datastore operations, against the in-memory backend."""

from __future__ import annotations

import json

import pytest

from calico.cni import store
from calico.cni.spec import CmdArgs, CniError
from calico.cni.wep import WorkloadIDs, endpoint_document, identifiers, workload_info
from calico.datastore import MemoryDatastore
from calico.datastore.keys import resource_key
from calico.errors import AlreadyExistsError


def ids_for(container: str, cni_args: str = "", node: str = "n1") -> WorkloadIDs:
    return identifiers(CmdArgs("ADD", container, "/run/netns/x", "eth0", cni_args), node)


def write(ds: MemoryDatastore, ids: WorkloadIDs) -> store.StoredEndpoint:
    info = workload_info({}, {}, ids, "net", k8s_policy=False)
    doc = endpoint_document(ids, info, "net", ["10.0.0.1/32"], "cali0", "02:00:00:00:00:01")
    return store.create_endpoint(ds, doc)


POD = "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web"


def test_find_endpoint_by_workload_whatever_the_interface() -> None:
    ds = MemoryDatastore()
    stored = write(ds, ids_for("c1"))
    found = store.find_endpoint(ds, ids_for("c1"))
    assert found is not None
    assert found.doc == stored.doc
    assert store.find_endpoint(ds, ids_for("c2")) is None
    assert store.find_endpoint(ds, ids_for("c1", node="n2")) is None
    # k8s: the pod's endpoint, whichever sandbox wrote it
    write(ds, ids_for("sandbox1", POD))
    found = store.find_endpoint(ds, ids_for("sandbox2", POD))
    assert found is not None
    assert found.spec["containerID"] == "sandbox1"


def test_a_foreign_object_under_our_name_is_not_ours() -> None:
    ds = MemoryDatastore()
    stored = write(ds, ids_for("c1"))
    foreign = {**stored.doc, "spec": {**stored.spec, "containerID": "someone-else"}}
    ds.put(stored.key, json.dumps(foreign))
    assert store.find_endpoint(ds, ids_for("c1")) is None
    with pytest.raises(AlreadyExistsError):
        write(ds, ids_for("c1"))


def test_update_keeps_server_owned_metadata() -> None:
    ds = MemoryDatastore()
    stored = write(ds, ids_for("c1"))
    doc = {**stored.doc, "metadata": {**stored.doc["metadata"], "uid": "other"}}
    updated = store.update_endpoint(ds, stored, doc)
    assert updated.doc["metadata"]["uid"] == stored.doc["metadata"]["uid"]
    assert updated.revision > stored.revision


def test_delete_only_the_owners_endpoint() -> None:
    ds = MemoryDatastore()
    stored = write(ds, ids_for("sandbox2", POD))
    assert not store.delete_endpoint(ds, stored, "sandbox1")
    assert store.get_endpoint(ds, "ns", stored.name) is not None
    # a stale revision is re-read, not an error
    store.update_endpoint(ds, stored, stored.doc)
    assert store.delete_endpoint(ds, stored, "sandbox2")
    assert store.get_endpoint(ds, "ns", stored.name) is None
    assert not store.delete_endpoint(ds, stored, "sandbox2")


def test_ensure_profile_creates_once() -> None:
    ds = MemoryDatastore()
    store.ensure_profile(ds, "net", k8s=False)
    key = resource_key("Profile", "net")
    first = ds.get(key)
    assert first is not None
    store.ensure_profile(ds, "net", k8s=True)
    assert ds.get(key) == first


def test_ensure_ready_follows_cluster_information() -> None:
    ds = MemoryDatastore()
    store.ensure_ready(ds)  # absent: ready
    key = resource_key("ClusterInformation", "default")
    ds.put(key, json.dumps({"spec": {"datastoreReady": False}}))
    with pytest.raises(CniError) as info:
        store.ensure_ready(ds)
    assert info.value.code == 11
    ds.put(key, json.dumps({"spec": {"datastoreReady": True}}))
    store.ensure_ready(ds)
