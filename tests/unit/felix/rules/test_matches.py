"""Match and action fragments (Calico's match_builder.go / actions.go spellings)."""

from __future__ import annotations

import pytest

from calico.felix.messages import PortRange
from calico.felix.rules import IptRule
from calico.felix.rules import actions as a
from calico.felix.rules.matches import Match, split_ports


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (Match().mark_clear(0x20000), "-m mark --mark 0/0x20000"),
        (Match().mark_single_bit_set(0x10000), "-m mark --mark 0x10000/0x10000"),
        (Match().in_interface("cali+"), "--in-interface cali+"),
        (Match().out_interface("tap+"), "--out-interface tap+"),
        (Match().conntrack_state("INVALID"), "-m conntrack --ctstate INVALID"),
        (Match().not_conntrack_state("DNAT"), "-m conntrack ! --ctstate DNAT"),
        (Match().rpf_check_failed(), "-m rpfilter --invert --validmark"),
        (Match().dest_addr_type("LOCAL"), "-m addrtype --dst-type LOCAL"),
        (
            Match().not_src_addr_type("LOCAL", limit_iface_out=True),
            "-m addrtype ! --src-type LOCAL --limit-iface-out",
        ),
        (Match().protocol("udp").dest_port(4789), "-p udp --dport 4789"),
        (Match().source_ip_port_set("cali40np"), "-m set --match-set cali40np src,src"),
        (Match().not_dest_ip_port_set("cali40np"), "-m set ! --match-set cali40np dst,dst"),
        (Match().limit("10/second", 5), "-m limit --limit 10/second --limit-burst 5"),
        (Match().icmp_type(8, v6=True), "-m icmp6 --icmpv6-type 8"),
        (Match().protocol("tcp") + Match().source_net("10.0.0.0/8"), "-p tcp --source 10.0.0.0/8"),
    ],
)
def test_match_fragments(match: Match, expected: str) -> None:
    assert str(match) == expected


def test_single_bit_mark_match_refuses_several_bits() -> None:
    with pytest.raises(ValueError, match="single bit"):
        Match().mark_single_bit_set(0x30000)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (a.set_mark(0x10000), "--jump MARK --set-mark 0x10000/0x10000"),
        (a.clear_mark(0x30000), "--jump MARK --set-mark 0/0x30000"),
        (a.set_masked_mark(0, 0x600), "--jump MARK --set-mark 0x0/0x600"),
        (a.jump("cali-x"), "--jump cali-x"),
        (a.goto("cali-x"), "--goto cali-x"),
        (a.masquerade("1024-4788"), "--jump MASQUERADE --to-ports 1024-4788"),
        (a.snat("1.2.3.4"), "--jump SNAT --to-source 1.2.3.4"),
        (a.dnat("127.0.0.1", 8775), "--jump DNAT --to-destination 127.0.0.1:8775"),
        (a.dnat("fd00::1", 80), "--jump DNAT --to-destination [fd00::1]:80"),
        (a.dnat("10.0.0.5"), "--jump DNAT --to-destination 10.0.0.5"),
        (a.log('a"b'), '--jump LOG --log-prefix "ab: " --log-level 5'),
    ],
)
def test_action_fragments(action: a.Action, expected: str) -> None:
    assert action.text == expected


def test_jump_and_goto_name_their_target() -> None:
    assert a.jump("cali-x").target == "cali-x"
    assert a.goto("cali-y").target == "cali-y"
    assert a.ACCEPT.target is None
    assert IptRule(action=a.goto("cali-y")).target == "cali-y"


def test_comments_are_made_shell_safe_and_truncated() -> None:
    rule = IptRule(action=a.DROP, comments=('say "hi"; rm -rf $HOME', "x" * 300))
    line = rule.render("-A c")
    assert '-m comment --comment "say _hi__ rm -rf _HOME"' in line
    assert f'"{"x" * 256}"' in line


def test_split_ports_counts_ranges_as_two_slots() -> None:
    seven_ranges = [PortRange(i, i + 1) for i in range(0, 14, 2)]
    assert split_ports([*seven_ranges, PortRange(99, 99)]) == [[*seven_ranges, PortRange(99, 99)]]
    eight_ranges = [PortRange(i, i + 1) for i in range(0, 16, 2)]
    assert split_ports(eight_ranges) == [eight_ranges[:7], eight_ranges[7:]]
    assert split_ports([PortRange(p, p) for p in range(16)])[1] == [PortRange(15, 15)]
    assert split_ports([]) == []
