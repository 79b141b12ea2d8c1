"""IPAMClient.auto_assign / assign_ip scenarios (REFERENCE 6.2; cases modelled on
libcalico-go ``ipam_test.go``), on the memory datastore."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta

import pytest

from calico.datastore import MemoryDatastore
from calico.errors import IPAMError, NoAddressesError, ValidationError
from calico.ipam import IPAMClient
from calico.ipam import keys as ipam_keys
from calico.ipam._types import format_time
from tests.unit.ipam._cluster import (
    add_node,
    add_pool,
    add_reservation,
    affinities,
    block_cidrs,
    block_of,
    handle_counts,
    stored_block,
)


def addresses(masked: list[str]) -> list[str]:
    return [m.split("/")[0] for m in masked]


class TestAffinity:
    def test_first_assignment_claims_a_block_for_the_host(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "pool", "10.65.0.0/16")
        add_node(ds, "node1")
        v4, v6 = ipam.auto_assign(2, 0, "h1", {"node": "node1"}, "node1")
        assert v6 == []
        assert len(v4) == 2
        assert all(m.endswith("/26") for m in v4)  # block-masked, as Calico returns
        cidr = block_of(v4[0], 26)
        assert affinities(ds, "node1") == {cidr: "confirmed"}
        block = stored_block(ds, cidr)
        assert block is not None
        assert block.affinity == "host:node1"
        assert block.affinity_claim_time is not None
        assert handle_counts(ds, "h1") == {cidr: 2}
        assert ipam.get_assignment_attributes(v4[0]) is not None

    def test_later_assignments_reuse_the_affine_block(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "pool", "10.65.0.0/16")
        add_node(ds, "node1")
        first, _ = ipam.auto_assign(1, 0, "h1", None, "node1")
        second, _ = ipam.auto_assign(1, 0, "h2", None, "node1")
        assert block_of(first[0], 26) == block_of(second[0], 26)
        assert block_cidrs(ds) == [block_of(first[0], 26)]

    def test_hosts_get_different_blocks(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.65.0.0/16")
        for name in ("node1", "node2", "node3"):
            add_node(ds, name)
        blocks = {
            block_of(ipam.auto_assign(1, 0, n, None, n)[0][0], 26)
            for n in ("node1", "node2", "node3")
        }
        assert len(blocks) == 3

    def test_new_block_claimed_when_affine_block_is_full(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "pool", "10.0.0.0/24", 30)  # 4 addresses per block
        add_node(ds, "node1")
        v4, _ = ipam.auto_assign(6, 0, "h", None, "node1")
        assert len(set(v4)) == 6
        assert len(affinities(ds, "node1")) == 2
        assert sum(handle_counts(ds, "h").values()) == 6  # type: ignore[union-attr]

    def test_missing_block_of_an_existing_affinity_is_recreated(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "pool", "10.0.0.0/24")
        add_node(ds, "node1")
        cidr = ipaddress.ip_network("10.0.0.128/26")
        ds.put(ipam_keys.affinity_key("node1", cidr), json.dumps({"state": "confirmed"}))
        v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
        assert ipaddress.ip_address(addresses(v4)[0]) in cidr
        assert stored_block(ds, str(cidr)) is not None
        assert affinities(ds, "node1") == {str(cidr): "confirmed"}

    def test_pending_affinity_left_by_a_crash_is_confirmed(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "pool", "10.0.0.0/24")
        add_node(ds, "node1")
        ipam.auto_assign(1, 0, "h", None, "node1")
        [(cidr, _)] = affinities(ds, "node1").items()
        key = ipam_keys.affinity_key("node1", ipaddress.ip_network(cidr))
        ds.put(key, json.dumps({"state": "pending", "deleted": False}))
        v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
        assert block_of(v4[0], 26) == cidr
        assert affinities(ds, "node1") == {cidr: "confirmed"}

    def test_stale_affinity_is_removed(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/24")
        add_node(ds, "node1")
        add_node(ds, "node2")
        v4, _ = ipam.auto_assign(1, 0, "h2", None, "node2")
        theirs = block_of(v4[0], 26)
        ds.put(
            ipam_keys.affinity_key("node1", ipaddress.ip_network(theirs)),
            json.dumps({"state": "confirmed"}),
        )
        mine, _ = ipam.auto_assign(1, 0, "h1", None, "node1")
        assert block_of(mine[0], 26) != theirs
        assert theirs not in affinities(ds, "node1")

    def test_unknown_node_is_refused(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/24")
        with pytest.raises(IPAMError, match="ghost"):
            ipam.auto_assign(1, 0, "h", None, "ghost")


class TestBorrowing:
    @pytest.fixture
    def two_full_blocks(self, ds: MemoryDatastore, ipam: IPAMClient) -> dict[str, str]:
        """node1 owns one block with two free addresses; node2 owns a full one."""
        add_pool(ds, "pool", "10.0.0.0/29", 30)  # two blocks of four
        add_node(ds, "node1")
        add_node(ds, "node2")
        one, _ = ipam.auto_assign(2, 0, "h1", {"node": "node1"}, "node1")
        two, _ = ipam.auto_assign(4, 0, "h2", {"node": "node2"}, "node2")
        return {"node1": block_of(one[0], 30), "node2": block_of(two[0], 30)}

    def test_borrows_from_another_hosts_block(
        self, ds: MemoryDatastore, ipam: IPAMClient, two_full_blocks: dict[str, str]
    ) -> None:
        v4, _ = ipam.auto_assign(1, 0, "h3", {"node": "node2"}, "node2")
        assert block_of(v4[0], 30) == two_full_blocks["node1"]
        block = stored_block(ds, two_full_blocks["node1"])
        assert block is not None
        assert block.affinity == "host:node1"  # borrowing does not move the block

    def test_strict_affinity_forbids_borrowing(
        self, ds: MemoryDatastore, ipam: IPAMClient, two_full_blocks: dict[str, str]
    ) -> None:
        ipam.set_ipam_config(strict_affinity=True)
        with pytest.raises(NoAddressesError, match="strict affinity"):
            ipam.auto_assign(1, 0, "h3", None, "node2")
        assert handle_counts(ds, "h3") is None

    def test_pool_exhausted_rolls_back_everything(
        self, ds: MemoryDatastore, ipam: IPAMClient, two_full_blocks: dict[str, str]
    ) -> None:
        with pytest.raises(NoAddressesError, match="Assigned 2 out of 3"):
            ipam.auto_assign(3, 0, "h3", None, "node2")
        assert handle_counts(ds, "h3") is None
        assert ipam.ips_by_handle("h3") == []
        assert ipam.get_utilization()[0].in_use == 6

    def test_reclaims_an_empty_block_claimed_long_ago(
        self, ds: MemoryDatastore, ipam: IPAMClient, two_full_blocks: dict[str, str]
    ) -> None:
        ipam.set_ipam_config(strict_affinity=True)
        ipam.release_by_handle("h1")  # node1's block is now empty but still node1's
        cidr = two_full_blocks["node1"]
        self._age_claim(ds, cidr, timedelta(minutes=2))
        v4, _ = ipam.auto_assign(1, 0, "h3", None, "node2")
        assert block_of(v4[0], 30) == cidr
        assert affinities(ds, "node1") == {}
        assert cidr in affinities(ds, "node2")

    def test_recently_claimed_empty_block_is_not_reclaimed(
        self, ds: MemoryDatastore, ipam: IPAMClient, two_full_blocks: dict[str, str]
    ) -> None:
        ipam.set_ipam_config(strict_affinity=True)
        ipam.release_by_handle("h1")
        with pytest.raises(NoAddressesError):
            ipam.auto_assign(1, 0, "h3", None, "node2")
        assert two_full_blocks["node1"] in affinities(ds, "node1")

    @staticmethod
    def _age_claim(ds: MemoryDatastore, cidr: str, age: timedelta) -> None:
        key = ipam_keys.block_key(ipaddress.ip_network(cidr))
        kv = ds.get(key)
        assert kv is not None
        data = json.loads(kv.value)
        data["affinity_claim_time"] = format_time(datetime.now(UTC) - age)
        ds.put(key, json.dumps(data))


class TestLimits:
    def test_max_blocks_per_host_from_config(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/24", 30)
        add_node(ds, "node1")
        ipam.set_ipam_config(strict_affinity=True, max_blocks_per_host=1)
        ipam.auto_assign(4, 0, "h", None, "node1")
        with pytest.raises(NoAddressesError, match="limit of 1 blocks reached"):
            ipam.auto_assign(1, 0, "h2", None, "node1")
        assert len(affinities(ds, "node1")) == 1

    def test_max_blocks_per_host_per_request(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/24", 30)
        add_node(ds, "node1")
        with pytest.raises(NoAddressesError, match="limit of 2 blocks"):
            ipam.auto_assign(9, 0, "h", None, "node1", max_blocks_per_host=2)
        assert ipam.ips_by_handle("h") == []

    def test_default_limit_is_twenty_blocks(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/24", 32)  # 256 single-address blocks
        add_node(ds, "node1")
        ipam.set_ipam_config(strict_affinity=True)
        ipam.auto_assign(20, 0, "h", None, "node1")
        with pytest.raises(NoAddressesError, match="limit of 20 blocks"):
            ipam.auto_assign(1, 0, "h", None, "node1")

    def test_no_auto_allocation_uses_only_claimed_blocks(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "pool", "10.0.0.0/24", 30)
        add_node(ds, "node1")
        ipam.set_ipam_config(strict_affinity=True, auto_allocate_blocks=False)
        with pytest.raises(NoAddressesError):
            ipam.auto_assign(1, 0, "h", None, "node1")
        ipam.claim_affinity("10.0.0.8/30", "node1")
        v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
        assert addresses(v4) == ["10.0.0.8"]


class TestPoolSelection:
    def test_reserved_addresses_are_skipped(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/26")  # a single block
        add_node(ds, "node1")
        add_reservation(ds, "r", "10.0.0.0/30", "10.0.0.5")
        v4, _ = ipam.auto_assign(3, 0, "h", None, "node1")
        assert addresses(v4) == ["10.0.0.4", "10.0.0.6", "10.0.0.7"]

    def test_wholly_reserved_block_is_never_claimed(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "pool", "10.0.0.0/25")  # two blocks
        add_node(ds, "node1")
        add_reservation(ds, "r", "10.0.0.0/26")
        for n in range(5):
            v4, _ = ipam.auto_assign(1, 0, f"h{n}", None, "node1")
            assert block_of(v4[0], 26) == "10.0.0.64/26"
        assert block_cidrs(ds) == ["10.0.0.64/26"]

    def test_disabled_pools_are_not_used(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "off", "10.1.0.0/24", disabled=True)
        add_node(ds, "node1")
        with pytest.raises(NoAddressesError, match="no configured Calico pools"):
            ipam.auto_assign(1, 0, "h", None, "node1")
        add_pool(ds, "on", "10.2.0.0/24")
        v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
        assert v4[0].startswith("10.2.0.")

    def test_node_selector_picks_the_pool(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "a", "10.1.0.0/24", node_selector="zone == 'a'")
        add_pool(ds, "b", "10.2.0.0/24", node_selector="zone == 'b'")
        add_node(ds, "node-a", {"zone": "a"})
        add_node(ds, "node-b", {"zone": "b"})
        add_node(ds, "node-c", {"zone": "c"})
        assert ipam.auto_assign(1, 0, "ha", None, "node-a")[0][0].startswith("10.1.0.")
        assert ipam.auto_assign(1, 0, "hb", None, "node-b")[0][0].startswith("10.2.0.")
        with pytest.raises(NoAddressesError):
            ipam.auto_assign(1, 0, "hc", None, "node-c")

    def test_node_that_leaves_a_pool_gives_back_its_empty_blocks(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "a", "10.1.0.0/24", node_selector="zone == 'a'")
        add_pool(ds, "b", "10.2.0.0/24", node_selector="zone == 'b'")
        add_node(ds, "node1", {"zone": "a"})
        v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
        ipam.release_by_handle("h")
        old_block = block_of(v4[0], 26)
        assert old_block in affinities(ds, "node1")
        add_node(ds, "node1", {"zone": "b"})
        v4, _ = ipam.auto_assign(1, 0, "h", None, "node1")
        assert v4[0].startswith("10.2.0.")
        assert old_block not in affinities(ds, "node1")
        assert old_block not in block_cidrs(ds)

    def test_requested_pools_by_cidr_or_name_override_selectors(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "a", "10.1.0.0/24")
        add_pool(ds, "special", "10.9.0.0/24", node_selector="!all()")
        add_node(ds, "node1")
        v4, _ = ipam.auto_assign(1, 0, "h1", None, "node1", ipv4_pools=["10.9.0.0/24"])
        assert v4[0].startswith("10.9.0.")
        v4, _ = ipam.auto_assign(1, 0, "h2", None, "node1", ipv4_pools=["special"])
        assert v4[0].startswith("10.9.0.")
        with pytest.raises(IPAMError, match="does not exist"):
            ipam.auto_assign(1, 0, "h3", None, "node1", ipv4_pools=["10.8.0.0/24"])
        with pytest.raises(ValidationError):
            ipam.auto_assign(1, 0, "h3", None, "node1", ipv4_pools=["fd00::/120"])

    def test_allowed_uses(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "workloads", "10.1.0.0/24", allowed_uses=("Workload",))
        add_pool(ds, "tunnels", "10.2.0.0/24", allowed_uses=("Tunnel",))
        add_node(ds, "node1")
        assert ipam.auto_assign(1, 0, "w", None, "node1")[0][0].startswith("10.1.0.")
        tunnel, _ = ipam.auto_assign(1, 0, "t", None, "node1", intended_use="Tunnel")
        assert tunnel[0].startswith("10.2.0.")

    def test_ipv4_and_ipv6_together(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "v4", "10.1.0.0/24")
        add_pool(ds, "v6", "fd00:1::/120")
        add_node(ds, "node1")
        v4, v6 = ipam.auto_assign(1, 2, "h", {"node": "node1"}, "node1")
        assert len(v4) == 1
        assert len(v6) == 2
        assert all(m.endswith("/122") and m.startswith("fd00:1::") for m in v6)
        assert sorted(ipam.ips_by_handle("h")) == sorted(addresses(v4 + v6))
        assert set(affinities(ds, "node1")) == {block_of(v4[0], 26), block_of(v6[0], 122)}

    def test_ipv6_failure_gives_back_the_ipv4_addresses(
        self, ds: MemoryDatastore, ipam: IPAMClient
    ) -> None:
        add_pool(ds, "v4", "10.1.0.0/24")
        add_node(ds, "node1")
        with pytest.raises(NoAddressesError):
            ipam.auto_assign(1, 1, "h", None, "node1")
        assert ipam.ips_by_handle("h") == []
        assert ipam.get_utilization()[0].in_use == 0


class TestAssignIP:
    def test_assigns_and_claims_the_block(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/24")
        ipam.assign_ip("10.0.0.77", "h", {"node": "node1"}, "node1")
        assert affinities(ds, "node1") == {"10.0.0.64/26": "confirmed"}
        attr = ipam.get_assignment_attributes("10.0.0.77")
        assert attr is not None
        assert attr.handle_id == "h"
        assert attr.active_owner_attrs == {"node": "node1"}
        assert handle_counts(ds, "h") == {"10.0.0.64/26": 1}

    def test_taken_address_is_refused(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/24")
        ipam.assign_ip("10.0.0.77", "h", None, "node1")
        with pytest.raises(IPAMError, match="already assigned"):
            ipam.assign_ip("10.0.0.77", "other", None, "node1")
        assert handle_counts(ds, "other") is None

    def test_address_outside_pools_is_refused(self, ipam: IPAMClient) -> None:
        with pytest.raises(IPAMError, match="not in a configured pool"):
            ipam.assign_ip("192.168.9.9", "h", None, "node1")

    def test_pool_not_allowed_for_the_use(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "tunnels", "10.0.0.0/24", allowed_uses=("Tunnel",))
        with pytest.raises(IPAMError, match="not allowed for use"):
            ipam.assign_ip("10.0.0.5", "h", None, "node1")
        ipam.assign_ip("10.0.0.5", "h", None, "node1", intended_use="Tunnel")

    def test_borrowing_a_specific_address(self, ds: MemoryDatastore, ipam: IPAMClient) -> None:
        add_pool(ds, "pool", "10.0.0.0/24")
        ipam.assign_ip("10.0.0.5", "h1", None, "node1")
        ipam.assign_ip("10.0.0.6", "h2", None, "node2")
        assert affinities(ds, "node2") == {}
        ipam.set_ipam_config(strict_affinity=True)
        with pytest.raises(IPAMError, match="strict affinity"):
            ipam.assign_ip("10.0.0.7", "h3", None, "node2")
