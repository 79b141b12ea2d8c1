"""Chain and set names, and rule hashes (byte-compatible with Calico)."""

from __future__ import annotations

import pytest

from calico.felix.messages import PolicyID
from calico.felix.rules import IptRule
from calico.felix.rules import actions as a
from calico.felix.rules.matches import Match
from calico.felix.rules.names import (
    endpoint_chain_name,
    ipset_name,
    length_limited_id,
    policy_chain_name,
    rule_hashes,
    temp_ipset_name,
)


@pytest.mark.parametrize(
    ("prefix", "suffix", "max_length", "expected"),
    [
        # libcalico-go/lib/hash/unique_id_test.go
        ("felix", "1234", 10, "felix1234"),
        ("felix", "123456", 11, "felix123456"),
        ("felix", "_2345", 10, "felix_kMQI"),
        ("felix", "12345678910", 13, "felix_Y2QCZIS"),
        ("felix", "", 10, "felix_"),
    ],
)
def test_length_limited_id(prefix: str, suffix: str, max_length: int, expected: str) -> None:
    assert length_limited_id(prefix, suffix, max_length) == expected


def test_length_limited_id_rejects_a_limit_smaller_than_the_prefix() -> None:
    with pytest.raises(ValueError, match="too small"):
        length_limited_id("felix", "toolong", 6)


def test_chain_names() -> None:
    assert policy_chain_name("cali-pi-", PolicyID("ai")) == "cali-pi-gnp/ai"
    assert policy_chain_name("cali-po-", PolicyID("n", "ns", "np")) == "cali-po-np/ns/n"
    assert endpoint_chain_name("cali-tw-", "cali1234567890a") == "cali-tw-cali1234567890a"
    assert endpoint_chain_name("cali-fh-", "*") == "cali-fh-any-interface-at-all"
    long_name = endpoint_chain_name("cali-thfw-", "averyveryverylongiface")
    assert len(long_name) == 28
    assert long_name.startswith("cali-thfw-_")


def test_ipset_names() -> None:
    assert ipset_name(4, "ipsetid1") == "cali40ipsetid1"
    assert ipset_name(6, "ipsetid1") == "cali60ipsetid1"
    # REFERENCE 5.6: selector set IDs are truncated to the kernel's 31 characters.
    assert ipset_name(4, "s:qMt7iLlGDhvLnCjM0l9nzxbabcd") == "cali40s:qMt7iLlGDhvLnCjM0l9nzxb"
    assert temp_ipset_name(4, 3) == "cali4t3"
    with pytest.raises(ValueError, match="ip_version"):
        ipset_name(5, "x")


def test_rule_hashes_match_a_real_calico_chain() -> None:
    """Hashes quoted from iptables-save output in Calico issue #9290 (REFERENCE 5.2)."""
    established = Match().conntrack_state("RELATED,ESTABLISHED")
    rules = [IptRule(established, a.ACCEPT), IptRule(Match().conntrack_state("INVALID"), a.DROP)]
    assert rule_hashes("cali-tw-cali11239f98883", rules) == ["63AiEhcKlL4J9x0W", "U_uF6VQoKAohXmTC"]


def test_rule_hashes_chain_in_name_and_position() -> None:
    rule = IptRule(action=a.DROP)
    one, two = rule_hashes("cali-a", [rule, rule])
    assert one != two  # same rule, different position
    assert rule_hashes("cali-b", [rule])[0] != one  # same rule, different chain
    assert rule_hashes("cali-a", [IptRule(action=a.ACCEPT), rule])[1] != two  # prefix changed
