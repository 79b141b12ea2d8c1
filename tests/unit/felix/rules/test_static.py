"""Static chains, ported from Calico's felix/rules/static_test.go (non-IPVS cases).

Marks as in that test: accept 0x10, pass 0x20, scratch0 0x40, scratch1 0x80,
drop 0x200 (so "all Calico bits" is 0xf0).
"""

from __future__ import annotations

import dataclasses

import pytest

from calico.felix.config import ProtoPort
from calico.felix.messages import NatInfo, WorkloadEndpoint
from calico.felix.rules import Chain, Marks, RendererConfig, RuleRenderer

MARKS = Marks(accept=0x10, pass_=0x20, scratch0=0x40, scratch1=0x80, drop=0x200)
CFG = RendererConfig(
    default_endpoint_to_host_action="RETURN",
    failsafe_inbound_host_ports=(
        ProtoPort("tcp", 22, "0.0.0.0/0"),
        ProtoPort("tcp", 1022, "10.0.0.0/24"),
        ProtoPort("tcp", 1022, "::/0"),
    ),
    failsafe_outbound_host_ports=(
        ProtoPort("tcp", 23, "0.0.0.0/0"),
        ProtoPort("tcp", 1023, "0.0.0.0/0"),
    ),
    marks=MARKS,
)


def chains(table: str, ip_version: int, cfg: RendererConfig = CFG) -> dict[str, list[str]]:
    rendered = RuleRenderer(cfg).static_chains(table, ip_version)
    return {c.name: _body(c) for c in rendered}


def _body(chain: Chain) -> list[str]:
    return [line.removeprefix(f"-A {chain.name} ") for line in chain.lines()]


ACCEPTED = "-m mark --mark 0x10/0x10"
HOST_ACCEPTED = f'-m comment --comment "Host endpoint policy accepted packet." {ACCEPTED}'


@pytest.mark.parametrize("ip_version", [4, 6])
def test_filter_forward(ip_version: int) -> None:
    assert chains("filter", ip_version)["cali-FORWARD"] == [
        "--jump MARK --set-mark 0/0xe0",
        "-m mark --mark 0/0x10 --jump cali-from-hep-forward",
        "--in-interface cali+ --jump cali-from-wl-dispatch",
        "--out-interface cali+ --jump cali-to-wl-dispatch",
        "--jump cali-to-hep-forward",
        "--jump cali-cidr-block",
    ]


@pytest.mark.parametrize("ip_version", [4, 6])
def test_filter_input_and_output(ip_version: int) -> None:
    filt = chains("filter", ip_version)
    assert filt["cali-INPUT"] == [
        "--in-interface cali+ --goto cali-wl-to-host",
        f"{ACCEPTED} --jump ACCEPT",
        "--jump MARK --set-mark 0/0xf0",
        "--jump cali-from-host-endpoint",
        f"{HOST_ACCEPTED} --jump ACCEPT",
    ]
    assert filt["cali-OUTPUT"] == [
        f"{ACCEPTED} --jump ACCEPT",
        "--out-interface cali+ --jump RETURN",
        "--jump MARK --set-mark 0/0xf0",
        "-m conntrack ! --ctstate DNAT --jump cali-to-host-endpoint",
        f"{HOST_ACCEPTED} --jump ACCEPT",
    ]


def test_failsafe_chains_per_family_and_table() -> None:
    v4, v6 = chains("filter", 4), chains("filter", 6)
    assert v4["cali-failsafe-in"] == [
        "-p tcp -m multiport --destination-ports 22 --source 0.0.0.0/0 --jump ACCEPT",
        "-p tcp -m multiport --destination-ports 1022 --source 10.0.0.0/24 --jump ACCEPT",
    ]
    assert v4["cali-failsafe-out"] == [
        "-p tcp -m multiport --destination-ports 23 --destination 0.0.0.0/0 --jump ACCEPT",
        "-p tcp -m multiport --destination-ports 1023 --destination 0.0.0.0/0 --jump ACCEPT",
    ]
    assert v6["cali-failsafe-in"] == [
        "-p tcp -m multiport --destination-ports 1022 --source ::/0 --jump ACCEPT"
    ]
    assert v6["cali-failsafe-out"] == []
    # In raw (before conntrack) replies of the other direction are accepted too.
    raw4, raw6 = chains("raw", 4), chains("raw", 6)
    assert raw4["cali-failsafe-in"][2:] == [
        "-p tcp -m multiport --source-ports 23 --source 0.0.0.0/0 --jump ACCEPT",
        "-p tcp -m multiport --source-ports 1023 --source 0.0.0.0/0 --jump ACCEPT",
    ]
    assert raw4["cali-failsafe-out"][2:] == [
        "-p tcp -m multiport --source-ports 22 --destination 0.0.0.0/0 --jump ACCEPT",
        "-p tcp -m multiport --source-ports 1022 --destination 10.0.0.0/24 --jump ACCEPT",
    ]
    assert raw6["cali-failsafe-out"] == [
        "-p tcp -m multiport --source-ports 1022 --destination ::/0 --jump ACCEPT"
    ]


def test_default_failsafe_ports() -> None:
    rules = chains("filter", 4, RendererConfig())["cali-failsafe-in"]
    assert rules[:2] == [
        "-p tcp -m multiport --destination-ports 22 --jump ACCEPT",
        "-p udp -m multiport --destination-ports 68 --jump ACCEPT",
    ]
    assert len(rules) == 9


RAW_PREROUTING = [
    "--jump MARK --set-mark 0/0xf0",
    "--in-interface cali+ --jump MARK --set-mark 0x40/0x40",
    "-m mark --mark 0x40/0x40 --jump cali-rpf-skip",
    "-m mark --mark 0x40/0x40 -m rpfilter --invert --validmark --jump DROP",
    "-m mark --mark 0/0x40 --jump cali-from-host-endpoint",
    f"{ACCEPTED} --jump ACCEPT",
]


@pytest.mark.parametrize("ip_version", [4, 6])
def test_raw_chains(ip_version: int) -> None:
    raw = chains("raw", ip_version)
    assert raw["cali-PREROUTING"] == RAW_PREROUTING
    assert raw["cali-OUTPUT"] == [
        "--jump MARK --set-mark 0/0xf0",
        "--jump cali-to-host-endpoint",
        f"{ACCEPTED} --jump ACCEPT",
    ]
    assert raw["cali-rpf-skip"] == []


def test_raw_prerouting_with_openstack_and_reject_deny_action() -> None:
    cfg = dataclasses.replace(CFG, openstack_special_cases=True, filter_deny_action="REJECT")
    dhcp = (
        "-p udp --source 0.0.0.0 -m multiport --source-ports 68 "
        "-m multiport --destination-ports 67 --jump ACCEPT"
    )
    # The kernel refuses REJECT in the raw table: the RPF drop stays a DROP.
    assert chains("raw", 4, cfg)["cali-PREROUTING"] == [
        *RAW_PREROUTING[:3],
        dhcp,
        *RAW_PREROUTING[3:],
    ]
    assert chains("raw", 6, cfg)["cali-PREROUTING"] == RAW_PREROUTING


def test_vxlan_notrack_in_raw() -> None:
    cfg = dataclasses.replace(CFG, vxlan_enabled=True)
    raw = chains("raw", 4, cfg)
    assert raw["cali-PREROUTING"][1] == "-p udp --dport 4789 --jump NOTRACK"
    assert raw["cali-OUTPUT"][2] == "-p udp --dport 4789 --jump NOTRACK"
    assert "--jump NOTRACK" not in " ".join(chains("raw", 6, cfg)["cali-PREROUTING"])


def test_mangle_chains() -> None:
    mangle = chains("mangle", 4)
    assert mangle["cali-PREROUTING"] == [
        "-m conntrack --ctstate RELATED,ESTABLISHED --jump ACCEPT",
        f"{ACCEPTED} --jump ACCEPT",
        "--jump cali-from-host-endpoint",
        f"{HOST_ACCEPTED} --jump ACCEPT",
    ]
    # Calico's DSCP rule is left out: we do not implement egress DSCP.
    assert mangle["cali-POSTROUTING"] == [
        f"{ACCEPTED} --jump RETURN",
        "--jump MARK --set-mark 0/0xf0",
        "-m conntrack --ctstate DNAT --jump cali-to-host-endpoint",
        f"{HOST_ACCEPTED} --jump RETURN",
    ]


@pytest.mark.parametrize(
    ("action", "target"), [("RETURN", "RETURN"), ("DROP", "DROP"), ("ACCEPT", "ACCEPT")]
)
def test_workload_to_host(action: str, target: str) -> None:
    cfg = dataclasses.replace(CFG, default_endpoint_to_host_action=action)
    final = f'-m comment --comment "Configured DefaultEndpointToHostAction" --jump {target}'
    assert chains("filter", 4, cfg)["cali-wl-to-host"] == [
        "--jump cali-from-wl-dispatch",
        final,
    ]
    icmp6 = [
        f"-p 58 -m icmp6 --icmpv6-type {t} --jump ACCEPT" for t in (130, 131, 132, 133, 135, 136)
    ]
    assert chains("filter", 6, cfg)["cali-wl-to-host"] == [
        *icmp6,
        "--jump cali-from-wl-dispatch",
        final,
    ]


def test_workload_to_host_openstack_special_cases() -> None:
    cfg = dataclasses.replace(CFG, openstack_special_cases=True)
    assert chains("filter", 4, cfg)["cali-wl-to-host"][:3] == [
        "-p tcp --destination 127.0.0.1 -m multiport --destination-ports 8775 --jump ACCEPT",
        "-p udp -m multiport --source-ports 68 -m multiport --destination-ports 67 --jump ACCEPT",
        "-p udp -m multiport --destination-ports 53 --jump ACCEPT",
    ]
    assert chains("filter", 6, cfg)["cali-wl-to-host"][6:8] == [
        "-p udp -m multiport --source-ports 546 -m multiport --destination-ports 547 --jump ACCEPT",
        "-p udp -m multiport --destination-ports 53 --jump ACCEPT",
    ]


def test_ipip_and_vxlan_host_rules() -> None:
    cfg = dataclasses.replace(
        CFG, ipip_enabled=True, vxlan_enabled=True, filter_deny_action="REJECT"
    )
    filt = chains("filter", 4, cfg)
    assert filt["cali-INPUT"][:4] == [
        '-m comment --comment "Allow IPIP packets from Calico hosts" -p 4 '
        "-m set --match-set cali40all-hosts-net src -m addrtype --dst-type LOCAL --jump ACCEPT",
        '-m comment --comment "Reject IPIP packets from non-Calico hosts" -p 4 --jump REJECT',
        '-m comment --comment "Allow IPv4 VXLAN packets from allowed hosts" '
        "-p 17 -m multiport --destination-ports 4789 -m set --match-set cali40all-vxlan-net src "
        "-m addrtype --dst-type LOCAL --jump ACCEPT",
        '-m comment --comment "Drop IPv4 VXLAN packets from non-allowed hosts" '
        "-p 17 -m multiport --destination-ports 4789 -m addrtype --dst-type LOCAL --jump DROP",
    ]
    assert filt["cali-OUTPUT"][2:4] == [
        '-m comment --comment "Allow IPIP packets to other Calico hosts" -p 4 '
        "-m set --match-set cali40all-hosts-net dst -m addrtype --src-type LOCAL --jump ACCEPT",
        '-m comment --comment "Allow IPv4 VXLAN packets to other allowed hosts" '
        "-p 17 -m multiport --destination-ports 4789 -m addrtype --src-type LOCAL "
        "-m set --match-set cali40all-vxlan-net dst --jump ACCEPT",
    ]
    assert (
        chains("filter", 6, cfg)["cali-INPUT"][0] == "--in-interface cali+ --goto cali-wl-to-host"
    )


def test_ipv6_vxlan_uses_the_deny_action() -> None:
    cfg = dataclasses.replace(CFG, vxlan_enabled_v6=True, filter_deny_action="REJECT")
    assert chains("filter", 6, cfg)["cali-INPUT"][1] == (
        '-m comment --comment "Reject IPv6 VXLAN packets from non-allowed hosts" '
        "-p 17 -m multiport --destination-ports 4789 -m addrtype --dst-type LOCAL --jump REJECT"
    )


# --- nat --------------------------------------------------------------------------

TUNNEL_MATCH = "-m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL"


def test_nat_chains_default() -> None:
    assert chains("nat", 4) == {
        "cali-PREROUTING": ["--jump cali-fip-dnat"],
        "cali-POSTROUTING": ["--jump cali-fip-snat", "--jump cali-nat-outgoing"],
        "cali-OUTPUT": ["--jump cali-fip-dnat"],
        "cali-nat-outgoing": [],
        "cali-fip-dnat": [],
        "cali-fip-snat": [],
    }


def test_nat_postrouting_tunnel_masquerade() -> None:
    cfg = dataclasses.replace(CFG, ipip_enabled=True, ipip_tunnel_address="10.0.0.1")
    assert chains("nat", 4, cfg)["cali-POSTROUTING"][2:] == [
        f"--out-interface tunl0 {TUNNEL_MATCH} --jump MASQUERADE"
    ]
    cfg = dataclasses.replace(cfg, vxlan_enabled=True, vxlan_tunnel_address="10.0.0.2")
    masq_udp = "--jump MASQUERADE --to-ports 4790-65535"
    assert chains("nat", 4, cfg)["cali-POSTROUTING"][2:] == [
        f"-p 17 --out-interface tunl0 {TUNNEL_MATCH} {masq_udp}",
        f"--out-interface tunl0 {TUNNEL_MATCH} --jump MASQUERADE",
        f"-p 17 --out-interface vxlan.calico {TUNNEL_MATCH} {masq_udp}",
        f"--out-interface vxlan.calico {TUNNEL_MATCH} --jump MASQUERADE",
    ]
    high_port = dataclasses.replace(cfg, vxlan_port=60000)
    assert chains("nat", 4, high_port)["cali-POSTROUTING"][2].endswith("--to-ports 1024-59999")
    assert chains("nat", 6, cfg)["cali-POSTROUTING"] == [
        "--jump cali-fip-snat",
        "--jump cali-nat-outgoing",
    ]


def test_nat_prerouting_openstack_metadata() -> None:
    cfg = dataclasses.replace(CFG, openstack_special_cases=True)
    assert chains("nat", 4, cfg)["cali-PREROUTING"] == [
        "--jump cali-fip-dnat",
        "-p tcp -m multiport --destination-ports 80 --destination 169.254.169.254/32 "
        "--jump DNAT --to-destination 127.0.0.1:8775",
    ]
    assert chains("nat", 6, cfg)["cali-PREROUTING"] == ["--jump cali-fip-dnat"]


def test_nat_outgoing_chain() -> None:
    renderer = RuleRenderer(CFG)
    assert renderer.nat_outgoing_chain(False, 4).rules == ()
    assert _body(renderer.nat_outgoing_chain(True, 4)) == [
        "-m set --match-set cali40masq-ipam-pools src "
        "-m set ! --match-set cali40network-ip-pools dst --jump MASQUERADE"
    ]
    snat = RuleRenderer(dataclasses.replace(CFG, nat_outgoing_address="192.0.2.1"))
    assert _body(snat.nat_outgoing_chain(True, 6))[0].endswith(
        "cali60network-ip-pools dst --jump SNAT --to-source 192.0.2.1"
    )
    assert chains("nat", 4, dataclasses.replace(CFG, nat_outgoing=True))["cali-nat-outgoing"]


def test_floating_ips_and_rpf_skip() -> None:
    renderer = RuleRenderer(CFG)
    ep = WorkloadEndpoint(
        "cali1",
        ipv4_nat=(NatInfo("172.16.0.2", "10.0.0.2"), NatInfo("172.16.0.1", "10.0.0.9")),
        allow_spoofed_source_prefixes=("10.9.0.0/16", "fd00:9::/64"),
    )
    dnat, snat = renderer.floating_ip_chains([ep], 4)
    assert _body(dnat) == [
        "--destination 172.16.0.1 --jump DNAT --to-destination 10.0.0.9",
        "--destination 172.16.0.2 --jump DNAT --to-destination 10.0.0.2",
    ]
    assert _body(snat) == [
        "--destination 10.0.0.2 --source 10.0.0.2 --jump SNAT --to-source 172.16.0.2",
        "--destination 10.0.0.9 --source 10.0.0.9 --jump SNAT --to-source 172.16.0.1",
    ]
    assert _body(renderer.rpf_skip_chain([ep], 4)) == [
        "--in-interface cali1 --source 10.9.0.0/16 --jump ACCEPT"
    ]
    assert _body(renderer.rpf_skip_chain([ep], 6)) == [
        "--in-interface cali1 --source fd00:9::/64 --jump ACCEPT"
    ]


# --- the skeleton as a whole ------------------------------------------------------------


@pytest.mark.parametrize("table", ["raw", "mangle", "nat", "filter"])
@pytest.mark.parametrize("ip_version", [4, 6])
def test_static_skeleton_defines_every_chain_it_jumps_to(table: str, ip_version: int) -> None:
    renderer = RuleRenderer(
        dataclasses.replace(
            CFG, ipip_enabled=True, vxlan_enabled=True, openstack_special_cases=True
        )
    )
    rendered = renderer.static_chains(table, ip_version)
    defined = {c.name for c in rendered}
    assert len(defined) == len(rendered)  # no duplicates
    hooks = renderer.kernel_hooks(table, ip_version)
    hook_rules = [r for rules in (*hooks.inserts.values(), *hooks.appends.values()) for r in rules]
    referenced = {r.target for r in hook_rules if r.target} | {
        ref for c in rendered for ref in c.references()
    }
    assert referenced <= defined


def test_kernel_hooks() -> None:
    renderer = RuleRenderer(CFG)
    filt = renderer.kernel_hooks("filter", 4)
    assert {k: [r.render(f"-I {k}") for r in v] for k, v in filt.inserts.items()} == {
        "FORWARD": ["-I FORWARD --jump cali-FORWARD"],
        "INPUT": ["-I INPUT --jump cali-INPUT"],
        "OUTPUT": ["-I OUTPUT --jump cali-OUTPUT"],
    }
    assert [r.render("-A FORWARD") for r in filt.appends["FORWARD"]] == [
        '-A FORWARD -m comment --comment "Policy explicitly accepted packet." '
        f"{ACCEPTED} --jump ACCEPT",
        "-A FORWARD --jump MARK --set-mark 0x10/0x10",
    ]
    nat = renderer.kernel_hooks("nat", 4)
    assert set(nat.inserts) == {"PREROUTING", "OUTPUT"}
    assert set(nat.appends) == {"POSTROUTING"}  # after kube-proxy's MASQUERADE
    with pytest.raises(ValueError, match="unknown iptables table"):
        renderer.kernel_hooks("security", 4)
