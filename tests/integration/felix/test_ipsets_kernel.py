"""The IP set driver against the real kernel, inside a throw-away network namespace.

IP sets are per network namespace, so the host's sets are never touched.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator

import pytest

from calico.errors import DataplaneError
from calico.felix.ipsets import IPSets
from calico.felix.iptables import SubprocessRunner
from calico.felix.messages import IPSetType

pytestmark = pytest.mark.root


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"calitest-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def in_ns(netns: str, *argv: str) -> str:
    done = subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def kernel_sets(netns: str) -> dict[str, tuple[str, int, set[str]]]:
    """name -> (type, maxelem, members), from ``ipset save``."""
    sets: dict[str, tuple[str, int, set[str]]] = {}
    for line in in_ns(netns, "ipset", "save").splitlines():
        words = line.split()
        if words[0] == "create":
            sets[words[1]] = (words[2], int(words[words.index("maxelem") + 1]), set())
        else:
            sets[words[1]][2].add(words[2])
    return sets


def test_create_update_and_resync(netns: str) -> None:
    v4, v6 = IPSets(4, SubprocessRunner(netns)), IPSets(6, SubprocessRunner(netns))
    v4.add_or_replace("web", IPSetType.NET, ["10.0.0.1/32", "10.1.0.0/16", "fd00::1"])
    v4.add_or_replace("np", IPSetType.IP_AND_PORT, ["10.0.0.1,tcp:80", "10.0.0.2,UDP:53"])
    v6.add_or_replace("web", IPSetType.NET, ["10.0.0.1/32", "fd00::0001"])
    v4.apply_updates()
    v6.apply_updates()
    assert kernel_sets(netns) == {
        "cali40web": ("hash:net", 1048576, {"10.0.0.1", "10.1.0.0/16"}),
        "cali40np": ("hash:ip,port", 1048576, {"10.0.0.1,tcp:80", "10.0.0.2,udp:53"}),
        "cali60web": ("hash:net", 1048576, {"fd00::1"}),
    }
    # The kernel's spelling matches ours: a resync finds nothing to do.
    v4.resync()
    assert v4.apply_updates().restore_calls == 0
    v4.add_members("web", ["10.2.0.0/16"])
    v4.remove_members("web", ["10.0.0.1"])
    assert v4.apply_updates().restore_input == "del cali40web 10.0.0.1\nadd cali40web 10.2.0.0/16\n"
    assert kernel_sets(netns)["cali40web"][2] == {"10.1.0.0/16", "10.2.0.0/16"}


def test_resync_removes_unknown_sets_and_repairs_members(netns: str) -> None:
    in_ns(netns, "ipset", "create", "cali40x", "hash:ip")
    in_ns(netns, "ipset", "create", "not-ours", "hash:ip")
    sets = IPSets(4, SubprocessRunner(netns))
    sets.add_or_replace("a", IPSetType.IP, ["10.0.0.1"])
    sets.apply_updates()
    in_ns(netns, "ipset", "add", "cali40a", "10.6.6.6")
    in_ns(netns, "ipset", "del", "cali40a", "10.0.0.1")
    sets.resync()
    sets.apply_updates()
    assert sets.apply_deletions().deleted == ("cali40x",)
    assert {name: s[2] for name, s in kernel_sets(netns).items()} == {
        "not-ours": set(),
        "cali40a": {"10.0.0.1"},
    }


def test_parameter_change_swaps_under_a_live_iptables_reference(netns: str) -> None:
    in_ns(netns, "ipset", "create", "cali40s", "hash:net", "maxelem", "1024")
    in_ns(netns, "ipset", "add", "cali40s", "10.0.0.0/8")
    in_ns(
        netns, "iptables", "-A", "INPUT", "-m", "set", "--match-set", "cali40s", "src", "-j", "DROP"
    )
    sets = IPSets(4, SubprocessRunner(netns))
    sets.add_or_replace("s", IPSetType.NET, ["10.0.0.0/8", "192.168.0.0/16"])
    stats = sets.apply_updates()
    assert stats.swapped == ("cali40s",)
    assert "swap cali40s cali4t0" in stats.restore_input
    assert kernel_sets(netns) == {
        "cali40s": ("hash:net", 1048576, {"10.0.0.0/8", "192.168.0.0/16"})
    }
    assert "--match-set cali40s src" in in_ns(netns, "iptables-save", "-t", "filter")


def test_type_change_needs_the_set_unreferenced(netns: str) -> None:
    """The kernel refuses to swap sets of different types or destroy a set in use."""
    in_ns(netns, "ipset", "create", "cali40t", "hash:ip")
    rule = ["INPUT", "-m", "set", "--match-set", "cali40t", "src", "-j", "DROP"]
    in_ns(netns, "iptables", "-A", *rule)
    sets = IPSets(4, SubprocessRunner(netns))
    sets.add_or_replace("t", IPSetType.NET, ["10.0.0.0/8"])
    with pytest.raises(DataplaneError, match=r"cali40t .*in use"):
        sets.apply_updates()
    assert kernel_sets(netns)["cali40t"][0] == "hash:ip"
    in_ns(netns, "iptables", "-D", *rule)
    sets.apply_updates()
    assert kernel_sets(netns)["cali40t"] == ("hash:net", 1048576, {"10.0.0.0/8"})


def test_deletion_waits_until_no_rule_references_the_set(netns: str) -> None:
    sets = IPSets(4, SubprocessRunner(netns))
    sets.add_or_replace("a", IPSetType.IP, ["10.0.0.1"])
    sets.add_or_replace("b", IPSetType.IP, ["10.0.0.2"])
    sets.apply_updates()
    rule = ["INPUT", "-m", "set", "--match-set", "cali40a", "src", "-j", "DROP"]
    in_ns(netns, "iptables", "-A", *rule)
    sets.remove("a")
    sets.remove("b")
    assert sets.apply_deletions().deleted == ("cali40b",)
    in_ns(netns, "iptables", "-D", *rule)
    assert sets.apply_deletions().deleted == ("cali40a",)
    assert kernel_sets(netns) == {}
