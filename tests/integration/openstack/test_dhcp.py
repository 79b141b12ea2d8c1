"""calico-dhcp-agent end to end: Neutron ports -> datastore -> dnsmasq -> a VM's DHCP client.

Two lab hosts, one agent per host namespace, VMs asking with busybox udhcpc.
No Felix here (nothing polices traffic); ``test_security_groups`` adds it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from calico.lab import netns
from calico.lab.probe import probe
from tests.integration.felix.conftest import eventually
from tests.unit.openstack._neutron import PortContext

from .conftest import GATEWAY, HOST_ROUTE, SUBNET_ID, VM, Cloud

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def cloud(cloud_factory: Callable[[], Cloud]) -> Cloud:
    cloud = cloud_factory()
    for host in cloud.lab.fabric.hosts:
        cloud.start_agent(host)
    return cloud


@pytest.fixture(scope="module")
def vms(cloud: Cloud) -> tuple[VM, VM]:
    h1, h2 = cloud.lab.fabric.hosts
    vm1 = cloud.boot(h1, "vm1", cloud.port("host1", "10.28.0.2", []))
    vm2 = cloud.boot(h2, "vm2", cloud.port("host2", "10.28.0.3", []))
    # What BGP would do: each host routes the other's VM via that host.
    h1.add_route(f"{vm2.ip}/32", h2.ip)
    h2.add_route(f"{vm1.ip}/32", h1.ip)
    return vm1, vm2


def vm_routes(vm: VM) -> set[tuple[str, str | None]]:
    return {(r["dst"], r.get("gateway")) for r in json.loads(netns.ip(vm.netns, "-j", "route"))}


def test_vms_get_address_gateway_and_routes_from_their_hosts_dnsmasq(
    cloud: Cloud, vms: tuple[VM, VM]
) -> None:
    for vm in vms:
        cloud.wait_for_dnsmasq(vm.wl.host)
        lease = cloud.dhcp(vm)
        assert lease is not None, cloud.agent_log(vm.wl.host)
        assert lease["ip"] == vm.ip
        assert lease["mask"] == "24"
        assert lease["router"] == GATEWAY
        assert lease["serverid"] == GATEWAY  # each host's dnsmasq answers as the gateway
        assert lease["staticroutes"] == f"{HOST_ROUTE[0]} {HOST_ROUTE[1]} 0.0.0.0/0 {GATEWAY}"
        assert vm_routes(vm) == {
            ("default", GATEWAY),
            (HOST_ROUTE[0], GATEWAY),
            ("10.28.0.0/24", None),
        }


def test_vms_reach_each_other_through_the_gateway_they_were_given(
    cloud: Cloud, vms: tuple[VM, VM]
) -> None:
    vm1, vm2 = vms
    for vm in vms:
        assert cloud.dhcp(vm) is not None
    # The gateway is local on each host (the holder interface): the VM reaches it...
    assert probe(vm1.netns, GATEWAY, protocol="icmp", timeout=2)
    # ...and, across the hosts, the other VM, on-link for it (proxy ARP on the tap).
    assert probe(vm1.netns, vm2.ip, 80, timeout=2)
    assert probe(vm2.netns, vm1.ip, 81, timeout=2)


def test_dnsmasq_runs_in_the_host_namespace_on_the_taps(cloud: Cloud, vms: tuple[VM, VM]) -> None:
    vm1, _ = vms
    host = cloud.lab.fabric.host(vm1.wl.host)
    pid = cloud.wait_for_dnsmasq(host.name)
    assert pid in netns.pids(host.netns)
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    cmdline = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    assert "--bridge-interface=ns-dhcp,tap*" in cmdline
    assert f"--dhcp-range=set:subnet-{SUBNET_ID},10.28.0.0,static,255.255.255.0,86400s" in cmdline
    holder = json.loads(netns.ip(host.netns, "-j", "-4", "addr", "show", "dev", "ns-dhcp"))
    assert [(a["local"], a["prefixlen"]) for a in holder[0]["addr_info"]] == [(GATEWAY, 32)]


def test_a_new_port_is_served_after_a_reload(cloud: Cloud, vms: tuple[VM, VM]) -> None:
    h1 = cloud.lab.fabric.host("host1")
    pid = cloud.wait_for_dnsmasq("host1")
    vm3 = cloud.boot(h1, "vm3", cloud.port("host1", "10.28.0.4", []))
    lease = cloud.dhcp(vm3)
    assert lease is not None, cloud.agent_log("host1")
    assert lease["ip"] == "10.28.0.4"
    assert cloud.dnsmasq_pid("host1") == pid  # same subnet: SIGHUP, no restart


def test_a_deleted_port_is_no_longer_served(cloud: Cloud, vms: tuple[VM, VM]) -> None:
    h2 = cloud.lab.fabric.host("host2")
    vm4 = cloud.boot(h2, "vm4", cloud.port("host2", "10.28.0.5", []))
    assert cloud.dhcp(vm4) is not None
    cloud.driver.delete_port_postcommit(PortContext(vm4.port))
    eventually(
        lambda: "10.28.0.5" not in (cloud.agent_state_dir("host2") / "hosts").read_text(),
        "the reservation to go",
    )
    assert cloud.dhcp(vm4, attempts=2) is None


def test_agent_stops_dnsmasq_and_cleans_up_on_sigterm(cloud: Cloud, vms: tuple[VM, VM]) -> None:
    host = cloud.lab.fabric.host("host2")
    pid = cloud.wait_for_dnsmasq("host2")
    cloud.stop_agent("host2")
    cmdline = Path(f"/proc/{pid}/cmdline")
    assert not cmdline.exists() or "dnsmasq" not in cmdline.read_text()
    assert netns.ip(host.netns, "link", "show", "dev", "ns-dhcp", check=False) == ""
    assert "Traceback" not in cloud.agent_log("host2")
    cloud.start_agent(host)  # and it comes back
    cloud.wait_for_dnsmasq("host2")
    assert cloud.dhcp(cloud_vm(vms, "host2")) is not None


def cloud_vm(vms: tuple[VM, VM], host: str) -> VM:
    return next(vm for vm in vms if vm.wl.host == host)
