"""AllocationBlock: pure operations.  Cases ported from libcalico-go
``ipam_block_test.go`` and ``garbage_collect_test.go`` (a 100.64.0.0/24 block)."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta

import pytest

from calico.errors import BadSequenceNumberError, IPAMError
from calico.ipam.block import (
    WINDOWS_RESERVED_HANDLE,
    AllocationAttribute,
    AllocationBlock,
    ReleaseOptions,
)
from calico.ipam.check import validate_block
from calico.ipam.reserved import Reservations

NET = ipaddress.ip_network("100.64.0.0/24")
NO_RESERVATIONS = Reservations()


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def make_block() -> AllocationBlock:
    return AllocationBlock.new(NET)


def allocate_attr(block: AllocationBlock, ordinals: list[int], attr: AllocationAttribute) -> None:
    """Link ``ordinals`` to a new attribute entry (the Go test's allocateAttrib)."""
    block.attributes.append(attr)
    for o in ordinals:
        block.allocations[o] = len(block.attributes) - 1
    block.unallocated = [o for o in block.unallocated if o not in ordinals]


def allocate(block: AllocationBlock, ordinals: list[int], handle: str) -> None:
    allocate_attr(block, ordinals, AllocationAttribute(handle_id=handle))


def allocated(block: AllocationBlock) -> list[int]:
    return [o for o, i in enumerate(block.allocations) if i is not None]


def valid(block: AllocationBlock) -> bool:
    assert validate_block(block) == []
    return True


class TestSummary:
    def test_empty_block_is_empty(self) -> None:
        assert make_block().empty()

    def test_windows_reserved_only_is_empty(self) -> None:
        block = make_block()
        allocate(block, [255], WINDOWS_RESERVED_HANDLE)
        assert block.empty()

    def test_non_empty(self) -> None:
        block = make_block()
        allocate(block, [32], "alloc")
        assert not block.empty()

    def test_in_use_ips(self) -> None:
        block = make_block()
        assert block.in_use_ips() == []
        allocate(block, [10, 20], "tens")
        assert block.in_use_ips() == [ip("100.64.0.10"), ip("100.64.0.20")]

    @pytest.mark.parametrize(
        ("reserved", "free", "num_reserved"),
        [
            ([], 256 - 2 - 2, 0),
            (["100.64.0.128/25"], 128 - 2, 128),
            (["100.64.0.0/16"], 0, 256),  # the Go test's "100.64.0.128/24" masks to this block
            (["100.64.0.0/25", "100.64.0.128/25"], 0, 256),  # together they cover it
        ],
    )
    def test_free_and_reserved_counts(
        self, reserved: list[str], free: int, num_reserved: int
    ) -> None:
        block = make_block()
        allocate(block, [10, 20, 210, 220], "tens")
        filt = Reservations(ipaddress.ip_network(r) for r in reserved)
        assert block.num_free(filt) == free
        assert block.num_reserved(filt) == num_reserved

    def test_ips_by_handle_zero_one_many(self) -> None:
        block = make_block()
        allocate(block, [3], "singleton")
        allocate(block, [10, 20], "tens")
        allocate(block, [33], "thirties")
        allocate(block, [34], "thirties")
        assert block.ips_by_handle("no-such-handle") == []
        assert block.ips_by_handle("singleton") == [ip("100.64.0.3")]
        assert block.ips_by_handle("tens") == [ip("100.64.0.10"), ip("100.64.0.20")]
        assert block.ips_by_handle("thirties") == [ip("100.64.0.33"), ip("100.64.0.34")]

    def test_attributes_of_unallocated_ip(self) -> None:
        assert make_block().attributes_for(ip("100.64.0.32")) is None

    def test_attributes_of_allocated_ip(self) -> None:
        block = make_block()
        attr = AllocationAttribute("hand", {"is": "active"}, {"is": "alternate"})
        allocate_attr(block, [32], attr)
        assert block.attributes_for(ip("100.64.0.32")) == attr

    def test_ip_outside_block(self) -> None:
        with pytest.raises(IPAMError, match="not in block"):
            make_block().ordinal(ip("100.64.1.1"))


class TestRelease:
    def test_deallocates_a_single_ip(self) -> None:
        block = make_block()
        allocate(block, [13], "unlucky")
        missing, counts = block.release([ReleaseOptions("100.64.0.13", "unlucky")], 0)
        assert (missing, counts) == ([], {"unlucky": 1})
        assert allocated(block) == []
        assert valid(block)

    def test_leaves_shared_attributes_behind(self) -> None:
        block = make_block()
        allocate(block, [13, 26, 39], "lucky")
        missing, counts = block.release([ReleaseOptions("100.64.0.13")], 0)
        assert (missing, counts) == ([], {"lucky": 1})
        assert allocated(block) == [26, 39]
        assert valid(block)

    def test_deallocates_all_ips_sharing_an_attribute(self) -> None:
        block = make_block()
        allocate(block, [13, 26, 39], "lucky")
        opts = [ReleaseOptions(f"100.64.0.{n}") for n in (13, 26, 39)]
        assert block.release(opts, 0) == ([], {"lucky": 3})
        assert allocated(block) == []
        assert block.attributes == []
        assert valid(block)

    def test_unallocated_ip_is_reported(self) -> None:
        block = make_block()
        missing, counts = block.release([ReleaseOptions("100.64.0.13", "unlucky")], 0)
        assert (missing, counts) == ([ip("100.64.0.13")], {})
        assert valid(block)

    def test_mismatched_handle_is_refused_and_nothing_changes(self) -> None:
        block = make_block()
        allocate(block, [100], "newstuff")
        before = block.to_json()
        with pytest.raises(IPAMError, match="newstuff"):
            block.release([ReleaseOptions("100.64.0.100", "oldstuff")], 0)
        assert block.to_json() == before

    def test_mismatched_sequence_number_is_refused(self) -> None:
        block = make_block()
        allocate(block, [13], "unlucky")
        block.sequence_number_for_allocation["13"] = 10
        with pytest.raises(BadSequenceNumberError):
            block.release([ReleaseOptions("100.64.0.13", "unlucky", 999)], 0)
        assert allocated(block) == [13]
        assert valid(block)

    def test_matching_sequence_number_releases(self) -> None:
        block = make_block()
        allocate(block, [13], "unlucky")
        block.sequence_number_for_allocation["13"] = 10
        assert block.release([ReleaseOptions("100.64.0.13", "unlucky", 10)], 0)[1] == {"unlucky": 1}
        assert "13" not in block.sequence_number_for_allocation

    def test_released_ordinal_goes_to_the_tail(self) -> None:
        block = make_block()
        [first] = block.auto_assign(1, "h", None, NO_RESERVATIONS)
        block.release([ReleaseOptions(str(first))], 0)
        assert block.unallocated[-1] == 0
        assert block.unallocated[0] == 1


class TestReleaseByHandle:
    def test_no_such_handle(self) -> None:
        block = make_block()
        assert block.release_by_handle("nosuchhandle", 0) == 0
        assert valid(block)

    def test_removes_an_existing_allocation(self) -> None:
        block = make_block()
        allocate(block, [15], "fifteen")
        allocate(block, [20], "twenty")
        assert block.release_by_handle("fifteen", 0) == 1
        assert allocated(block) == [20]
        assert block.unallocated[-1] == 15
        assert valid(block)

    def test_skips_mismatched_sequence_numbers(self) -> None:
        block = make_block()
        allocate(block, [15], "teens")
        allocate(block, [16], "teens")
        allocate(block, [17, 18], "teens")
        for o, seq in ((15, 10), (16, 10), (17, 999), (18, 10)):
            block.sequence_number_for_allocation[str(o)] = seq
        assert block.release_by_handle("teens", 0, sequence_number=10) == 3
        assert allocated(block) == [17]
        assert valid(block)

    @pytest.mark.parametrize("shared", [True, False])
    def test_removes_several(self, shared: bool) -> None:
        block = make_block()
        if shared:
            allocate(block, [15, 25, 35], "several")
        else:
            for o in (15, 25, 35):
                allocate(block, [o], "several")
        assert block.release_by_handle("several", 0) == 3
        assert allocated(block) == []
        assert sorted(block.unallocated[-3:]) == [15, 25, 35]
        assert valid(block)


class TestGarbageCollection:
    def test_empty_block_unchanged(self) -> None:
        block = make_block()
        assert block.garbage_collect(0) is False
        assert valid(block)

    def test_clears_unused_attributes(self) -> None:
        block = make_block()
        block.attributes += [AllocationAttribute("spurious1"), AllocationAttribute("spurious2")]
        allocate(block, [32], "thirty-two")
        assert block.garbage_collect(0) is True
        assert allocated(block) == [32]
        assert block.attributes == [AllocationAttribute("thirty-two")]
        assert valid(block)

    def test_old_and_new_released_ips(self) -> None:
        now = datetime.now(UTC)
        block = make_block()
        allocate_attr(block, [31, 33], AllocationAttribute(released_at=now - timedelta(minutes=1)))
        allocate_attr(block, [42, 44], AllocationAttribute(released_at=now + timedelta(minutes=1)))
        allocate(block, [52, 54], "fifties")
        assert block.garbage_collect(30, now) is True
        assert allocated(block) == [42, 44, 52, 54]
        assert block.num_free(NO_RESERVATIONS) == 256 - 4
        assert valid(block)

    def test_cooldown_keeps_released_ip_allocated(self) -> None:
        now = datetime.now(UTC)
        block = make_block()
        allocate(block, [31], "cold")
        block.release([ReleaseOptions("100.64.0.31")], 60, now)
        assert allocated(block) == [31]
        assert block.attributes_for(ip("100.64.0.31")) is None  # in cooldown: not "assigned"
        assert block.garbage_collect(60, now + timedelta(seconds=30)) is False
        assert block.garbage_collect(60, now + timedelta(seconds=61)) is True
        assert allocated(block) == []
        assert valid(block)


class TestAssign:
    def test_auto_assign_from_the_head_sharing_one_attribute(self) -> None:
        block = make_block()
        got = block.auto_assign(3, "h", {"node": "n1"}, NO_RESERVATIONS)
        assert got == [ip("100.64.0.0"), ip("100.64.0.1"), ip("100.64.0.2")]
        assert block.allocations[:4] == [0, 0, 0, None]
        assert block.attributes == [AllocationAttribute("h", {"node": "n1"})]
        assert block.unallocated[0] == 3
        assert block.sequence_number_for_allocation["2"] == block.sequence_number
        assert valid(block)

    def test_auto_assign_skips_reserved_but_keeps_their_place(self) -> None:
        block = make_block()
        reserved = Reservations([ipaddress.ip_network("100.64.0.0/30")])
        got = block.auto_assign(2, "h", None, reserved)
        assert got == [ip("100.64.0.4"), ip("100.64.0.5")]
        assert block.unallocated[:5] == [0, 1, 2, 3, 6]
        assert valid(block)

    def test_auto_assign_from_a_full_block(self) -> None:
        block = AllocationBlock.new(ipaddress.ip_network("10.0.0.0/30"))
        assert len(block.auto_assign(10, "h", None, NO_RESERVATIONS)) == 4
        assert block.auto_assign(1, "h", None, NO_RESERVATIONS) == []

    def test_assign_specific(self) -> None:
        block = make_block()
        block.assign(ip("100.64.0.7"), "h", None)
        assert allocated(block) == [7]
        assert 7 not in block.unallocated
        with pytest.raises(IPAMError, match="already assigned"):
            block.assign(ip("100.64.0.7"), "other", None)
        assert valid(block)

    def test_same_handle_and_attrs_share_an_attribute(self) -> None:
        block = make_block()
        block.assign(ip("100.64.0.7"), "h", {"a": "1"})
        block.assign(ip("100.64.0.8"), "h", {"a": "1"})
        block.assign(ip("100.64.0.9"), "h", {"a": "2"})
        assert block.allocations[7:10] == [0, 0, 1]


class TestJSON:
    def test_round_trip_with_calico_field_names(self) -> None:
        block = AllocationBlock.new(NET, affinity="host:node1")
        block.assign(ip("100.64.0.1"), "h", {"node": "node1"})
        block.release([ReleaseOptions("100.64.0.1")], 600)
        block.assign(ip("100.64.0.2"), "h2", None)
        data = json.loads(block.to_json())
        assert set(data) == {
            "cidr",
            "affinity",
            "affinity_claim_time",
            "allocations",
            "unallocated",
            "attributes",
            "sequenceNumber",
            "sequenceNumberForAllocation",
            "deleted",
        }
        assert data["cidr"] == "100.64.0.0/24"
        assert data["affinity"] == "host:node1"
        assert data["allocations"][:3] == [None, 0, 1]
        assert data["attributes"][0].keys() == {"releasedAt"}
        assert data["attributes"][1] == {"handle_id": "h2"}
        assert AllocationBlock.from_json(block.to_json()).to_json() == block.to_json()

    def test_reads_go_nulls(self) -> None:
        # Go marshals nil slices and maps as null.
        text = json.dumps(
            {
                "cidr": "10.0.0.0/30",
                "affinity": None,
                "allocations": [None, None, None, None],
                "unallocated": [0, 1, 2, 3],
                "attributes": None,
                "sequenceNumber": 5,
                "sequenceNumberForAllocation": None,
                "deleted": False,
            }
        )
        block = AllocationBlock.from_json(text)
        assert block.attributes == []
        assert block.sequence_number_for_allocation == {}
        assert block.host is None
        assert valid(block)


class TestProblems:
    def test_detects_inconsistencies(self) -> None:
        block = make_block()
        allocate(block, [5], "h")
        block.unallocated.append(5)  # allocated and free at once
        block.attributes.append(AllocationAttribute("orphan"))
        found = validate_block(block)
        assert "ordinal 5 is allocated but appears in unallocated" in found
        assert "attribute index 1 exists but is not indexed by an allocation" in found
        assert any(p.startswith("expected 256 addresses") for p in found)
