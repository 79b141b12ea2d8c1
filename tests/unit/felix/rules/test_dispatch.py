"""Dispatch chains, ported from Calico's felix/rules/dispatch_test.go."""

from __future__ import annotations

import pytest

from calico.felix.messages import HostEndpoint, TierInfo, WorkloadEndpoint
from calico.felix.rules import Chain, RendererConfig, RuleRenderer
from calico.felix.rules.names import endpoint_chain_name

RENDERER = RuleRenderer(RendererConfig(workload_iface_prefixes=("cali", "tap")))
UNKNOWN = '-m comment --comment "Unknown interface" --jump DROP'


def as_dict(chains: list[Chain]) -> dict[str, list[str]]:
    return {c.name: [line.removeprefix(f"-A {c.name} ") for line in c.lines()] for c in chains}


def wl_in(iface: str, target: str) -> str:
    return f"--in-interface {iface} --goto {target}"


def wl_out(iface: str, target: str) -> str:
    return f"--out-interface {iface} --goto {target}"


WORKLOAD_CASES = [
    pytest.param([], {"cali-from-wl-dispatch": [UNKNOWN], "cali-to-wl-dispatch": [UNKNOWN]},
                 id="no endpoints"),
    pytest.param(["cali1234"], {
        "cali-from-wl-dispatch": [wl_in("cali1234", "cali-fw-cali1234"), UNKNOWN],
        "cali-to-wl-dispatch": [wl_out("cali1234", "cali-tw-cali1234"), UNKNOWN],
    }, id="single interface"),
    pytest.param(["cali1234", "cali2333", "cali2444"], {
        "cali-from-wl-dispatch-2": [wl_in("cali2333", "cali-fw-cali2333"),
                                    wl_in("cali2444", "cali-fw-cali2444"), UNKNOWN],
        "cali-from-wl-dispatch": [wl_in("cali1234", "cali-fw-cali1234"),
                                  wl_in("cali2+", "cali-from-wl-dispatch-2"), UNKNOWN],
        "cali-to-wl-dispatch-2": [wl_out("cali2333", "cali-tw-cali2333"),
                                  wl_out("cali2444", "cali-tw-cali2444"), UNKNOWN],
        "cali-to-wl-dispatch": [wl_out("cali1234", "cali-tw-cali1234"),
                                wl_out("cali2+", "cali-to-wl-dispatch-2"), UNKNOWN],
    }, id="interfaces sharing prefix"),
    pytest.param(["cali11", "cali12", "cali13", "cali21", "cali22"], {
        "cali-from-wl-dispatch-1": [wl_in("cali11", "cali-fw-cali11"),
                                    wl_in("cali12", "cali-fw-cali12"),
                                    wl_in("cali13", "cali-fw-cali13"), UNKNOWN],
        "cali-from-wl-dispatch-2": [wl_in("cali21", "cali-fw-cali21"),
                                    wl_in("cali22", "cali-fw-cali22"), UNKNOWN],
        "cali-from-wl-dispatch": [wl_in("cali1+", "cali-from-wl-dispatch-1"),
                                  wl_in("cali2+", "cali-from-wl-dispatch-2"), UNKNOWN],
        "cali-to-wl-dispatch-1": [wl_out("cali11", "cali-tw-cali11"),
                                  wl_out("cali12", "cali-tw-cali12"),
                                  wl_out("cali13", "cali-tw-cali13"), UNKNOWN],
        "cali-to-wl-dispatch-2": [wl_out("cali21", "cali-tw-cali21"),
                                  wl_out("cali22", "cali-tw-cali22"), UNKNOWN],
        "cali-to-wl-dispatch": [wl_out("cali1+", "cali-to-wl-dispatch-1"),
                                wl_out("cali2+", "cali-to-wl-dispatch-2"), UNKNOWN],
    }, id="multiple interfaces sharing multiple prefixes"),
    pytest.param(["cali1234", "cali1234"], {
        "cali-from-wl-dispatch": [wl_in("cali1234", "cali-fw-cali1234"), UNKNOWN],
        "cali-to-wl-dispatch": [wl_out("cali1234", "cali-tw-cali1234"), UNKNOWN],
    }, id="duplicate interface"),
]  # fmt: skip


@pytest.mark.parametrize(("names", "expected"), WORKLOAD_CASES)
def test_workload_dispatch(names: list[str], expected: dict[str, list[str]]) -> None:
    chains = RENDERER.workload_dispatch_chains(names, 4)
    assert as_dict(chains) == expected
    assert list(as_dict(chains)) == list(expected)  # children before their root


def test_workload_dispatch_accepts_endpoints_and_sorts_them() -> None:
    chains = RENDERER.workload_dispatch_chains([WorkloadEndpoint("tap2"), "cali9", "tap1"], 4)
    root = as_dict(chains)["cali-from-wl-dispatch"]
    # No common prefix: binned by first character.
    assert root == [wl_in("cali9", "cali-fw-cali9"),
                    wl_in("t+", "cali-from-wl-dispatch-t"), UNKNOWN]  # fmt: skip
    assert as_dict(chains)["cali-from-wl-dispatch-t"][:2] == [
        wl_in("tap1", "cali-fw-tap1"), wl_in("tap2", "cali-fw-tap2")
    ]  # fmt: skip


def test_empty_interface_name_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        RENDERER.workload_dispatch_chains([""], 4)


def test_an_interface_that_is_a_prefix_of_another() -> None:
    chains = as_dict(RENDERER.workload_dispatch_chains(["cali1", "cali12", "cali13"], 4))
    assert chains["cali-from-wl-dispatch"] == [
        wl_in("cali1", "cali-fw-cali1"),
        wl_in("cali12", "cali-fw-cali12"),
        wl_in("cali13", "cali-fw-cali13"),
        UNKNOWN,
    ]


# --- host endpoints ----------------------------------------------------------------

HEP = HostEndpoint("unused")
PRE_DNAT = HostEndpoint("unused", pre_dnat_tiers=(TierInfo("default"),))
UNTRACKED = HostEndpoint("unused", untracked_tiers=(TierInfo("default"),))


def test_host_dispatch_without_endpoints_falls_through() -> None:
    chains = RENDERER.host_dispatch_chains({}, 4)
    assert as_dict(chains["filter"]) == {
        "cali-from-host-endpoint": [],
        "cali-to-host-endpoint": [],
        "cali-from-hep-forward": [],
        "cali-to-hep-forward": [],
    }
    assert as_dict(chains["mangle"]) == {"cali-from-host-endpoint": [], "cali-to-host-endpoint": []}
    assert as_dict(chains["raw"]) == {"cali-from-host-endpoint": [], "cali-to-host-endpoint": []}
    assert chains["nat"] == []


def test_host_dispatch_filter_tree() -> None:
    endpoints = dict.fromkeys(("eth1234", "eth2333", "eth2444"), HEP)
    filt = as_dict(RENDERER.host_dispatch_chains(endpoints, 4)["filter"])
    assert filt["cali-from-host-endpoint"] == [
        wl_in("eth1234", "cali-fh-eth1234"),
        wl_in("eth2+", "cali-from-host-endpoint-2"),
    ]
    assert filt["cali-to-hep-forward-2"] == [
        wl_out("eth2333", "cali-thfw-eth2333"),
        wl_out("eth2444", "cali-thfw-eth2444"),
    ]
    assert list(filt) == [
        "cali-from-host-endpoint-2", "cali-from-host-endpoint",
        "cali-to-host-endpoint-2", "cali-to-host-endpoint",
        "cali-from-hep-forward-2", "cali-from-hep-forward",
        "cali-to-hep-forward-2", "cali-to-hep-forward",
    ]  # fmt: skip


def test_wildcard_host_endpoint_is_the_default() -> None:
    chains = RENDERER.host_dispatch_chains({"eth1234": HEP, "*": HEP}, 4)
    filt = as_dict(chains["filter"])
    assert filt["cali-from-host-endpoint"] == [
        wl_in("eth1234", "cali-fh-eth1234"),
        "--goto cali-fh-any-interface-at-all",
    ]
    # In filter, cali-OUTPUT already returned host→workload traffic.
    assert filt["cali-to-host-endpoint"] == [
        wl_out("eth1234", "cali-th-eth1234"),
        "--goto cali-th-any-interface-at-all",
    ]
    # cali-thfw-any-interface-at-all is 30 characters: shortened like any long name.
    thfw = endpoint_chain_name("cali-thfw-", "*")
    assert thfw == "cali-thfw-_Nqh4HyA73udmyanQI"
    assert filt["cali-to-hep-forward"][-1] == f"--goto {thfw}"
    # In mangle it has not: skip the wildcard's egress policy for local workloads.
    mangle = as_dict(chains["mangle"])
    skip = '-m comment --comment "Skip egress WHEP policy for traffic to local workload"'
    assert mangle["cali-to-host-endpoint"] == [
        wl_out("eth1234", "cali-th-eth1234"),
        f"{skip} --out-interface cali+ --jump RETURN",
        f"{skip} --out-interface tap+ --jump RETURN",
        "--goto cali-th-any-interface-at-all",
    ]
    # The wildcard has no pre-DNAT policy, so pre-DNAT dispatch has no default.
    assert mangle["cali-from-host-endpoint"] == []


def test_pre_dnat_and_untracked_dispatch_list_only_endpoints_with_such_policy() -> None:
    chains = RENDERER.host_dispatch_chains({"eth0": PRE_DNAT, "eth1": UNTRACKED, "*": PRE_DNAT}, 4)
    mangle = as_dict(chains["mangle"])
    assert mangle["cali-from-host-endpoint"] == [
        wl_in("eth0", "cali-fh-eth0"),
        "--goto cali-fh-any-interface-at-all",
    ]
    raw = as_dict(chains["raw"])
    assert raw == {
        "cali-from-host-endpoint": [wl_in("eth1", "cali-fh-eth1")],
        "cali-to-host-endpoint": [wl_out("eth1", "cali-th-eth1")],
    }
