"""The iptables Table driver against the in-memory iptables (no root)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calico.errors import CommandFailedError, DataplaneError
from calico.felix.iptables import CommandResult, FakeRunner, Table
from calico.felix.iptables.fakes import FakeIptables
from calico.felix.rules import Chain, IptRule
from calico.felix.rules import actions as a
from calico.felix.rules.matches import Match
from calico.felix.rules.names import rule_hashes


class Kernel:
    def __init__(self) -> None:
        self.runner = FakeRunner()
        self.iptables = FakeIptables()
        self.iptables.install(self.runner)
        self.sleeps: list[float] = []

    def table(self, name: str = "filter", ip_version: int = 4, **kwargs: object) -> Table:
        return Table(name, ip_version, self.runner, sleep=self.sleeps.append, **kwargs)  # type: ignore[arg-type]

    def rules(self, chain: str, table: str = "filter", ip_version: int = 4) -> list[str]:
        return self.iptables.rules(ip_version, table, chain)

    def chains(self, table: str = "filter", ip_version: int = 4) -> list[str]:
        return list(self.iptables.tables[(ip_version, table)])

    def restores(self) -> list[str]:
        return [stdin or "" for argv, stdin in self.runner.calls if argv[0].endswith("-restore")]


def plain(lines: list[str]) -> list[str]:
    """Rules without their hash comments."""
    return [re.sub(r'-m comment --comment "cali:[^"]*" ', "", line) for line in lines]


def drop(port: int) -> IptRule:
    return IptRule(Match().protocol("tcp").dest_port(port), a.DROP)


def hooked(kernel: Kernel, *chains: Chain) -> Table:
    """A filter table with INPUT → cali-INPUT → the given chains."""
    table = kernel.table()
    root = Chain("cali-INPUT", tuple(IptRule(action=a.jump(c.name)) for c in chains))
    table.set_chains([root, *chains])
    table.set_insert_rules("INPUT", [IptRule(action=a.jump("cali-INPUT"))])
    return table


def test_first_apply_writes_chains_and_hooks_in_one_transaction() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (drop(80), drop(81))))
    stats = table.apply()
    h_a = rule_hashes("cali-a", [drop(80), drop(81)])
    h_root = rule_hashes("cali-INPUT", [IptRule(action=a.jump("cali-a"))])
    h_hook = rule_hashes("INPUT", [IptRule(action=a.jump("cali-INPUT"))])
    assert stats.restore_input == "\n".join([
        "*filter",
        ":cali-INPUT - -",
        ":cali-a - -",
        f'-A cali-INPUT -m comment --comment "cali:{h_root[0]}" --jump cali-a',
        f'-A cali-a -m comment --comment "cali:{h_a[0]}" -p tcp --dport 80 --jump DROP',
        f'-A cali-a -m comment --comment "cali:{h_a[1]}" -p tcp --dport 81 --jump DROP',
        f'-I INPUT -m comment --comment "cali:{h_hook[0]}" --jump cali-INPUT',
        "COMMIT",
        "",
    ])  # fmt: skip
    assert (stats.reads, stats.restore_calls) == (1, 1)
    assert stats.chains_written == ("cali-INPUT", "cali-a")
    assert kernel.rules("INPUT") == [f'-m comment --comment "cali:{h_hook[0]}" -j cali-INPUT']
    argv = kernel.runner.calls_to("iptables-restore")[0][0]
    assert argv == ("iptables-restore", "--noflush", "--wait", "10")


def test_apply_without_changes_touches_nothing() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (drop(80),)))
    table.apply()
    calls = len(kernel.runner.calls)
    assert table.apply().restore_calls == 0
    assert len(kernel.runner.calls) == calls  # not even a read
    table.set_chains([Chain("cali-a", (drop(80),))])  # equal chain: still nothing to do
    assert table.apply().restore_calls == 0
    refreshed = table.refresh()
    assert (refreshed.reads, refreshed.restore_calls) == (1, 0)


def test_changing_one_rule_replaces_only_that_rule() -> None:
    kernel = Kernel()
    table = hooked(
        kernel, Chain("cali-a", (drop(80), drop(81), drop(82))), Chain("cali-b", (drop(1),))
    )
    table.apply()
    table.set_chains([Chain("cali-a", (drop(80), drop(91), drop(82)))])
    stats = table.apply()
    assert stats.chains_written == ("cali-a",)
    lines = stats.restore_input.splitlines()[1:-1]
    # Hashes chain: rule 3 is unchanged but follows a changed rule, so it is replaced too.
    assert [line.split(" -m comment")[0] for line in lines] == ["-R cali-a 2", "-R cali-a 3"]
    assert "--dport 91" in kernel.rules("cali-a")[1]
    assert stats.reads == 0  # the cached view is trusted between applies


def test_shrinking_and_growing_a_chain() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (drop(1), drop(2), drop(3))))
    table.apply()
    table.set_chains([Chain("cali-a", (drop(1),))])
    assert table.apply().restore_input.splitlines()[1:-1] == ["-D cali-a 2", "-D cali-a 2"]
    assert len(kernel.rules("cali-a")) == 1
    table.set_chains([Chain("cali-a", (drop(1), drop(2)))])
    assert table.apply().restore_input.splitlines()[1].startswith("-A cali-a ")
    assert len(kernel.rules("cali-a")) == 2


def test_only_reachable_chains_are_programmed() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (drop(1),)))
    table.set_chains([Chain("cali-unused", (drop(2),))])
    table.apply()
    assert "cali-unused" not in kernel.chains()
    # Once something jumps to it, it is programmed; once not, it is deleted.
    table.set_chains([Chain("cali-a", (IptRule(action=a.jump("cali-unused")),))])
    table.apply()
    assert plain(kernel.rules("cali-unused")) == ["-p tcp --dport 2 -j DROP"]
    table.set_chains([Chain("cali-a", ())])
    stats = table.apply()
    assert stats.chains_deleted == ("cali-unused",)
    assert stats.restore_input.splitlines()[1] == ":cali-unused - -"
    assert stats.restore_input.splitlines()[-2] == "--delete-chain cali-unused"
    assert "cali-unused" not in kernel.chains()


def test_removed_chains_and_hooks_are_cleaned_up() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (drop(1),)))
    table.apply()
    table.set_insert_rules("INPUT", [])
    table.remove_chains(["cali-a"])
    stats = table.apply()
    assert set(stats.chains_deleted) == {"cali-INPUT", "cali-a"}
    assert stats.kernel_chains_written == ("INPUT",)
    assert kernel.chains() == ["INPUT", "FORWARD", "OUTPUT"]
    assert kernel.rules("INPUT") == []


def test_a_jump_to_an_undefined_chain_is_refused_before_writing() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (IptRule(action=a.goto("cali-missing")),)))
    with pytest.raises(DataplaneError, match="cali-a jumps to cali-missing, which is not defined"):
        table.apply()
    assert kernel.restores() == []


def test_resync_removes_unknown_chains_and_stale_hooks_but_keeps_foreign_rules() -> None:
    kernel = Kernel()
    kernel.iptables.tables[(4, "filter")].update({
        "cali-foo": ["-j DROP"],
        "INPUT": ['-m comment --comment "cali:oldoldoldoldold1" -j cali-foo', "-p tcp -j ACCEPT"],
        "KUBE-SERVICES": ['-m comment --comment "cali:oldoldoldoldold2" -j ACCEPT', "-j RETURN"],
    })  # fmt: skip
    table = hooked(kernel, Chain("cali-a", (drop(1),)))
    stats = table.apply()
    assert stats.chains_deleted == ("cali-foo",)
    assert set(stats.kernel_chains_written) == {"INPUT", "KUBE-SERVICES"}
    assert "cali-foo" not in kernel.chains()
    assert kernel.rules("INPUT")[1:] == ["-p tcp -j ACCEPT"]
    assert "-j cali-INPUT" in kernel.rules("INPUT")[0]
    assert kernel.rules("KUBE-SERVICES") == ["-j RETURN"]


def test_refresh_repairs_a_rule_deleted_behind_our_back() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (drop(1), drop(2))), Chain("cali-b", (drop(3),)))
    table.apply()
    before = kernel.rules("cali-a")
    del kernel.iptables.tables[(4, "filter")]["cali-a"][0]
    assert table.apply().restore_calls == 0  # cached view: drift not noticed yet
    stats = table.refresh()
    assert stats.chains_written == ("cali-a",)
    assert kernel.rules("cali-a") == before


def test_refresh_puts_our_hook_back_on_top() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", ()))
    table.apply()
    kernel.iptables.tables[(4, "filter")]["INPUT"].insert(0, "-p udp -j DROP")
    stats = table.refresh()
    assert stats.kernel_chains_written == ("INPUT",)
    assert "-j cali-INPUT" in kernel.rules("INPUT")[0]
    assert kernel.rules("INPUT")[1] == "-p udp -j DROP"


def test_append_mode_and_append_rules() -> None:
    kernel = Kernel()
    kernel.iptables.tables[(4, "filter")]["FORWARD"] = ["-p tcp -j ACCEPT"]
    table = kernel.table(insert_mode="append")
    table.set_chains([Chain("cali-FORWARD", ())])
    table.set_insert_rules("FORWARD", [IptRule(action=a.jump("cali-FORWARD"))])
    table.set_append_rules("FORWARD", [IptRule(action=a.set_mark(0x10000))])
    table.apply()
    rules = kernel.rules("FORWARD")
    assert rules[0] == "-p tcp -j ACCEPT"
    assert "-j cali-FORWARD" in rules[1]
    assert "-j MARK --set-mark 0x10000/0x10000" in rules[2]
    assert table.refresh().restore_calls == 0


def test_a_failed_restore_is_retried_after_re_reading() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (drop(1),)))
    kernel.runner.fail_next("iptables-restore", CommandResult(4, "", "COMMIT failed"))
    stats = table.apply()
    assert (stats.retries, stats.reads, stats.restore_calls) == (1, 2, 2)
    assert kernel.sleeps == [0.05]
    assert plain(kernel.rules("cali-a")) == ["-p tcp --dport 1 -j DROP"]


def test_persistent_failure_raises_with_the_restore_input() -> None:
    kernel = Kernel()
    table = hooked(kernel, Chain("cali-a", (drop(1),)))
    for _ in range(4):
        kernel.runner.fail_next("iptables-restore", CommandResult(1, "", "line 3 failed"))
    with pytest.raises(CommandFailedError, match="exited 1: line 3 failed") as caught:
        table.apply()
    assert caught.value.stdin is not None
    assert "-A cali-a" in caught.value.stdin
    assert kernel.sleeps == [0.05, 0.1, 0.2]


def test_nft_incompatible_table_is_an_error() -> None:
    kernel = Kernel()
    kernel.runner.fail_next(
        "iptables-save",
        CommandResult(0, "# Table `filter' is incompatible, use 'nft' tool.\n"),
    )
    with pytest.raises(DataplaneError, match="nft rules"):
        hooked(kernel, Chain("cali-a", ())).apply()


@pytest.mark.parametrize(
    ("ip_version", "backend", "save", "restore"),
    [
        (4, "auto", "iptables-save", "iptables-restore"),
        (6, "legacy", "ip6tables-legacy-save", "ip6tables-legacy-restore"),
        (6, "nft", "ip6tables-nft-save", "ip6tables-nft-restore"),
    ],
)
def test_tool_names(ip_version: int, backend: str, save: str, restore: str) -> None:
    kernel = Kernel()
    table = kernel.table("raw", ip_version, backend=backend)
    table.set_chains([Chain("cali-PREROUTING", ())])
    table.set_insert_rules("PREROUTING", [IptRule(action=a.jump("cali-PREROUTING"))])
    table.apply()
    assert [argv[0] for argv, _ in kernel.runner.calls] == [save, restore]
    assert kernel.iptables.rules(ip_version, "raw", "PREROUTING")


POLICY_RULES = (drop(1), IptRule(Match().protocol("udp"), comments=("count",)))


def fanned_out(
    kernel: Kernel, n: int, *, backend: str = "auto", new_chain_batch: int = 250
) -> Table:
    """INPUT → cali-INPUT → cali-e<i> (one per endpoint) → the shared cali-pol."""
    table = kernel.table(backend=backend, new_chain_batch=new_chain_batch)
    policy = Chain("cali-pol", POLICY_RULES)
    endpoints = [
        Chain(f"cali-e{i:02d}", (IptRule(action=a.jump("cali-pol")), drop(100 + i), IptRule()))
        for i in range(n)
    ]
    root = Chain("cali-INPUT", tuple(IptRule(action=a.goto(c.name)) for c in endpoints))
    table.set_chains([root, policy, *endpoints])
    table.set_insert_rules("INPUT", [IptRule(action=a.jump("cali-INPUT"))])
    return table


def test_many_new_chains_go_in_batches_targets_first_then_one_linking_transaction() -> None:
    kernel = Kernel()
    table = fanned_out(kernel, 5, backend="nft", new_chain_batch=3)
    stats = table.apply()
    restores = kernel.restores()
    # 7 new chains in batches of 3 (jump targets first), then the hook on its own.
    assert stats.restore_calls == len(restores) == 4
    declared = [[line[1:-4] for line in r.splitlines() if line.startswith(":")] for r in restores]
    assert declared == [
        ["cali-pol", "cali-e00", "cali-e01"],
        ["cali-e02", "cali-e03", "cali-e04"],
        ["cali-INPUT"],
        [],
    ]
    assert all("\n-I INPUT " not in r for r in restores[:3])  # nothing links them in early
    assert stats.restore_input == restores[-1]
    assert restores[-1].splitlines()[1].startswith("-I INPUT ")
    assert stats.chains_written == tuple(sorted(["cali-INPUT", "cali-pol"] + [
        f"cali-e{i:02d}" for i in range(5)
    ]))  # fmt: skip
    # Written whole, with the same hashes as a rule-by-rule write would have.
    hashes = [re.search(r"cali:(\S+)\"", r).group(1) for r in kernel.rules("cali-pol")]  # type: ignore[union-attr]
    assert hashes == rule_hashes("cali-pol", POLICY_RULES)
    assert plain(kernel.rules("cali-pol")) == [
        "-p tcp --dport 1 -j DROP",
        '-p udp -m comment --comment "count"',
    ]
    assert table.refresh().restore_calls == 0


def test_batched_and_single_transaction_writes_leave_the_same_table() -> None:
    batched, single = Kernel(), Kernel()
    fanned_out(batched, 6, backend="nft", new_chain_batch=2).apply()
    assert fanned_out(single, 6, new_chain_batch=100).apply().restore_calls == 1
    assert batched.iptables.tables == single.iptables.tables


def test_few_new_chains_or_the_legacy_backend_get_one_transaction() -> None:
    kernel = Kernel()
    assert fanned_out(kernel, 5, backend="legacy", new_chain_batch=2).apply().restore_calls == 1
    kernel = Kernel()
    assert fanned_out(kernel, 5, new_chain_batch=7).apply().restore_calls == 1
    assert all("--version" not in argv for argv, _ in kernel.runner.calls)


def test_auto_backend_asks_the_restore_tool_once_whether_it_is_legacy() -> None:
    kernel = Kernel()
    fake = kernel.runner.handlers["iptables-restore"]

    def legacy(argv: Sequence[str], stdin: str | None) -> CommandResult:
        if list(argv[1:]) == ["--version"]:
            return CommandResult(0, "iptables-restore v1.8.9 (legacy)\n")
        return fake(argv, stdin)

    kernel.runner.register(legacy, "iptables-restore")
    table = fanned_out(kernel, 5, new_chain_batch=2)
    assert table.apply().restore_calls == 1
    table.remove_chains([f"cali-e{i:02d}" for i in range(5)])
    table.set_chains([Chain("cali-INPUT", ())])
    table.apply()
    table.set_chains([Chain(f"cali-f{i}", ()) for i in range(4)])
    table.set_chains(
        [Chain("cali-INPUT", tuple(IptRule(action=a.jump(f"cali-f{i}")) for i in range(4)))]
    )
    assert table.apply().restore_calls == 1
    versions = [
        argv for argv, _ in kernel.runner.calls_to("iptables-restore") if "--version" in argv
    ]
    assert len(versions) == 1


def test_a_failed_batch_stops_the_apply_and_the_retry_finishes_the_job() -> None:
    kernel = Kernel()
    fake = kernel.runner.handlers["iptables-nft-restore"]
    restores: list[str] = []

    def second_fails_once(argv: Sequence[str], stdin: str | None) -> CommandResult:
        restores.append(stdin or "")
        if len(restores) == 2:
            return CommandResult(1, "", "line 2 failed")
        return fake(argv, stdin)

    kernel.runner.register(second_fails_once, "iptables-nft-restore")
    table = fanned_out(kernel, 5, backend="nft", new_chain_batch=3)
    stats = table.apply()
    # Batch 1 went in, batch 2 failed, so nothing after it ran; the retry re-read
    # the table, found batch 1's chains already right and wrote only the rest.
    assert (stats.retries, stats.reads) == (1, 2)
    assert [r.count("\n:") for r in restores] == [3, 3, 3, 1, 0]
    assert restores[2] == restores[1]
    assert "-j cali-INPUT" in kernel.rules("INPUT")[0]
    assert table.refresh().restore_calls == 0


def test_an_error_after_early_batches_forgets_the_cached_view() -> None:
    kernel = Kernel()
    fake = kernel.runner.handlers["iptables-nft-restore"]
    calls: list[int] = []

    def crash_on_the_linking_transaction(argv: Sequence[str], stdin: str | None) -> CommandResult:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("bug")
        return fake(argv, stdin)

    kernel.runner.register(crash_on_the_linking_transaction, "iptables-nft-restore")
    table = fanned_out(kernel, 5, backend="nft", new_chain_batch=3)
    with pytest.raises(RuntimeError, match="bug"):
        table.apply()
    assert "cali-e04" in kernel.chains()  # the early batches went in
    stats = table.apply()
    assert (stats.reads, stats.restore_calls) == (1, 1)
    assert "-j cali-INPUT" in kernel.rules("INPUT")[0]
    assert table.refresh().restore_calls == 0


def test_hooks_only_go_into_kernel_chains() -> None:
    with pytest.raises(ValueError, match="felix chain"):
        Kernel().table().set_insert_rules("cali-INPUT", [])
    with pytest.raises(ValueError, match="unknown iptables table"):
        Kernel().table("security")


# --- property: any sequence of desired states converges, and stays converged ------------

NAMES = ("cali-a", "cali-b", "cali-c")
desired_states = st.lists(
    st.dictionaries(st.sampled_from(NAMES), st.lists(st.integers(1, 4), max_size=4)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(states=desired_states, drift=st.booleans(), batch=st.sampled_from([1, 250]))
def test_any_sequence_of_states_converges(
    states: list[dict[str, list[int]]], drift: bool, batch: int
) -> None:
    kernel = Kernel()
    table = kernel.table(backend="nft", new_chain_batch=batch)
    table.set_insert_rules("INPUT", [IptRule(action=a.jump("cali-INPUT"))])
    for state in states:
        chains = [Chain(name, tuple(drop(p) for p in ports)) for name, ports in state.items()]
        root = Chain("cali-INPUT", tuple(IptRule(action=a.jump(n)) for n in sorted(state)))
        table.remove_chains(set(NAMES) - set(state))
        table.set_chains([root, *chains])
        if drift:  # someone else scribbles on the table between applies
            kernel.iptables.tables[(4, "filter")]["cali-zzz"] = []
            table.invalidate()
        table.apply()
        ours = {c for c in kernel.chains() if c.startswith("cali-")}
        assert ours == {"cali-INPUT", *state}
        for name, ports in state.items():
            assert plain(kernel.rules(name)) == [f"-p tcp --dport {p} -j DROP" for p in ports]
        assert table.refresh().restore_calls == 0
