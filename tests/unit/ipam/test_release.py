"""Release by address (with handle / sequence-number guards) and by handle,
empty-block cleanup, cooldown, queries."""

from __future__ import annotations

import ipaddress
import json

import pytest

from calico.datastore import MemoryDatastore
from calico.errors import BadSequenceNumberError, IPAMError
from calico.ipam import IPAMClient, ReleaseOptions
from calico.ipam import keys as ipam_keys
from tests.unit.ipam._cluster import (
    add_node,
    add_pool,
    affinities,
    block_cidrs,
    block_of,
    handle_counts,
    stored_block,
)


@pytest.fixture
def cluster(ds: MemoryDatastore) -> MemoryDatastore:
    add_pool(ds, "pool", "10.0.0.0/24")
    add_pool(ds, "pool6", "fd00::/120")
    add_node(ds, "node1")
    add_node(ds, "node2")
    return ds


def sequence_number(ds: MemoryDatastore, address: str) -> int:
    block = stored_block(ds, block_of(address, 26))
    assert block is not None
    return block.sequence_number_of(block.ordinal(ipaddress.ip_address(address)))


def test_release_ips(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    v4, _ = ipam.auto_assign(3, 0, "h", None, "node1")
    first, *rest = [m.split("/")[0] for m in v4]
    assert ipam.release_ips([ReleaseOptions(first, "h")]) == []
    assert sorted(ipam.ips_by_handle("h")) == sorted(rest)
    assert handle_counts(cluster, "h") == {block_of(first, 26): 2}
    assert ipam.get_assignment_attributes(first) is None


def test_release_reports_unallocated_addresses(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
    address = v4[0].split("/")[0]
    unallocated = ipam.release_ips(
        [ReleaseOptions(address), ReleaseOptions("10.0.0.250"), ReleaseOptions("192.168.1.1")]
    )
    assert sorted(unallocated) == ["10.0.0.250", "192.168.1.1"]
    assert handle_counts(cluster, "h") is None  # the handle went with its last address


def test_stale_sequence_number_is_refused(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    v4, _ = ipam.auto_assign(1, 0, "old", None, "node1")
    address = v4[0].split("/")[0]
    seen = sequence_number(cluster, address)
    ipam.release_ips([ReleaseOptions(address)])
    ipam.assign_ip(address, "new", None, "node1")  # reused since
    with pytest.raises(BadSequenceNumberError):
        ipam.release_ips([ReleaseOptions(address, sequence_number=seen)])
    assert ipam.ips_by_handle("new") == [address]
    current = sequence_number(cluster, address)
    assert ipam.release_ips([ReleaseOptions(address, "new", current)]) == []
    assert ipam.ips_by_handle("new") == []


def test_wrong_handle_is_refused(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    v4, _ = ipam.auto_assign(1, 0, "mine", None, "node1")
    address = v4[0].split("/")[0]
    with pytest.raises(IPAMError, match="mine"):
        ipam.release_ips([ReleaseOptions(address, "theirs")])
    assert ipam.ips_by_handle("mine") == [address]


def test_release_by_handle(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    ipam.auto_assign(2, 1, "h", None, "node1")
    ipam.auto_assign(1, 0, "other", None, "node1")
    assert ipam.release_by_handle("h") == 3
    assert ipam.ips_by_handle("h") == []
    assert handle_counts(cluster, "h") is None
    assert len(ipam.ips_by_handle("other")) == 1
    assert ipam.release_by_handle("h") == 0  # idempotent
    assert ipam.release_by_handle("never-existed") == 0


def test_affine_block_stays_when_emptied(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
    ipam.release_by_handle("h")
    cidr = block_of(v4[0], 26)
    assert cidr in block_cidrs(cluster)
    assert affinities(cluster, "node1") == {cidr: "confirmed"}


def test_empty_block_without_affinity_is_deleted(
    cluster: MemoryDatastore, ipam: IPAMClient
) -> None:
    v4, _ = ipam.auto_assign(2, 0, "h", None, "node1")
    cidr = block_of(v4[0], 26)
    ipam.release_host_affinities("node1")  # block not empty: it loses its owner only
    block = stored_block(cluster, cidr)
    assert block is not None
    assert block.affinity is None
    ipam.release_ips([ReleaseOptions(v4[0].split("/")[0])])
    assert cidr in block_cidrs(cluster)
    ipam.release_by_handle("h")
    assert cidr not in block_cidrs(cluster)


def test_release_from_a_deleted_pool(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
    cluster.delete("/calico/resources/v3/projectcalico.org/ippools/pool")
    assert ipam.release_ips([ReleaseOptions(v4[0])]) == []
    assert ipam.ips_by_handle("h") == []


def test_cooldown_delays_reuse(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    ipam.set_ipam_config(ip_cooldown_seconds=600)
    v4, _ = ipam.auto_assign(64, 0, "fill", None, "node1")  # the whole first block
    first = v4[0].split("/")[0]
    ipam.release_ips([ReleaseOptions(first)])
    assert ipam.get_assignment_attributes(first) is None
    util = ipam.get_utilization()[0]
    assert util.in_use == 64  # still held while cooling down
    again, _ = ipam.auto_assign(1, 0, "next", None, "node1")
    assert block_of(again[0], 26) != block_of(first, 26)


def test_queries(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    v4, v6 = ipam.auto_assign(1, 1, "h", {"pod": "p", "namespace": "ns"}, "node1")
    assert sorted(ipam.ips_by_handle("h")) == sorted(m.split("/")[0] for m in v4 + v6)
    attr = ipam.get_assignment_attributes(v6[0])
    assert attr is not None
    assert attr.handle_id == "h"
    assert attr.active_owner_attrs == {"pod": "p", "namespace": "ns"}
    assert ipam.get_assignment_attributes("10.0.0.200") is None
    assert ipam.get_assignment_attributes("172.16.0.1") is None
    assert ipam.ips_by_handle("unknown") == []


def test_soft_deleted_values_are_ignored(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    ipam.auto_assign(1, 0, "h", None, "node1")
    key = ipam_keys.handle_key("h")
    kv = cluster.get(key)
    assert kv is not None
    cluster.put(key, json.dumps({**json.loads(kv.value), "deleted": True}))
    assert ipam.ips_by_handle("h") == []
