"""A fake host for dataplane unit tests: in-memory iptables, ipset, netlink, /proc/sys, clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from calico.felix.dataplane import ApplyReport, DataplaneConfig, EndpointKey, InternalDataplane
from calico.felix.dataplane.fakes import FakeNetlink, FakeProcSys
from calico.felix.dataplane.netlink import Address
from calico.felix.iptables import CommandResult, FakeRunner
from calico.felix.iptables.cmd import Handler
from calico.felix.iptables.fakes import FakeIPSet, FakeIptables
from calico.felix.messages import (
    ActivePolicyUpdate,
    ActiveProfileUpdate,
    Policy,
    PolicyID,
    Profile,
    ProfileID,
    Rule,
    TierInfo,
    WorkloadEndpoint,
    WorkloadEndpointID,
    WorkloadEndpointUpdate,
)

_IPSET_WRITES = {("ipset", "restore"), ("ipset", "destroy")}
HOST_IP = "10.0.0.1"
IFACE_A = "cali1111111111a"
IFACE_B = "cali2222222222b"
ALLOW_ALL = ActiveProfileUpdate(
    ProfileID("allow-all"),
    Profile(inbound_rules=(Rule(action="allow"),), outbound_rules=(Rule(action="allow"),)),
)


class FakeHost:
    """Everything a dataplane touches, in memory; ``now`` is the clock."""

    def __init__(self) -> None:
        self.journal: list[str] = []  # every kernel write, in order, across all fakes
        self.runner = FakeRunner()
        self.iptables = FakeIptables()
        self.ipset = FakeIPSet()
        self.iptables.install(self.runner)
        self.ipset.install(self.runner)
        for program, handler in list(self.runner.handlers.items()):
            self.runner.handlers[program] = self._journaled(handler)
        self.netlink = FakeNetlink(calls=self.journal)
        self.netlink.add_link("lo")
        self.netlink.add_link("eth0")
        self.netlink.addrs.add(Address("eth0", HOST_IP, 24))
        self.procsys = FakeProcSys({"net/ipv4/conf/default/rp_filter": "1"})
        self.now = 100.0
        self.reports: list[ApplyReport] = []
        self.statuses: list[Mapping[EndpointKey, str]] = []
        self.fatal: list[BaseException] = []

    def dataplane(self, config: DataplaneConfig | None = None, **changes: Any) -> InternalDataplane:
        cfg = config or DataplaneConfig(hostname="host1")
        if changes:
            cfg = replace(cfg, **changes)
        return InternalDataplane(
            cfg,
            runner=self.runner,
            netlink=self.netlink,
            procsys=self.procsys,
            clock=lambda: self.now,
            on_apply=self.reports.append,
            on_endpoint_statuses=self.statuses.append,
            on_fatal=self.fatal.append,
        )

    def _journaled(self, handler: Handler) -> Handler:
        def run(argv: Sequence[str], stdin: str | None) -> CommandResult:
            if argv[0].endswith("-restore") or tuple(argv[:2]) in _IPSET_WRITES:
                self.journal.append(" ".join(argv[:2]))
            return handler(argv, stdin)

        return run

    def kernel_writes(self) -> list[str]:
        """Every iptables, ipset and netlink write, in order, then the sysctl writes."""
        return [*self.journal, *(key for key, _ in self.procsys.writes)]

    def rules(self, chain: str, table: str = "filter", ip_version: int = 4) -> list[str]:
        return self.iptables.rules(ip_version, table, chain)

    def chains(self, table: str = "filter", ip_version: int = 4) -> set[str]:
        return set(self.iptables.tables[(ip_version, table)])


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


def workload(
    name: str,
    iface: str,
    ip: str,
    *,
    profiles: tuple[str, ...] = ("allow-all",),
    policies: tuple[PolicyID, ...] = (),
    **fields: Any,
) -> WorkloadEndpointUpdate:
    tiers = (TierInfo("default", ingress_policies=policies),) if policies else ()
    endpoint = WorkloadEndpoint(
        name=iface, profile_ids=profiles, ipv4_nets=(f"{ip}/32",), tiers=tiers, **fields
    )
    return WorkloadEndpointUpdate(WorkloadEndpointID("k8s", f"default/{name}", "eth0"), endpoint)


def policy(name: str, *rules: Rule, untracked: bool = False) -> ActivePolicyUpdate:
    return ActivePolicyUpdate(
        PolicyID(name), Policy(inbound_rules=rules, outbound_rules=rules, untracked=untracked)
    )
