"""Rule rendering, ported from Calico's felix/rules/policy_test.go tables.

Marks as in Calico's test config: accept 0x80, pass 0x100, scratch0 0x200,
scratch1 0x400, drop 0x800.
"""

from __future__ import annotations

import dataclasses

import pytest

from calico.errors import ValidationError
from calico.felix.messages import Policy, PolicyID, PortRange, Profile, ProfileID, Rule
from calico.felix.rules import Marks, RendererConfig, RuleRenderer
from calico.felix.rules.policy import rule_to_iptables
from calico.felix.rules.rule_match import filter_rule_to_ip_version

MARKS = Marks(accept=0x80, pass_=0x100, scratch0=0x200, scratch1=0x400, drop=0x800)
CFG = RendererConfig(marks=MARKS)
FOO = PolicyID("default.foo")


def render(rule: Rule, ip_version: int = 4, cfg: RendererConfig = CFG) -> list[str]:
    return [r.render("-A test") for r in rule_to_iptables(cfg, rule, ip_version, FOO, "default")]


def ports(*pairs: tuple[int, int]) -> tuple[PortRange, ...]:
    return tuple(PortRange(a, b) for a, b in pairs)


EIGHT_RANGES = ports((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))

# (ip version, rule, expected match): Calico's ruleTestData.
RULE_TEST_DATA = [
    (4, Rule(action=""), ""),
    (4, Rule(action="", protocol="tcp"), "-p tcp"),
    (4, Rule(action="", protocol=8), "-p 8"),
    (4, Rule(action="", src_net=("10.0.0.0/16",)), "--source 10.0.0.0/16"),
    (4, Rule(action="", src_ip_set_ids=("ipsetid1",)), "-m set --match-set cali40ipsetid1 src"),
    (
        4,
        Rule(action="", src_ip_set_ids=("ipsetid1", "ipsetid2")),
        "-m set --match-set cali40ipsetid1 src -m set --match-set cali40ipsetid2 src",
    ),
    (4, Rule(action="", src_ports=ports((10, 12))), "-m multiport --source-ports 10:12"),
    (
        4,
        Rule(action="", src_ports=ports((10, 12), (20, 30), (8080, 8080))),
        "-m multiport --source-ports 10:12,20:30,8080",
    ),
    (4, Rule(action="", icmp_type=10), "-m icmp --icmp-type 10"),
    (4, Rule(action="", icmp_type=10, icmp_code=12), "-m icmp --icmp-type 10/12"),
    (6, Rule(action="", icmp_type=10), "-m icmp6 --icmpv6-type 10"),
    (6, Rule(action="", icmp_type=10, icmp_code=12), "-m icmp6 --icmpv6-type 10/12"),
    (4, Rule(action="", dst_net=("10.0.0.0/16",)), "--destination 10.0.0.0/16"),
    (4, Rule(action="", dst_ip_set_ids=("ipsetid1",)), "-m set --match-set cali40ipsetid1 dst"),
    (
        4,
        Rule(action="", dst_ip_set_ids=("ipsetid1", "ipsetid2")),
        "-m set --match-set cali40ipsetid1 dst -m set --match-set cali40ipsetid2 dst",
    ),
    (4, Rule(action="", dst_ports=ports((10, 12))), "-m multiport --destination-ports 10:12"),
    (
        4,
        Rule(action="", dst_ports=ports((10, 12), (20, 30), (8080, 8080))),
        "-m multiport --destination-ports 10:12,20:30,8080",
    ),
    # Negated matches.
    (4, Rule(action="", not_protocol="tcp"), "! -p tcp"),
    (4, Rule(action="", not_protocol=8), "! -p 8"),
    (4, Rule(action="", not_src_net=("10.0.0.0/16",)), "! --source 10.0.0.0/16"),
    (
        4,
        Rule(action="", not_src_ip_set_ids=("ipsetid1",)),
        "-m set ! --match-set cali40ipsetid1 src",
    ),
    (
        6,
        Rule(action="", not_src_ip_set_ids=("ipsetid1",)),
        "-m set ! --match-set cali60ipsetid1 src",
    ),
    (
        4,
        Rule(action="", not_src_ip_set_ids=("ipsetid1", "ipsetid2")),
        "-m set ! --match-set cali40ipsetid1 src -m set ! --match-set cali40ipsetid2 src",
    ),
    (4, Rule(action="", not_src_ports=ports((10, 12))), "-m multiport ! --source-ports 10:12"),
    (
        4,
        Rule(action="", not_src_ports=ports((10, 12), (20, 30), (8080, 8080))),
        "-m multiport ! --source-ports 10:12,20:30,8080",
    ),
    (
        4,
        Rule(action="", not_src_ports=EIGHT_RANGES),
        "-m multiport ! --source-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 "
        "-m multiport ! --source-ports 15:16",
    ),
    (4, Rule(action="", not_icmp_type=10), "-m icmp ! --icmp-type 10"),
    (4, Rule(action="", not_icmp_type=10, not_icmp_code=12), "-m icmp ! --icmp-type 10/12"),
    (6, Rule(action="", not_icmp_type=10), "-m icmp6 ! --icmpv6-type 10"),
    (6, Rule(action="", not_icmp_type=10, not_icmp_code=12), "-m icmp6 ! --icmpv6-type 10/12"),
    (4, Rule(action="", not_dst_net=("10.0.0.0/16",)), "! --destination 10.0.0.0/16"),
    (
        4,
        Rule(action="", not_dst_ip_set_ids=("ipsetid1",)),
        "-m set ! --match-set cali40ipsetid1 dst",
    ),
    (
        6,
        Rule(action="", not_dst_ip_set_ids=("ipsetid1",)),
        "-m set ! --match-set cali60ipsetid1 dst",
    ),
    (
        4,
        Rule(action="", not_dst_ip_set_ids=("ipsetid1", "ipsetid2")),
        "-m set ! --match-set cali40ipsetid1 dst -m set ! --match-set cali40ipsetid2 dst",
    ),
    (4, Rule(action="", not_dst_ports=ports((10, 12))), "-m multiport ! --destination-ports 10:12"),
    (
        4,
        Rule(action="", not_dst_ports=EIGHT_RANGES),
        "-m multiport ! --destination-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 "
        "-m multiport ! --destination-ports 15:16",
    ),
    (
        4,
        Rule(action="", not_dst_ports=ports((10, 12), (20, 30), (8080, 8080))),
        "-m multiport ! --destination-ports 10:12,20:30,8080",
    ),
]


def joined(match: str, action: str) -> str:
    return " ".join(part for part in ("-A test", match, action) if part)


@pytest.mark.parametrize(("ip_version", "rule", "match"), RULE_TEST_DATA)
@pytest.mark.parametrize("action", ["", "allow"])
def test_allow_sets_accept_mark_then_returns(
    ip_version: int, rule: Rule, match: str, action: str
) -> None:
    rendered = render(dataclasses.replace(rule, action=action), ip_version)
    assert rendered == [
        joined(match, "--jump MARK --set-mark 0x80/0x80"),
        "-A test -m mark --mark 0x80/0x80 --jump RETURN",
    ]


@pytest.mark.parametrize(("ip_version", "rule", "match"), RULE_TEST_DATA)
@pytest.mark.parametrize("action", ["next-tier", "pass"])
def test_pass_sets_pass_mark_then_returns(
    ip_version: int, rule: Rule, match: str, action: str
) -> None:
    rendered = render(dataclasses.replace(rule, action=action), ip_version)
    assert rendered == [
        joined(match, "--jump MARK --set-mark 0x100/0x100"),
        "-A test -m mark --mark 0x100/0x100 --jump RETURN",
    ]


@pytest.mark.parametrize(("ip_version", "rule", "match"), RULE_TEST_DATA)
@pytest.mark.parametrize(("deny_action", "target"), [("DROP", "DROP"), ("REJECT", "REJECT")])
def test_deny_sets_drop_mark_then_denies(
    ip_version: int, rule: Rule, match: str, deny_action: str, target: str
) -> None:
    cfg = dataclasses.replace(CFG, filter_deny_action=deny_action)
    rendered = render(dataclasses.replace(rule, action="deny"), ip_version, cfg)
    assert rendered == [
        joined(match, "--jump MARK --set-mark 0x800/0x800"),
        f"-A test -m mark --mark 0x800/0x800 --jump {target}",
    ]


@pytest.mark.parametrize(("ip_version", "rule", "match"), RULE_TEST_DATA)
def test_log_logs_and_continues(ip_version: int, rule: Rule, match: str) -> None:
    rendered = render(dataclasses.replace(rule, action="log"), ip_version)
    assert rendered == [joined(match, '--jump LOG --log-prefix "calico-packet: " --log-level 5')]


@pytest.mark.parametrize(("ip_version", "rule", "match"), RULE_TEST_DATA)
def test_log_rate_limit_goes_before_the_match(ip_version: int, rule: Rule, match: str) -> None:
    cfg = dataclasses.replace(CFG, log_prefix="foobar", log_rate_limit="50/minute")
    limited = render(dataclasses.replace(rule, action="log"), ip_version, cfg)
    assert limited == [
        joined(
            f"-m limit --limit 50/minute {match}".strip(),
            '--jump LOG --log-prefix "foobar: " --log-level 5',
        )
    ]
    cfg = dataclasses.replace(cfg, log_rate_limit_burst=90)
    assert (
        "-m limit --limit 50/minute --limit-burst 90"
        in render(dataclasses.replace(rule, action="log"), ip_version, cfg)[0]
    )


def test_log_prefix_specifiers() -> None:
    rule = Rule(action="log")
    cfg = dataclasses.replace(CFG, log_prefix="foo %t %k %p %n")
    got = rule_to_iptables(cfg, rule, 4, FOO, "default")[0].action
    assert got is not None
    # iptables allows 29 characters of prefix; the rest is cut, not rejected.
    assert got.text == '--jump LOG --log-prefix "foo default gnp default.foo: " --log-level 5'
    # %p includes the namespace for namespaced policies; unknown specifiers stay.
    cfg = dataclasses.replace(CFG, log_prefix="%k:%p:%t:%n")
    np = PolicyID("foo", namespace="app", kind="np")
    got = rule_to_iptables(cfg, rule, 4, np, "admin")[0].action
    assert got is not None
    assert got.text == '--jump LOG --log-prefix "np:app/foo:admin:foo: " --log-level 5'
    cfg = dataclasses.replace(CFG, log_prefix="p %p:%k:%%y")
    got = rule_to_iptables(cfg, rule, 4, ProfileID("profile1"), "")[0].action
    assert got is not None
    assert got.text == '--jump LOG --log-prefix "p profile1:pro:%%y: " --log-level 5'


@pytest.mark.parametrize(
    ("ip_version", "rule"),
    [
        (4, Rule(action="allow", not_src_net=("0.0.0.0/0",))),
        (6, Rule(action="allow", not_src_net=("::/0",))),
        (4, Rule(action="allow", not_dst_net=("0.0.0.0/0",))),
        (6, Rule(action="allow", not_dst_net=("::/0",))),
        (4, Rule(action="allow", ip_version=6)),
        (6, Rule(action="allow", src_net=("10.0.0.0/8",))),
        (4, Rule(action="allow", dst_net=("fd00::/64",), src_net=("10.0.0.0/8",))),
    ],
)
def test_rules_that_mean_nothing_in_a_family_render_nothing(ip_version: int, rule: Rule) -> None:
    assert render(rule, ip_version) == []


def test_mixed_family_cidrs_are_filtered_per_family() -> None:
    rule = Rule(action="allow", src_net=("10.0.0.1/32", "feed::beef/128"))
    v4 = filter_rule_to_ip_version(rule, 4)
    v6 = filter_rule_to_ip_version(rule, 6)
    assert v4 is not None
    assert v4.src_net == ("10.0.0.1/32",)
    assert v6 is not None
    assert v6.src_net == ("feed::beef/128",)
    assert render(rule, 6)[0] == "-A test --source feed::beef/128 --jump MARK --set-mark 0x80/0x80"


CLEAR_BOTH = "-A test --jump MARK --set-mark 0x0/0x600"
PRESET_ALL = "-A test --jump MARK --set-mark 0x200/0x600"
ALLOW_IF_ALL = "-A test -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80"
ALLOW_IF_ALL_TCP = "-A test -p tcp -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80"
ALLOW_IF_ALL_UDP = "-A test -p udp -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80"
RETURN = "-A test -m mark --mark 0x80/0x80 --jump RETURN"
AND_THIS_BLOCK = "-A test -m mark --mark 0/0x400 --jump MARK --set-mark 0/0x200"


@pytest.mark.parametrize(
    ("n_src", "n_not_src", "n_dst", "n_not_dst", "expected"),
    [
        (2, 0, 0, 0, [CLEAR_BOTH,
                      "-A test --source 10.0.0.0/24 --jump MARK --set-mark 0x200/0x200",
                      "-A test --source 10.0.1.0/24 --jump MARK --set-mark 0x200/0x200",
                      ALLOW_IF_ALL, RETURN]),
        (0, 2, 0, 0, [PRESET_ALL,
                      "-A test --source 11.0.0.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --source 11.0.1.0/24 --jump MARK --set-mark 0/0x200",
                      ALLOW_IF_ALL, RETURN]),
        (0, 0, 2, 0, [CLEAR_BOTH,
                      "-A test --destination 12.0.0.0/24 --jump MARK --set-mark 0x200/0x200",
                      "-A test --destination 12.0.1.0/24 --jump MARK --set-mark 0x200/0x200",
                      ALLOW_IF_ALL, RETURN]),
        (0, 0, 0, 2, [PRESET_ALL,
                      "-A test --destination 13.0.0.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --destination 13.0.1.0/24 --jump MARK --set-mark 0/0x200",
                      ALLOW_IF_ALL, RETURN]),
        (1, 1, 0, 0, [PRESET_ALL,
                      "-A test --source 11.0.0.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --source 10.0.0.0/24 -m mark --mark 0x200/0x200 "
                      "--jump MARK --set-mark 0x80/0x80",
                      RETURN]),
        (2, 1, 0, 0, [CLEAR_BOTH,
                      "-A test --source 10.0.0.0/24 --jump MARK --set-mark 0x200/0x200",
                      "-A test --source 10.0.1.0/24 --jump MARK --set-mark 0x200/0x200",
                      "-A test ! --source 11.0.0.0/24 -m mark --mark 0x200/0x200 "
                      "--jump MARK --set-mark 0x80/0x80",
                      RETURN]),
        (0, 0, 1, 1, [PRESET_ALL,
                      "-A test --destination 13.0.0.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --destination 12.0.0.0/24 -m mark --mark 0x200/0x200 "
                      "--jump MARK --set-mark 0x80/0x80",
                      RETURN]),
        (1, 1, 1, 1, [PRESET_ALL,
                      "-A test --source 11.0.0.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --destination 13.0.0.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --source 10.0.0.0/24 --destination 12.0.0.0/24 "
                      "-m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80",
                      RETURN]),
        (2, 2, 2, 2, [CLEAR_BOTH,
                      "-A test --source 10.0.0.0/24 --jump MARK --set-mark 0x200/0x200",
                      "-A test --source 10.0.1.0/24 --jump MARK --set-mark 0x200/0x200",
                      "-A test --destination 12.0.0.0/24 --jump MARK --set-mark 0x400/0x400",
                      "-A test --destination 12.0.1.0/24 --jump MARK --set-mark 0x400/0x400",
                      AND_THIS_BLOCK,
                      "-A test --source 11.0.0.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --source 11.0.1.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --destination 13.0.0.0/24 --jump MARK --set-mark 0/0x200",
                      "-A test --destination 13.0.1.0/24 --jump MARK --set-mark 0/0x200",
                      ALLOW_IF_ALL, RETURN]),
    ],
)  # fmt: skip
def test_cidr_blocks(
    n_src: int, n_not_src: int, n_dst: int, n_not_dst: int, expected: list[str]
) -> None:
    rule = Rule(
        action="allow",
        src_net=("10.0.0.0/24", "10.0.1.0/24")[:n_src],
        not_src_net=("11.0.0.0/24", "11.0.1.0/24")[:n_not_src],
        dst_net=("12.0.0.0/24", "12.0.1.0/24")[:n_dst],
        not_dst_net=("13.0.0.0/24", "13.0.1.0/24")[:n_not_dst],
    )
    assert render(rule) == expected


NAMED_PORT_CASES = [
    pytest.param(
        Rule(action="allow", protocol="tcp", src_named_port_ip_set_ids=("ipset-1",)),
        ["-A test -p tcp -m set --match-set cali40ipset-1 src,src "
         "--jump MARK --set-mark 0x80/0x80", RETURN],
        id="one named port fits the rule",
    ),
    pytest.param(
        Rule(action="allow", protocol="udp", src_named_port_ip_set_ids=("ipset-1", "ipset-2")),
        [CLEAR_BOTH,
         "-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200",
         "-A test -m set --match-set cali40ipset-2 src,src --jump MARK --set-mark 0x200/0x200",
         ALLOW_IF_ALL_UDP, RETURN],
        id="two named ports need a block",
    ),
    pytest.param(
        Rule(action="allow", protocol="tcp", src_ports=EIGHT_RANGES,
             src_named_port_ip_set_ids=("ipset-1", "ipset-2", "ipset-3")),
        [CLEAR_BOTH,
         "-A test -p tcp -m multiport --source-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 "
         "--jump MARK --set-mark 0x200/0x200",
         "-A test -p tcp -m multiport --source-ports 15:16 --jump MARK --set-mark 0x200/0x200",
         "-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200",
         "-A test -m set --match-set cali40ipset-2 src,src --jump MARK --set-mark 0x200/0x200",
         "-A test -m set --match-set cali40ipset-3 src,src --jump MARK --set-mark 0x200/0x200",
         ALLOW_IF_ALL_TCP, RETURN],
        id="more than 15 ports plus named ports",
    ),
    pytest.param(
        Rule(action="allow", protocol="udp", dst_ports=EIGHT_RANGES),
        [CLEAR_BOTH,
         "-A test -p udp -m multiport --destination-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 "
         "--jump MARK --set-mark 0x200/0x200",
         "-A test -p udp -m multiport --destination-ports 15:16 --jump MARK --set-mark 0x200/0x200",
         ALLOW_IF_ALL_UDP, RETURN],
        id="overflow of numeric ports",
    ),
    pytest.param(
        Rule(action="allow", protocol="udp", src_ports=ports((1, 2)),
             src_named_port_ip_set_ids=("ipset-1",), dst_ports=ports((3, 4))),
        [CLEAR_BOTH,
         "-A test -p udp -m multiport --source-ports 1:2 --jump MARK --set-mark 0x200/0x200",
         "-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200",
         "-A test -p udp -m multiport --destination-ports 3:4 -m mark --mark 0x200/0x200 "
         "--jump MARK --set-mark 0x80/0x80", RETURN],
        id="source needs a block, destination fits",
    ),
    pytest.param(
        Rule(action="allow", protocol="tcp", src_ports=ports((1, 2)),
             src_named_port_ip_set_ids=("ipset-1",), dst_ports=ports((3, 4)),
             dst_named_port_ip_set_ids=("ipset-2",)),
        [CLEAR_BOTH,
         "-A test -p tcp -m multiport --source-ports 1:2 --jump MARK --set-mark 0x200/0x200",
         "-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200",
         "-A test -p tcp -m multiport --destination-ports 3:4 --jump MARK --set-mark 0x400/0x400",
         "-A test -m set --match-set cali40ipset-2 dst,dst --jump MARK --set-mark 0x400/0x400",
         AND_THIS_BLOCK, ALLOW_IF_ALL_TCP, RETURN],
        id="both sides need blocks: the second uses scratch1",
    ),
    pytest.param(
        Rule(action="allow", protocol="tcp", not_src_ports=EIGHT_RANGES,
             not_src_named_port_ip_set_ids=("ipset-1", "ipset-2", "ipset-3")),
        ["-A test -p tcp -m multiport ! --source-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 "
         "-m multiport ! --source-ports 15:16 -m set ! --match-set cali40ipset-1 src,src "
         "-m set ! --match-set cali40ipset-2 src,src -m set ! --match-set cali40ipset-3 src,src "
         "--jump MARK --set-mark 0x80/0x80", RETURN],
        id="negated ports and named ports all fit one rule",
    ),
    pytest.param(
        Rule(action="allow", protocol="tcp", not_dst_ports=ports((1, 2)),
             not_dst_named_port_ip_set_ids=("ipset-1",)),
        ["-A test -p tcp -m multiport ! --destination-ports 1:2 "
         "-m set ! --match-set cali40ipset-1 dst,dst --jump MARK --set-mark 0x80/0x80", RETURN],
        id="negated destination named port",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "expected"), NAMED_PORT_CASES)
def test_named_ports(rule: Rule, expected: list[str]) -> None:
    assert render(rule) == expected


def test_three_positive_blocks_reset_scratch1_between_blocks() -> None:
    """Calico's "positive and negated numeric, named ports and CIDRs" case, with
    our fix: the source-CIDR and destination-CIDR blocks first clear scratch1,
    which the destination-port block may have left set (see blocks.py)."""
    rule = Rule(
        action="allow", protocol="tcp",
        src_ports=EIGHT_RANGES, src_named_port_ip_set_ids=("ipset-1",),
        src_net=("10.1.0.0/16", "11.0.0.0/8"),
        not_src_ports=ports((101, 101)), not_src_named_port_ip_set_ids=("ipset-3",),
        not_src_net=("14.1.0.0/16", "15.0.0.0/8"),
        dst_ports=ports((2, 3)), dst_named_port_ip_set_ids=("ipset-2",),
        dst_net=("12.1.0.0/16", "13.0.0.0/8"),
        not_dst_ports=ports((201, 201)), not_dst_named_port_ip_set_ids=("ipset-4",),
        not_dst_net=("16.1.0.0/16", "17.0.0.0/8"),
    )  # fmt: skip
    clear_scratch1 = "-A test --jump MARK --set-mark 0/0x400"
    assert render(rule) == [
        CLEAR_BOTH,
        "-A test -p tcp -m multiport --source-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 "
        "--jump MARK --set-mark 0x200/0x200",
        "-A test -p tcp -m multiport --source-ports 15:16 --jump MARK --set-mark 0x200/0x200",
        "-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200",
        "-A test -p tcp -m multiport --destination-ports 2:3 --jump MARK --set-mark 0x400/0x400",
        "-A test -m set --match-set cali40ipset-2 dst,dst --jump MARK --set-mark 0x400/0x400",
        AND_THIS_BLOCK,
        clear_scratch1,
        "-A test --source 10.1.0.0/16 --jump MARK --set-mark 0x400/0x400",
        "-A test --source 11.0.0.0/8 --jump MARK --set-mark 0x400/0x400",
        AND_THIS_BLOCK,
        clear_scratch1,
        "-A test --destination 12.1.0.0/16 --jump MARK --set-mark 0x400/0x400",
        "-A test --destination 13.0.0.0/8 --jump MARK --set-mark 0x400/0x400",
        AND_THIS_BLOCK,
        "-A test --source 14.1.0.0/16 --jump MARK --set-mark 0/0x200",
        "-A test --source 15.0.0.0/8 --jump MARK --set-mark 0/0x200",
        "-A test --destination 16.1.0.0/16 --jump MARK --set-mark 0/0x200",
        "-A test --destination 17.0.0.0/8 --jump MARK --set-mark 0/0x200",
        "-A test -p tcp -m multiport ! --source-ports 101 -m set ! --match-set cali40ipset-3 "
        "src,src -m multiport ! --destination-ports 201 -m set ! --match-set cali40ipset-4 "
        "dst,dst -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80",
        RETURN,
    ]


def test_annotations_become_comments_on_every_rule() -> None:
    rule = Rule(action="allow", src_net=("10.0.0.0/24", "10.0.1.0/24"),
                annotations=(("owner", "team-a"),))  # fmt: skip
    lines = render(rule)
    assert len(lines) == 5
    assert all('-m comment --comment "owner=team-a"' in line for line in lines)


def test_unknown_action_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown rule action"):
        render(Rule(action="teleport"))


# --- whole policy / profile chains ------------------------------------------------


def test_policy_chains_names_and_comments() -> None:
    renderer = RuleRenderer(CFG)
    policy = Policy(inbound_rules=(Rule(action="deny", protocol="tcp"),))
    inbound, outbound = renderer.policy_to_chains(FOO, policy, 4)
    assert inbound.name == "cali-pi-gnp/default.foo"
    assert outbound.name == "cali-po-gnp/default.foo"
    assert inbound.lines() == [
        '-A cali-pi-gnp/default.foo -m comment --comment "GlobalNetworkPolicy default.foo ingress"'
        " -p tcp --jump MARK --set-mark 0x800/0x800",
        "-A cali-pi-gnp/default.foo -m mark --mark 0x800/0x800 --jump DROP",
    ]
    # An empty direction still carries the comment, on a rule without target.
    assert outbound.lines() == [
        '-A cali-po-gnp/default.foo -m comment --comment "GlobalNetworkPolicy default.foo egress"'
    ]


def test_namespaced_policy_comment_and_long_name_is_hashed() -> None:
    pid = PolicyID("a-policy-with-a-long-name", namespace="team", kind="np")
    inbound, _ = RuleRenderer(CFG).policy_to_chains(pid, Policy(), 4)
    assert inbound.name.startswith("cali-pi-_")
    assert len(inbound.name) == 28
    assert inbound.rules[0].comments == ("NetworkPolicy team/a-policy-with-a-long-name ingress",)


@pytest.mark.parametrize("kind", ["snp", "sgnp", "sknp"])
def test_staged_policies_render_no_chains(kind: str) -> None:
    policy = Policy(inbound_rules=(Rule(action="deny"),))
    assert RuleRenderer(CFG).policy_to_chains(PolicyID("x", kind=kind), policy, 4) == []


def test_trailing_return_rules_are_stripped() -> None:
    policy = Policy(inbound_rules=(Rule(action="deny", protocol="udp"), Rule(action="allow")))
    inbound, _ = RuleRenderer(CFG).policy_to_chains(FOO, policy, 4)
    assert [r.action.text for r in inbound.rules if r.action] == [
        "--jump MARK --set-mark 0x800/0x800",
        "--jump DROP",
        "--jump MARK --set-mark 0x80/0x80",
    ]


def test_deny_is_drop_outside_the_filter_table() -> None:
    cfg = dataclasses.replace(CFG, filter_deny_action="REJECT")
    policy = Policy(inbound_rules=(Rule(action="deny"),))
    renderer = RuleRenderer(cfg)
    assert renderer.policy_to_chains(FOO, policy, 4)[0].lines()[-1].endswith("--jump REJECT")
    assert renderer.policy_to_chains(FOO, policy, 4, "raw")[0].lines()[-1].endswith("--jump DROP")


def test_profile_chains() -> None:
    profile = Profile(inbound_rules=(Rule(action="allow"),), outbound_rules=(Rule(action="allow"),))
    inbound, outbound = RuleRenderer(CFG).profile_to_chains(ProfileID("kns.ns1"), profile, 4)
    assert inbound.lines() == [
        '-A cali-pri-kns.ns1 -m comment --comment "Profile kns.ns1 ingress" '
        "--jump MARK --set-mark 0x80/0x80"
    ]
    assert outbound.name == "cali-pro-kns.ns1"
