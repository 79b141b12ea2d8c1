"""The fabric plan and interface names: pure computations, no kernel."""

from __future__ import annotations

import ipaddress

import pytest

from calico.errors import ConfigError
from calico.lab.fabric import FABRIC_SUPERNET, FabricPlan, plan_fabric
from calico.lab.workload import host_interface_name


def test_one_subnet_plan() -> None:
    plan = plan_fabric("calico", hosts=3)
    (net,) = plan.subnets
    assert net.subnet_of(FABRIC_SUPERNET)
    assert net.prefixlen == 24
    assert [h.name for h in plan.hosts] == ["host1", "host2", "host3"]
    assert [h.netns for h in plan.hosts] == ["calico-host1", "calico-host2", "calico-host3"]
    assert [h.ip for h in plan.hosts] == [str(net[1]), str(net[2]), str(net[3])]
    assert {h.gateway for h in plan.hosts} == {str(net[254])} == {plan.gateway(0)}
    assert {h.ifname for h in plan.hosts} == {"eth0"}


def test_two_subnets_split_hosts_in_halves() -> None:
    plan = plan_fabric("calico", hosts=5, subnets=2)
    first, second = plan.subnets
    assert first != second
    assert [h.subnet for h in plan.hosts] == [0, 0, 0, 1, 1]
    host4 = plan.hosts[3]
    assert ipaddress.IPv4Address(host4.ip) in second
    assert host4.ip == str(second[4])
    assert host4.gateway == str(second[254])


def test_the_plan_is_deterministic_and_differs_between_names() -> None:
    assert plan_fabric("calico") == plan_fabric("calico")
    assert plan_fabric("calico").subnets != plan_fabric("lab2").subnets


def test_the_plan_round_trips_through_json() -> None:
    plan = plan_fabric("calico", hosts=4, subnets=2)
    assert FabricPlan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize(
    ("hosts", "subnets", "message"),
    [(0, 1, "hosts must be"), (254, 1, "hosts must be"), (3, 3, "subnets must be")],
)
def test_bad_plans_are_refused(hosts: int, subnets: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_fabric("calico", hosts, subnets)


def test_host_interface_names() -> None:
    cali = host_interface_name("calico", "web1")
    tap = host_interface_name("calico", "web1", vm=True)
    assert cali.startswith("cali")
    assert len(cali) == 15  # IFNAMSIZ - 1
    assert tap == "tap" + cali[4:]
    assert host_interface_name("other", "web1") != cali
