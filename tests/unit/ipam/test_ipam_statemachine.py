"""IPAMClient driven by hypothesis against a trivial model: a set of addresses per handle.

Small pools (eight blocks of eight addresses per IP version) over four hosts,
so that blocks fill, get claimed, borrowed, emptied and deleted within a few
steps.  After every step the datastore must agree with the model:

* no address is handed out twice, and ``ips_by_handle`` is exactly the model;
* every handle's per-block counts equal the allocations in that block, and a
  handle with nothing left does not exist;
* utilisation adds up (in use + free = capacity, per block and per pool);
* every block is structurally valid and ``ipam check`` finds no handle problems.

Plus the one liveness property that matters: without strict affinity, a
request that fits in the free space never fails.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from calico.datastore import MemoryDatastore
from calico.errors import IPAMError, NoAddressesError
from calico.ipam import IPAMClient, ReleaseOptions, store
from calico.ipam.check import check_ipam
from tests.unit.ipam._cluster import add_node, add_pool

HOSTS = ("host-a", "host-b", "host-c", "host-d")
HANDLES = tuple(f"handle-{n}" for n in range(6))
POOL4 = ipaddress.ip_network("10.0.0.0/26")
POOL6 = ipaddress.ip_network("fd00::/122")
BLOCK4, BLOCK6 = 29, 125  # eight blocks of eight addresses in each pool


class IPAMMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ds = MemoryDatastore()
        self.ipam = IPAMClient(self.ds)
        self.model: dict[str, set[str]] = {h: set() for h in HANDLES}
        self.strict = False

    @initialize()
    def cluster(self) -> None:
        add_pool(self.ds, "v4", str(POOL4), BLOCK4)
        add_pool(self.ds, "v6", str(POOL6), BLOCK6)
        for host in HOSTS:
            add_node(self.ds, host)

    # -- helpers -----------------------------------------------------------

    def allocated(self) -> set[str]:
        return set().union(*self.model.values())

    def free(self, version: int) -> int:
        used = sum(1 for a in self.allocated() if ipaddress.ip_address(a).version == version)
        return 64 - used

    def record(self, handle: str, addresses: list[str]) -> None:
        plain = [a.split("/")[0] for a in addresses]
        assert len(set(plain)) == len(plain), f"duplicate in one answer: {plain}"
        clash = set(plain) & self.allocated()
        assert not clash, f"handed out twice: {clash}"
        self.model[handle].update(plain)

    # -- rules -------------------------------------------------------------

    @rule(
        host=st.sampled_from(HOSTS),
        handle=st.sampled_from(HANDLES),
        num4=st.integers(0, 6),
        num6=st.integers(0, 3),
    )
    def auto_assign(self, host: str, handle: str, num4: int, num6: int) -> None:
        fits = num4 <= self.free(4) and num6 <= self.free(6)
        try:
            v4, v6 = self.ipam.auto_assign(num4, num6, handle, {"node": host}, host)
        except NoAddressesError:
            assert self.strict or not fits, (
                "a request that fits must succeed without strict affinity"
            )
            return
        assert len(v4) == num4
        assert len(v6) == num6
        assert all(a.endswith(f"/{BLOCK4}") for a in v4)
        assert all(a.endswith(f"/{BLOCK6}") for a in v6)
        self.record(handle, v4 + v6)

    @rule(
        host=st.sampled_from(HOSTS),
        handle=st.sampled_from(HANDLES),
        offset=st.integers(0, 63),
        v6=st.booleans(),
    )
    def assign_ip(self, host: str, handle: str, offset: int, v6: bool) -> None:
        address = str((POOL6 if v6 else POOL4).network_address + offset)
        taken = address in self.allocated()
        try:
            self.ipam.assign_ip(address, handle, {"node": host}, host)
        except IPAMError:
            assert taken or self.strict, f"{address} was free"
            return
        assert not taken, f"{address} assigned twice"
        self.model[handle].add(address)

    @rule(handle=st.sampled_from(HANDLES))
    def release_by_handle(self, handle: str) -> None:
        assert self.ipam.release_by_handle(handle) == len(self.model[handle])
        self.model[handle].clear()

    @rule(handle=st.sampled_from(HANDLES), data=st.data())
    def release_some(self, handle: str, data: st.DataObject) -> None:
        held = sorted(self.model[handle])
        chosen = data.draw(st.lists(st.sampled_from(held), unique=True) if held else st.just([]))
        assert self.ipam.release_ips([ReleaseOptions(a, handle) for a in chosen]) == []
        self.model[handle] -= set(chosen)

    @rule(offset=st.integers(0, 63))
    def release_free_address(self, offset: int) -> None:
        address = str(POOL4.network_address + offset)
        if address not in self.allocated():
            assert self.ipam.release_ips([ReleaseOptions(address)]) == [address]

    @rule(strict=st.booleans())
    def set_strict_affinity(self, strict: bool) -> None:
        self.ipam.set_ipam_config(strict_affinity=strict)
        self.strict = strict

    @rule(host=st.sampled_from(HOSTS))
    def release_host_affinities(self, host: str) -> None:
        self.ipam.release_host_affinities(host)

    # -- invariants --------------------------------------------------------

    @invariant()
    def ips_by_handle_match_the_model(self) -> None:
        for handle, expected in self.model.items():
            assert set(self.ipam.ips_by_handle(handle)) == expected

    @invariant()
    def handle_counts_match_the_blocks(self) -> None:
        actual: dict[str, Counter[str]] = {}
        for kv in store.list_blocks(self.ds):
            for index in kv.block.allocations:
                if index is not None:
                    handle = kv.block.attributes[index].handle_id
                    assert handle is not None
                    actual.setdefault(handle, Counter())[str(kv.block.cidr)] += 1
        stored = {h.handle_id: Counter(h.blocks) for h in store.list_handles(self.ds)}
        assert stored == actual
        assert {h: sum(c.values()) for h, c in stored.items()} == {
            h: len(ips) for h, ips in self.model.items() if ips
        }

    @invariant()
    def utilisation_adds_up(self) -> None:
        total_in_use = 0
        for pool in self.ipam.get_utilization():
            for block in pool.blocks:
                assert block.in_use + block.available == block.capacity
                assert block.reserved == 0
            if pool.cidr is not None:
                assert pool.in_use + pool.available == pool.capacity == 64
                total_in_use += pool.in_use
        assert total_in_use == len(self.allocated())

    @invariant()
    def blocks_are_valid_and_check_is_clean(self) -> None:
        report = check_ipam(self.ds)
        assert report.invalid_blocks == {}
        assert report.leaked_handles == []
        assert report.missing_handles == []
        assert report.orphaned_blocks == []
        assert set(report.allocations) == self.allocated()


IPAMMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestIPAMStateMachine = IPAMMachine.TestCase
