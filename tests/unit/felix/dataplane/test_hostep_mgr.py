"""Host endpoints: resolution to interfaces, chains, dispatch and status."""

from __future__ import annotations

from calico.felix.dataplane import InternalDataplane
from calico.felix.messages import (
    HostEndpoint,
    HostEndpointID,
    HostEndpointRemove,
    HostEndpointUpdate,
    InSync,
)
from tests.unit.felix.dataplane.conftest import ALLOW_ALL, HOST_IP, FakeHost


def hep(name: str, iface: str = "", *ips: str) -> HostEndpointUpdate:
    endpoint = HostEndpoint(name=iface, profile_ids=("allow-all",), expected_ipv4_addrs=ips)
    return HostEndpointUpdate(HostEndpointID(name), endpoint)


def run(host: FakeHost, *updates: HostEndpointUpdate) -> InternalDataplane:
    dp = host.dataplane()
    dp.on_messages([ALLOW_ALL, *updates, InSync()])
    dp.tick()
    return dp


def test_a_named_interface_gets_chains_and_dispatch(host: FakeHost) -> None:
    run(host, hep("eth0-hep", "eth0"))
    assert {"cali-th-eth0", "cali-fh-eth0"} <= host.chains()
    assert any("-g cali-fh-eth0" in r for r in host.rules("cali-from-host-endpoint"))
    assert any("cali-failsafe-in" in r for r in host.rules("cali-fh-eth0"))
    assert host.statuses[-1] == {HostEndpointID("eth0-hep"): "up"}


def test_expected_ips_resolve_to_the_interface_holding_them(host: FakeHost) -> None:
    run(host, hep("by-ip", "", HOST_IP))
    assert {"cali-th-eth0", "cali-fh-eth0"} <= host.chains()
    assert any("-g cali-fh-eth0" in r for r in host.rules("cali-from-host-endpoint"))
    assert host.statuses[-1] == {HostEndpointID("by-ip"): "up"}


def test_unresolvable_endpoints_report_error(host: FakeHost) -> None:
    run(host, hep("nowhere", "", "192.0.2.1"), hep("missing", "eth9"))
    assert set(host.statuses[-1].values()) == {"error"}
    assert not any(c.startswith("cali-fh-") for c in host.chains())


def test_the_wildcard_endpoint_becomes_the_dispatch_default(host: FakeHost) -> None:
    run(host, hep("all", "*"))
    assert host.rules("cali-from-host-endpoint")[-1].endswith("-g cali-fh-any-interface-at-all")


def test_removal_unpolices_the_interface(host: FakeHost) -> None:
    dp = run(host, hep("eth0-hep", "eth0"))
    dp.on_messages([HostEndpointRemove(HostEndpointID("eth0-hep"))])
    host.now += 1
    dp.tick()
    assert "cali-fh-eth0" not in host.chains()
    assert host.rules("cali-from-host-endpoint") == []
