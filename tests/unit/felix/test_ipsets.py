"""The IP set driver against the in-memory ipset (no root)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calico.errors import CommandFailedError, DataplaneError
from calico.felix.ipsets import IPSets, canonical_member
from calico.felix.iptables import CommandResult, FakeRunner
from calico.felix.iptables.fakes import FakeIPSet, FakeSet
from calico.felix.messages import IPSetDeltaUpdate, IPSetRemove, IPSetType, IPSetUpdate

IP = IPSetType.IP
NET = IPSetType.NET


class Kernel:
    def __init__(self) -> None:
        self.runner = FakeRunner()
        self.ipset = FakeIPSet()
        self.ipset.install(self.runner)

    def members(self, name: str) -> set[str]:
        return self.ipset.sets[name].members

    def restores(self) -> list[str]:
        return [stdin or "" for argv, stdin in self.runner.calls if argv[1] == "restore"]


@pytest.fixture
def kernel() -> Kernel:
    return Kernel()


def test_create_then_member_deltas(kernel: Kernel) -> None:
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("s1", IP, ["10.0.0.2", "10.0.0.1"])
    stats = sets.apply_updates()
    assert stats.created == ("cali40s1",)
    assert stats.restore_input == (
        "create cali40s1 hash:ip family inet maxelem 1048576\n"
        "add cali40s1 10.0.0.1\n"
        "add cali40s1 10.0.0.2\n"
    )
    assert kernel.runner.calls[-1][0] == ("ipset", "restore", "-exist")
    sets.add_members("s1", ["10.0.0.3"])
    sets.remove_members("s1", ["10.0.0.1"])
    stats = sets.apply_updates()
    assert stats.updated == ("cali40s1",)
    assert stats.restore_input == "del cali40s1 10.0.0.1\nadd cali40s1 10.0.0.3\n"
    assert kernel.members("cali40s1") == {"10.0.0.2", "10.0.0.3"}
    assert sets.apply_updates().restore_calls == 0


def test_only_changed_sets_are_written(kernel: Kernel) -> None:
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("a", IP, ["10.0.0.1"])
    sets.add_or_replace("b", IP, ["10.0.0.2"])
    sets.apply_updates()
    sets.add_or_replace("b", IP, ["10.0.0.2", "10.0.0.9"])
    assert sets.apply_updates().restore_input == "add cali40b 10.0.0.9\n"


def test_members_are_canonical_and_filtered_by_family(kernel: Kernel) -> None:
    v4, v6 = IPSets(4, kernel.runner), IPSets(6, kernel.runner)
    members = ["10.0.0.2/32", "fd00::0001", "10.1.0.0/16", "not-an-ip"]
    v4.add_or_replace("n", NET, members)
    v6.add_or_replace("n", NET, members)
    assert v4.members("n") == {"10.0.0.2", "10.1.0.0/16"}
    assert v6.members("n") == {"fd00::1"}
    v4.apply_updates()
    v6.apply_updates()
    assert kernel.ipset.sets["cali60n"].family == "inet6"
    assert v4.apply_updates().restore_calls == 0  # read-back spelling matches ours
    v4.resync()
    assert v4.apply_updates().restore_calls == 0


@pytest.mark.parametrize(
    ("member", "canonical"),
    [
        ("10.0.0.1,TCP:80", "10.0.0.1,tcp:80"),
        ("fd00::0001,udp:53", "fd00::1,udp:53"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.5/8", "10.0.0.0/8"),
        ("bogus,tcp:1", None),
    ],
)
def test_canonical_member(member: str, canonical: str | None) -> None:
    assert canonical_member(member) == canonical


def test_parameter_change_goes_through_a_temp_set_and_swap(kernel: Kernel) -> None:
    kernel.ipset.sets["cali40s1"] = FakeSet("hash:ip", "inet", 1024, {"10.0.0.1"})
    kernel.ipset.sets["cali4t0"] = FakeSet("hash:ip", "inet", 1024)  # leftover of a crash
    kernel.ipset.in_use.add("cali40s1")  # referenced by iptables: swap is still allowed
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("s1", IP, ["10.0.0.1", "10.0.0.2"])
    stats = sets.apply_updates()
    assert stats.swapped == ("cali40s1",)
    assert stats.restore_input == (
        "create cali4t1 hash:ip family inet maxelem 1048576\n"
        "add cali4t1 10.0.0.1\n"
        "add cali4t1 10.0.0.2\n"
        "swap cali40s1 cali4t1\n"
        "destroy cali4t1\n"
    )
    assert kernel.ipset.sets["cali40s1"].maxelem == 1048576
    assert kernel.members("cali40s1") == {"10.0.0.1", "10.0.0.2"}
    assert sets.apply_deletions().deleted == ("cali4t0",)


def test_type_change_recreates_an_unreferenced_set(kernel: Kernel) -> None:
    kernel.ipset.sets["cali40s1"] = FakeSet("hash:ip", "inet", 1048576, {"10.0.0.1"})
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("s1", NET, ["10.1.0.0/16"])
    sets.apply_updates()
    assert kernel.restores()[-1] == (
        "destroy cali40s1\n"
        "create cali40s1 hash:net family inet maxelem 1048576\n"
        "add cali40s1 10.1.0.0/16\n"
    )
    assert kernel.ipset.sets["cali40s1"].type == "hash:net"


def test_type_change_of_a_referenced_set_fails_loudly_and_is_retried(kernel: Kernel) -> None:
    kernel.ipset.sets["cali40s1"] = FakeSet("hash:ip", "inet", 1048576, {"10.0.0.1"})
    kernel.ipset.in_use.add("cali40s1")
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("s1", NET, ["10.1.0.0/16"])
    sets.add_or_replace("other", IP, ["10.0.0.7"])
    with pytest.raises(DataplaneError, match=r"cannot change the type of IP set\(s\) cali40s1"):
        sets.apply_updates()
    assert kernel.members("cali40other") == {"10.0.0.7"}  # the rest was applied
    kernel.ipset.in_use.clear()  # iptables no longer references it
    sets.apply_updates()
    assert kernel.ipset.sets["cali40s1"].type == "hash:net"


def test_deletions_wait_for_apply_deletions_and_for_references(kernel: Kernel) -> None:
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("a", IP, ["10.0.0.1"])
    sets.add_or_replace("b", IP, [])
    sets.apply_updates()
    sets.remove("a")
    sets.remove("b")
    assert sets.apply_updates().restore_calls == 0
    assert "cali40a" in kernel.ipset.sets
    kernel.ipset.in_use.add("cali40a")
    assert sets.apply_deletions().deleted == ("cali40b",)
    kernel.ipset.in_use.clear()
    assert sets.apply_deletions().deleted == ("cali40a",)
    assert kernel.ipset.sets == {}


def test_resync_claims_our_prefix_only_and_repairs_drift(kernel: Kernel) -> None:
    kernel.ipset.sets.update({
        "cali40x": FakeSet("hash:ip", "inet", 1048576),  # a previous felix's
        "cali60x": FakeSet("hash:ip", "inet6", 1048576),  # the IPv6 instance's business
        "other": FakeSet("hash:ip", "inet", 65536),  # not ours at all
    })  # fmt: skip
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("s1", IP, ["10.0.0.1", "10.0.0.2"])
    sets.apply_updates()
    assert sets.apply_deletions().deleted == ("cali40x",)
    assert set(kernel.ipset.sets) == {"cali40s1", "cali60x", "other"}
    # Drift: someone removes one member and adds another.
    kernel.members("cali40s1").discard("10.0.0.1")
    kernel.members("cali40s1").add("10.9.9.9")
    assert sets.apply_updates().restore_calls == 0  # not noticed until a resync
    sets.resync()
    stats = sets.apply_updates()
    assert stats.reads == 1
    assert stats.restore_input == "del cali40s1 10.9.9.9\nadd cali40s1 10.0.0.1\n"


def test_a_failed_restore_is_retried_from_a_fresh_read(kernel: Kernel) -> None:
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("s1", IP, ["10.0.0.1"])
    sets.apply_updates()
    del kernel.ipset.sets["cali40s1"]  # destroyed behind our back
    sets.add_members("s1", ["10.0.0.2"])
    stats = sets.apply_updates()
    assert stats.created == ("cali40s1",)
    assert stats.reads == 1
    assert kernel.members("cali40s1") == {"10.0.0.1", "10.0.0.2"}


def test_persistent_restore_failure_raises(kernel: Kernel) -> None:
    sets = IPSets(4, kernel.runner)
    sets.add_or_replace("s1", IP, ["10.0.0.1"])
    for _ in range(2):
        kernel.runner.fail_next("ipset", CommandResult(1, "", "ipset v7.17: Kernel error"))
    with pytest.raises(CommandFailedError, match="Kernel error"):
        sets.apply_updates()


def test_messages(kernel: Kernel) -> None:
    sets = IPSets(4, kernel.runner)
    sets.on_message(IPSetUpdate("np", frozenset({"10.0.0.1,tcp:80"}), IPSetType.IP_AND_PORT))
    sets.on_message(IPSetDeltaUpdate("np", frozenset({"10.0.0.2,udp:53"}), frozenset()))
    sets.apply_updates()
    assert kernel.ipset.sets["cali40np"].type == "hash:ip,port"
    assert kernel.members("cali40np") == {"10.0.0.1,tcp:80", "10.0.0.2,udp:53"}
    sets.on_message(IPSetRemove("np"))
    sets.apply_deletions()
    assert kernel.ipset.sets == {}
    with pytest.raises(KeyError, match="not known"):
        sets.add_members("np", ["10.0.0.1,tcp:80"])


# --- property: the kernel ends up holding exactly the desired sets -----------------------

set_states = st.lists(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.frozensets(st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3/32", "fd00::1"])),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(states=set_states, use_deltas=st.booleans())
def test_any_sequence_of_states_converges(
    states: list[dict[str, frozenset[str]]], use_deltas: bool
) -> None:
    kernel = Kernel()
    sets = IPSets(4, kernel.runner)
    known: dict[str, frozenset[str]] = {}
    for state in states:
        for set_id in known.keys() - state.keys():
            sets.remove(set_id)
        for set_id, members in state.items():
            if use_deltas and set_id in known:
                sets.remove_members(set_id, known[set_id] - members)
                sets.add_members(set_id, members - known[set_id])
            else:
                sets.add_or_replace(set_id, IP, members)
        known = dict(state)
        sets.apply_updates()
        sets.apply_deletions()
        expected = {
            f"cali40{set_id}": {canonical_member(m) for m in members if ":" not in m}
            for set_id, members in state.items()
        }
        assert {name: s.members for name, s in kernel.ipset.sets.items()} == expected


def test_one_referenced_set_does_not_block_the_other_deletions(kernel: Kernel) -> None:
    sets = IPSets(4, kernel.runner)
    for set_id in ("a", "b", "c"):
        sets.add_or_replace(set_id, IP, [])
    sets.apply_updates()
    for set_id in ("a", "b", "c"):
        sets.remove(set_id)
    kernel.ipset.in_use.add("cali40b")  # the batch destroys cali40a, then stops here
    assert sets.apply_deletions().deleted == ("cali40a", "cali40c")
    assert set(kernel.ipset.sets) == {"cali40b"}
    kernel.ipset.in_use.clear()
    assert sets.apply_deletions().deleted == ("cali40b",)
