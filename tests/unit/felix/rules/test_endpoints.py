"""Endpoint chains, ported from Calico's felix/rules/endpoints_test.go.

Marks as in that test: accept 0x8, pass 0x10, scratch 0x20/0x40, drop 0x80.
"""

from __future__ import annotations

import dataclasses

import pytest

from calico.felix.messages import HostEndpoint, PolicyID, TierInfo, WorkloadEndpoint
from calico.felix.rules import Chain, Marks, RendererConfig, RuleRenderer

MARKS = Marks(accept=0x8, pass_=0x10, scratch0=0x20, scratch1=0x40, drop=0x80)
CFG = RendererConfig(marks=MARKS)

ESTABLISHED_ACCEPT = "-m conntrack --ctstate RELATED,ESTABLISHED --jump ACCEPT"
CLEAR = "--jump MARK --set-mark 0/0x18"
ACCEPTED = "-m mark --mark 0x8/0x8"
PASS_CLEAR = "-m mark --mark 0/0x10"


def body(chain: Chain) -> list[str]:
    """The chain's rules without the ``-A <name> `` prefix."""
    return [line.removeprefix(f"-A {chain.name} ") for line in chain.lines()]


def tier(name: str = "default", ingress: tuple[str, ...] = (), egress: tuple[str, ...] = (),
         default_action: str = "Deny") -> TierInfo:  # fmt: skip
    def ids(names: tuple[str, ...]) -> tuple[PolicyID, ...]:
        return tuple(PolicyID(n.removeprefix("staged:"), kind="sgnp" if "staged:" in n else "gnp")
                     for n in names)  # fmt: skip

    return TierInfo(name, ids(ingress), ids(egress), default_action)


def policy_rules(prefix: str, *names: str, verb: str = "Drop", end: bool = True) -> list[str]:
    rules = ['-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x10']
    for name in names:
        rules += [
            f"{PASS_CLEAR} --jump {prefix}gnp/{name}",
            f'-m comment --comment "Return if policy accepted" {ACCEPTED} --jump RETURN',
        ]
    if end:
        rules.append(
            f'-m comment --comment "End of tier default. {verb} if no policies passed packet" '
            f"{PASS_CLEAR} --jump {verb.upper()}"
        )
    return rules


def profile_rules(prefix: str, *names: str, verb: str = "Drop") -> list[str]:
    rules = []
    for name in names:
        rules += [
            f"--jump {prefix}{name}",
            f'-m comment --comment "Return if profile accepted" {ACCEPTED} --jump RETURN',
        ]
    return [*rules, f'-m comment --comment "{verb} if no profiles matched" --jump {verb.upper()}']


def encap_drops(verb: str = "Drop") -> list[str]:
    return [
        f'-m comment --comment "{verb} VXLAN encapped packets originating in workloads" '
        f"-p 17 -m multiport --destination-ports 4789 --jump {verb.upper()}",
        f'-m comment --comment "{verb} IPinIP encapped packets originating in workloads" '
        f"-p 4 --jump {verb.upper()}",
    ]


def workload(cfg: RendererConfig = CFG, **fields: object) -> list[Chain]:
    endpoint = WorkloadEndpoint(name="cali1234", **fields)  # type: ignore[arg-type]
    return RuleRenderer(cfg).workload_endpoint_chains(endpoint, 4)


@pytest.mark.parametrize("verb", ["Drop", "Reject"])
def test_minimal_workload_endpoint(verb: str) -> None:
    cfg = dataclasses.replace(CFG, filter_deny_action=verb.upper())
    to_wl, from_wl = workload(cfg)
    invalid = f"-m conntrack --ctstate INVALID --jump {verb.upper()}"
    assert to_wl.name == "cali-tw-cali1234"
    assert from_wl.name == "cali-fw-cali1234"
    assert body(to_wl) == [ESTABLISHED_ACCEPT, invalid, CLEAR, *profile_rules("", verb=verb)]
    assert body(from_wl) == [
        ESTABLISHED_ACCEPT, invalid, CLEAR, *encap_drops(verb), *profile_rules("", verb=verb)
    ]  # fmt: skip


def test_admin_down_workload_drops_everything() -> None:
    for chain in workload(state="down", profile_ids=("prof1",)):
        assert body(chain) == ['-m comment --comment "Endpoint admin disabled" --jump DROP']


def test_fully_loaded_workload_endpoint() -> None:
    to_wl, from_wl = workload(
        tiers=(tier(ingress=("ai", "bi"), egress=("ae", "be")),), profile_ids=("prof1", "prof2")
    )
    head = [ESTABLISHED_ACCEPT, "-m conntrack --ctstate INVALID --jump DROP", CLEAR]
    assert body(to_wl) == [
        *head,
        *policy_rules("cali-pi-", "ai", "bi"),
        *profile_rules("cali-pri-", "prof1", "prof2"),
    ]
    assert body(from_wl) == [
        *head,
        *encap_drops(),
        *policy_rules("cali-po-", "ae", "be"),
        *profile_rules("cali-pro-", "prof1", "prof2"),
    ]


def test_staged_policies_get_no_jump_and_do_not_end_the_tier() -> None:
    to_wl, from_wl = workload(
        tiers=(tier(ingress=("staged:ai", "bi"), egress=("staged:ae", "staged:be")),)
    )
    assert policy_rules("cali-pi-", "bi") == body(to_wl)[3:-1]
    # Only staged policies: the tier starts but never drops.
    assert body(from_wl)[5:-1] == policy_rules("cali-po-", end=False)


def test_tier_with_pass_default_action_has_no_end_of_tier_drop() -> None:
    to_wl, _ = workload(tiers=(tier(ingress=("ai",), default_action="Pass"),), profile_ids=("p",))
    assert body(to_wl)[3:] == [
        *policy_rules("cali-pi-", "ai", end=False),
        *profile_rules("cali-pri-", "p"),
    ]


def test_tiers_without_policy_in_a_direction_are_skipped() -> None:
    to_wl, from_wl = workload(tiers=(tier(egress=("ae",)), tier("t2", ingress=("bi",))))
    assert '"Start of tier t2"' in " ".join(body(to_wl))
    assert '"Start of tier default"' not in " ".join(body(to_wl))
    assert '"Start of tier t2"' not in " ".join(body(from_wl))


def test_conntrack_invalid_disabled_and_return_allow_action() -> None:
    cfg = dataclasses.replace(CFG, disable_conntrack_invalid=True, filter_allow_action="RETURN")
    to_wl, _ = workload(cfg)
    assert body(to_wl)[:3] == [
        "-m conntrack --ctstate RELATED,ESTABLISHED --jump MARK --set-mark 0x8/0x8",
        "-m conntrack --ctstate RELATED,ESTABLISHED --jump RETURN",
        CLEAR,
    ]


def test_encapsulated_packets_from_workloads_can_be_allowed() -> None:
    cfg = dataclasses.replace(
        CFG, allow_vxlan_packets_from_workloads=True, allow_ipip_packets_from_workloads=True
    )
    _, from_wl = workload(cfg)
    assert not any("encapped" in line for line in body(from_wl))


# --- host endpoints ----------------------------------------------------------------


def host(endpoint: HostEndpoint, cfg: RendererConfig = CFG) -> dict[str, list[Chain]]:
    return RuleRenderer(cfg).host_endpoint_chains(endpoint, 4)


def test_host_endpoint_filter_chains() -> None:
    hep = HostEndpoint(
        "eth0", profile_ids=("prof1",), tiers=(tier(ingress=("ai",), egress=("ae",)),)
    )
    th, fh, thfw, fhfw = host(hep)["filter"]
    head = [ESTABLISHED_ACCEPT, "-m conntrack --ctstate INVALID --jump DROP"]
    assert [c.name for c in (th, fh, thfw, fhfw)] == [
        "cali-th-eth0", "cali-fh-eth0", "cali-thfw-eth0", "cali-fhfw-eth0"
    ]  # fmt: skip
    assert body(th) == [
        *head, "--jump cali-failsafe-out", CLEAR,
        *policy_rules("cali-po-", "ae"), *profile_rules("cali-pro-", "prof1"),
    ]  # fmt: skip
    assert body(fh) == [
        *head, "--jump cali-failsafe-in", CLEAR,
        *policy_rules("cali-pi-", "ai"), *profile_rules("cali-pri-", "prof1"),
    ]  # fmt: skip
    # No applyOnForward policy: forwarded traffic is allowed by default.
    assert body(thfw) == [
        *head, CLEAR,
        '-m comment --comment "Allow forwarded traffic by default" --jump MARK --set-mark 0x8/0x8',
        '-m comment --comment "Return for accepted forward traffic" --jump RETURN',
    ]  # fmt: skip


def test_host_endpoint_forward_chains_with_apply_on_forward_policy() -> None:
    hep = HostEndpoint("eth0", profile_ids=("prof1",), forward_tiers=(tier(ingress=("afi",)),))
    _, _, thfw, fhfw = host(hep)["filter"]
    head = [ESTABLISHED_ACCEPT, "-m conntrack --ctstate INVALID --jump DROP", CLEAR]
    assert body(fhfw) == [*head, *policy_rules("cali-pi-", "afi")]
    assert body(thfw) == head  # a forward tier exists, just not for egress: no default allow


def test_untracked_host_endpoint_chains_in_raw() -> None:
    cfg = dataclasses.replace(CFG, filter_deny_action="REJECT")
    hep = HostEndpoint("eth0", untracked_tiers=(tier(ingress=("c",)),))
    raw = host(hep, cfg)["raw"]
    assert [c.name for c in raw] == ["cali-th-eth0", "cali-fh-eth0"]
    assert body(raw[0]) == ["--jump cali-failsafe-out", CLEAR]
    assert body(raw[1]) == [
        "--jump cali-failsafe-in",
        CLEAR,
        '-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x10',
        f"{PASS_CLEAR} --jump cali-pi-gnp/c",
        f"{ACCEPTED} --jump NOTRACK",
        f'-m comment --comment "Return if policy accepted" {ACCEPTED} --jump RETURN',
    ]
    assert host(HostEndpoint("*", untracked_tiers=(tier(ingress=("c",)),)))["raw"] == []


def test_pre_dnat_and_egress_chains_in_mangle_never_reject() -> None:
    cfg = dataclasses.replace(CFG, filter_deny_action="REJECT")
    hep = HostEndpoint(
        "eth0", tiers=(tier(egress=("ae",)),), pre_dnat_tiers=(tier(ingress=("p",)),)
    )
    egress, pre_dnat = host(hep, cfg)["mangle"]
    assert body(egress)[:4] == [
        "-m conntrack --ctstate RELATED,ESTABLISHED --jump MARK --set-mark 0x8/0x8",
        "-m conntrack --ctstate RELATED,ESTABLISHED --jump RETURN",
        "-m conntrack --ctstate INVALID --jump DROP",
        "--jump cali-failsafe-out",
    ]
    assert body(egress)[-1] == '-m comment --comment "Drop if no profiles matched" --jump DROP'
    assert pre_dnat.name == "cali-fh-eth0"
    assert body(pre_dnat) == [
        ESTABLISHED_ACCEPT, "-m conntrack --ctstate INVALID --jump DROP",
        "--jump cali-failsafe-in", CLEAR, *policy_rules("cali-pi-", "p", end=False),
    ]  # fmt: skip
