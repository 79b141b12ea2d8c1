"""Claiming and releasing block affinities, removing a host, IPAM configuration."""

from __future__ import annotations

import ipaddress
import json

import pytest

from calico.datastore import MemoryDatastore
from calico.errors import IPAMError, ValidationError
from calico.ipam import IPAMClient, IPAMConfig
from calico.ipam import keys as ipam_keys
from tests.unit.ipam._cluster import add_node, add_pool, affinities, block_cidrs, stored_block


@pytest.fixture
def cluster(ds: MemoryDatastore) -> MemoryDatastore:
    add_pool(ds, "pool", "10.0.0.0/24")
    add_node(ds, "node1")
    add_node(ds, "node2")
    return ds


def test_claim_affinity(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    claimed, failed = ipam.claim_affinity("10.0.0.0/25", "node1")
    assert (claimed, failed) == (["10.0.0.0/26", "10.0.0.64/26"], [])
    claimed, failed = ipam.claim_affinity("10.0.0.64/26", "node2")
    assert (claimed, failed) == ([], ["10.0.0.64/26"])
    assert affinities(cluster, "node2") == {}  # the losing pending affinity is cleaned up
    assert ipam.claim_affinity("10.0.0.64/26", "node1") == (["10.0.0.64/26"], [])  # idempotent


def test_claim_affinity_validation(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    with pytest.raises(IPAMError, match="not within any configured pools"):
        ipam.claim_affinity("192.168.0.0/26", "node1")
    with pytest.raises(IPAMError, match="smaller than the minimum"):
        ipam.claim_affinity("10.0.0.0/28", "node1")
    with pytest.raises(ValidationError):
        ipam.claim_affinity("nonsense", "node1")


def test_release_affinity(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    ipam.claim_affinity("10.0.0.0/25", "node1")
    ipam.assign_ip("10.0.0.70", "h", None, "node1")
    ipam.release_affinity("10.0.0.0/25", "node1", must_be_empty=True)
    assert affinities(cluster, "node1") == {"10.0.0.64/26": "confirmed"}
    assert block_cidrs(cluster) == ["10.0.0.64/26"]
    ipam.release_affinity("10.0.0.0/25", "node2")  # not node2's: nothing happens
    assert affinities(cluster, "node1") == {"10.0.0.64/26": "confirmed"}
    ipam.release_affinity("10.0.0.64/26", "node1")
    block = stored_block(cluster, "10.0.0.64/26")
    assert block is not None
    assert block.affinity is None
    assert ipam.ips_by_handle("h") == ["10.0.0.70"]


def test_remove_ipam_host(cluster: MemoryDatastore, ipam: IPAMClient) -> None:
    ipam.auto_assign(1, 0, "h", None, "node1")
    ipam.claim_affinity("10.0.0.128/26", "node1")
    cluster.put(
        ipam_keys.affinity_key("node1", ipaddress.ip_network("10.0.0.192/26")),
        json.dumps({"state": "pending", "deleted": False}),
    )
    ipam.remove_ipam_host("node1")
    assert affinities(cluster, "node1") == {}
    assert cluster.list(ipam_keys.host_prefix("node1"))[0] == []
    assert len(block_cidrs(cluster)) == 1  # the non-empty block survives, ownerless
    assert len(ipam.ips_by_handle("h")) == 1


class TestConfig:
    def test_defaults(self, ipam: IPAMClient) -> None:
        assert ipam.get_ipam_config() == IPAMConfig(False, True, 0, 0)

    def test_set_writes_the_v3_resource(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        ipam.set_ipam_config(strict_affinity=True, max_blocks_per_host=3)
        kv = ds.get("/calico/resources/v3/projectcalico.org/ipamconfigurations/default")
        assert kv is not None
        doc = json.loads(kv.value)
        assert doc["kind"] == "IPAMConfiguration"
        assert doc["spec"]["strictAffinity"] is True
        assert doc["spec"]["maxBlocksPerHost"] == 3
        assert ipam.get_ipam_config() == IPAMConfig(True, True, 3, 0)
        ipam.set_ipam_config(ip_cooldown_seconds=30)
        assert ipam.get_ipam_config() == IPAMConfig(True, True, 3, 30)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"auto_allocate_blocks": False}, "at the same time"),
            ({"max_blocks_per_host": 2}, "requires StrictAffinity"),
            ({"ip_cooldown_seconds": 5000}, "between 0 and 1200"),
        ],
    )
    def test_refused_combinations(
        self, ipam: IPAMClient, changes: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ValidationError, match=message):
            ipam.set_ipam_config(**changes)  # type: ignore[arg-type]
        assert ipam.get_ipam_config() == IPAMConfig()

    def test_reads_calicos_legacy_key(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        ds.put(
            "/calico/ipam/v2/config",
            json.dumps(
                {"strict_affinity": True, "auto_allocate_blocks": True, "maxBlocksPerHost": 4}
            ),
        )
        assert ipam.get_ipam_config() == IPAMConfig(True, True, 4, 0)
