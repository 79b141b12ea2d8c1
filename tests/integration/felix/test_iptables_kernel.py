"""The iptables driver against the real kernel, inside a throw-away network namespace.

Every test creates its own namespace (``calitest-<random>``), runs iptables
only through ``ip netns exec`` and deletes the namespace afterwards.  Both
iptables backends are exercised: nft (Debian's default) and legacy.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from calico.felix.ipsets import IPSets
from calico.felix.iptables import SubprocessRunner, Table
from calico.felix.messages import (
    IPSetType,
    Policy,
    PolicyID,
    PortRange,
    Profile,
    ProfileID,
    Rule,
    TierInfo,
    WorkloadEndpoint,
)
from calico.felix.rules import TABLES, RendererConfig, RuleRenderer

pytestmark = pytest.mark.root

POLICY_ID = PolicyID("allow-http")
POLICY = Policy(
    inbound_rules=(
        Rule(action="allow", protocol="tcp", dst_ports=(PortRange(80, 81),),
             src_ip_set_ids=("web",)),
        Rule(action="deny", protocol="udp", src_net=("10.0.0.0/8", "fd00::/8", "11.0.0.0/8")),
    )
)  # fmt: skip
PROFILE_ID = ProfileID("kns.default")
PROFILE = Profile(inbound_rules=(Rule(action="allow"),), outbound_rules=(Rule(action="allow"),))
ENDPOINT = WorkloadEndpoint(
    name="cali12345678901",
    tiers=(TierInfo("default", ingress_policies=(POLICY_ID,)),),
    profile_ids=("kns.default",),
)
RENDERER = RuleRenderer(RendererConfig(workload_iface_prefixes=("cali", "tap"), vxlan_enabled=True))


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"calitest-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def in_ns(netns: str, *argv: str) -> str:
    done = subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def program(netns: str, backend: str, new_chain_batch: int = 250) -> dict[str, Table]:
    """Load IP sets, then every table: static skeleton, a policy, a profile, an endpoint."""
    runner = SubprocessRunner(netns)
    sets = IPSets(4, runner)
    for set_id in ("web", "all-vxlan-net", "masq-ipam-pools", "network-ip-pools"):
        sets.add_or_replace(set_id, IPSetType.NET, ["10.65.0.0/16"])
    sets.apply_updates()
    tables = {}
    for name in TABLES:
        table = Table(name, 4, runner, backend=backend, new_chain_batch=new_chain_batch)
        table.set_chains(RENDERER.static_chains(name, 4))
        hooks = RENDERER.kernel_hooks(name, 4)
        for chain, rules in hooks.inserts.items():
            table.set_insert_rules(chain, rules)
        for chain, rules in hooks.appends.items():
            table.set_append_rules(chain, rules)
        table.set_chains(RENDERER.policy_to_chains(POLICY_ID, POLICY, 4, name))
        table.set_chains(RENDERER.profile_to_chains(PROFILE_ID, PROFILE, 4, name))
        if name == "filter":
            table.set_chains(RENDERER.workload_endpoint_chains(ENDPOINT, 4))
            table.set_chains(RENDERER.workload_dispatch_chains([ENDPOINT], 4))
        table.apply()
        tables[name] = table
    return tables


def save(netns: str, backend: str, table: str = "filter", counters: bool = False) -> str:
    argv = [f"iptables-{backend}-save", "-t", table] + (["-c"] if counters else [])
    return in_ns(netns, *argv)


def chain_lines(text: str, chain: str) -> list[str]:
    return [line for line in text.splitlines() if f"-A {chain} " in line]


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_load_and_read_back(netns: str, backend: str) -> None:
    tables = program(netns, backend)
    filt = save(netns, backend)
    assert chain_lines(filt, "INPUT")[0].endswith("-j cali-INPUT")
    assert len(chain_lines(filt, "FORWARD")) == 3  # hook + two appended rules
    policy = chain_lines(filt, "cali-pi-gnp/allow-http")
    assert len(policy) == 7  # allow (2 rules) + deny split into a CIDR block (5)
    assert all(re.search(r'--comment "cali:[\w-]{16}"', line) for line in policy)
    assert "-m set --match-set cali40web src" in policy[0]
    assert "--dports 80:81" in policy[0]
    assert "-j cali-pi-gnp/allow-http" in " ".join(chain_lines(filt, "cali-tw-cali12345678901"))
    dispatch = chain_lines(filt, "cali-from-wl-dispatch")
    assert "-i cali12345678901" in dispatch[0]
    assert dispatch[0].endswith("-g cali-fw-cali12345678901")
    assert '"Unknown interface"' in dispatch[-1]
    # Policy chains are only programmed where something jumps to them.
    assert "cali-pi-gnp/allow-http" not in save(netns, backend, "raw")
    # Reading back finds exactly what was written: nothing to do.
    for table in tables.values():
        assert table.refresh().restore_calls == 0


def test_new_chains_written_in_small_batches_load_the_same_tables(netns: str) -> None:
    """The nft path that writes many new chains ahead of the linking transaction
    (targets first) ends in exactly the state of one transaction."""
    tables = program(netns, "nft", new_chain_batch=2)
    assert tables["filter"].refresh().restore_calls == 0
    other = f"calitest-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", other], check=True)
    try:
        program(other, "nft")
        for name in TABLES:
            batched, single = (
                [line for line in save(ns, "nft", name).splitlines() if not line.startswith("#")]
                for ns in (netns, other)
            )
            assert batched == single
            assert any(line.startswith(":cali-") for line in batched)
    finally:
        subprocess.run(["ip", "netns", "del", other], check=False)


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_changing_a_policy_rewrites_only_its_chain(netns: str, backend: str) -> None:
    tables = program(netns, backend)
    in_ns(netns, "ping", "-c", "2", "-i", "0.2", "-q", "127.0.0.1")  # traverses cali-INPUT
    before = chain_lines(save(netns, backend, counters=True), "cali-INPUT")
    assert any(not line.startswith("[0:0]") for line in before)
    changed = Policy(
        inbound_rules=(Rule(action="allow", protocol="tcp", dst_ports=(PortRange(443, 443),)),)
    )
    tables["filter"].set_chains(RENDERER.policy_to_chains(POLICY_ID, changed, 4))
    stats = tables["filter"].apply()
    assert stats.chains_written == ("cali-pi-gnp/allow-http",)
    assert stats.restore_input.startswith("*filter\n-R cali-pi-gnp/allow-http 1 ")
    after_text = save(netns, backend, counters=True)
    assert chain_lines(after_text, "cali-INPUT") == before  # counters kept
    assert len(chain_lines(after_text, "cali-pi-gnp/allow-http")) == 1  # RETURN stripped


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_refresh_repairs_drift(netns: str, backend: str) -> None:
    tables = program(netns, backend)
    wanted = chain_lines(save(netns, backend), "cali-pi-gnp/allow-http")
    in_ns(netns, f"iptables-{backend}", "-D", "cali-pi-gnp/allow-http", "1")
    in_ns(netns, f"iptables-{backend}", "-N", "cali-foo")
    in_ns(netns, f"iptables-{backend}", "-A", "cali-foo", "-j", "DROP")
    in_ns(netns, f"iptables-{backend}", "-I", "INPUT", "-p", "udp", "-j", "ACCEPT")
    stats = tables["filter"].refresh()
    assert stats.chains_written == ("cali-pi-gnp/allow-http",)
    assert stats.chains_deleted == ("cali-foo",)
    assert stats.kernel_chains_written == ("INPUT",)
    text = save(netns, backend)
    assert chain_lines(text, "cali-pi-gnp/allow-http") == wanted
    assert ":cali-foo" not in text
    inputs = chain_lines(text, "INPUT")
    assert inputs[0].endswith("-j cali-INPUT")  # our hook is back on top
    assert inputs[1] == "-A INPUT -p udp -j ACCEPT"  # and the foreign rule is kept
    assert tables["filter"].refresh().restore_calls == 0


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_removing_everything_leaves_no_trace(netns: str, backend: str) -> None:
    tables = program(netns, backend)
    for name, table in tables.items():
        for chain in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"):
            table.set_insert_rules(chain, [])
            table.set_append_rules(chain, [])
        table.apply()
        assert "cali" not in save(netns, backend, name)
