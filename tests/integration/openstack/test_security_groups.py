"""Security groups enforced by Felix between VMs that got their addresses by DHCP.

Two lab hosts with Felix (``InterfacePrefix=tap``), a DHCP agent each, and a
VM on each host in security group ``web``: egress anywhere, ingress TCP 80
from members of ``web``.  Everything the VMs are allowed or refused is
decided by the NetworkPolicy the driver wrote for the group.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from calico.lab.probe import probe
from calico.openstack import status
from tests.integration.felix.conftest import consistently, eventually
from tests.unit.openstack._neutron import PortContext

from .conftest import VM, Cloud

pytestmark = pytest.mark.root

SG_WEB = str(uuid.uuid4())
EGRESS_ALL = {
    "direction": "egress",
    "ethertype": "IPv4",
    "protocol": None,
    "port_range_min": None,
    "port_range_max": None,
    "remote_group_id": None,
    "remote_ip_prefix": None,
}
HTTP_FROM_WEB = {
    "direction": "ingress",
    "ethertype": "IPv4",
    "protocol": "tcp",
    "port_range_min": 80,
    "port_range_max": 80,
    "remote_group_id": SG_WEB,
    "remote_ip_prefix": None,
}
FLAT = {"id": "seg-1", "network_type": "flat", "physical_network": "physnet1"}
FELIX_ENV = {"FELIX_INTERFACEPREFIX": "tap"}


@pytest.fixture(scope="module")
def cloud(cloud_factory: Callable[[], Cloud]) -> Cloud:
    cloud = cloud_factory()
    for host in cloud.lab.fabric.hosts:
        cloud.start_agent(host)
    cloud.set_security_group(SG_WEB, [EGRESS_ALL, HTTP_FROM_WEB])
    return cloud


@pytest.fixture(scope="module")
def felix(cloud: Cloud) -> None:
    for host in cloud.lab.hosts.values():
        host.start_felix(FELIX_ENV)


@pytest.fixture(scope="module")
def vms(cloud: Cloud, felix: None) -> tuple[VM, VM]:
    h1, h2 = cloud.lab.fabric.hosts
    vm1 = cloud.boot(h1, "web1", cloud.port("host1", "10.28.0.12", [SG_WEB]))
    vm2 = cloud.boot(h2, "web2", cloud.port("host2", "10.28.0.13", [SG_WEB]))
    h1.add_route(f"{vm2.ip}/32", h2.ip)
    h2.add_route(f"{vm1.ip}/32", h1.ip)
    for vm in (vm1, vm2):
        cloud.wait_for_dnsmasq(vm.wl.host)
        # Through Felix: DHCP to the host is one of its OpenStack special cases.
        lease = cloud.dhcp(vm)
        assert lease is not None, cloud.agent_log(vm.wl.host)
        assert lease["ip"] == vm.ip
    return vm1, vm2


@pytest.fixture
def status_watcher(cloud: Cloud) -> Iterator[None]:
    thread = threading.Thread(target=cloud.driver.run_status_watcher, daemon=True)
    thread.start()
    yield
    cloud.driver.stop_status_watcher()
    thread.join()


def bind(cloud: Cloud, host: str) -> PortContext:
    ctx = PortContext(cloud.port(host, "10.28.0.99", []), segments=[FLAT], host=host)
    cloud.driver.bind_port(ctx)
    return ctx


def test_ports_bind_only_on_hosts_whose_felix_is_alive(cloud: Cloud) -> None:
    assert bind(cloud, "host1").bindings == []  # no Felix yet
    cloud.lab.hosts["host1"].start_felix(FELIX_ENV)
    eventually(lambda: cloud.driver.felix_alive("host1"), "Felix's status report")
    binding = bind(cloud, "host1").bindings
    assert [(b.segment_id, b.vif_type, b.vif_details["port_filter"]) for b in binding] == [
        ("seg-1", "tap", True)
    ]
    assert bind(cloud, "host2").bindings == []  # still no Felix there
    cloud.lab.hosts["host1"].stop_felix()


def reachable(src: VM, dst: VM, port: int) -> bool:
    return probe(src.netns, dst.ip, port, "tcp", timeout=0.5)


def test_security_group_allows_http_from_members_only(cloud: Cloud, vms: tuple[VM, VM]) -> None:
    vm1, vm2 = vms
    eventually(lambda: reachable(vm1, vm2, 80), "web1 -> web2:80", timeout=20)
    eventually(lambda: reachable(vm2, vm1, 80), "web2 -> web1:80", timeout=20)
    consistently(lambda: not reachable(vm1, vm2, 81), "web1 -> web2:81 refused", duration=1.5)
    consistently(lambda: not reachable(vm2, vm1, 81), "web2 -> web1:81 refused", duration=1.5)


def test_removing_the_rule_closes_the_port(cloud: Cloud, vms: tuple[VM, VM]) -> None:
    vm1, vm2 = vms
    eventually(lambda: reachable(vm1, vm2, 80), "web1 -> web2:80", timeout=20)
    cloud.set_security_group(SG_WEB, [EGRESS_ALL])
    eventually(lambda: not reachable(vm1, vm2, 80), "web1 -> web2:80 to close", timeout=20)
    consistently(lambda: not reachable(vm2, vm1, 80), "web2 -> web1:80 refused", duration=1.0)
    cloud.set_security_group(SG_WEB, [EGRESS_ALL, HTTP_FROM_WEB])
    eventually(lambda: reachable(vm1, vm2, 80), "web1 -> web2:80 to reopen", timeout=20)


def test_leaving_the_group_cuts_the_vm_off(cloud: Cloud, vms: tuple[VM, VM]) -> None:
    vm1, vm2 = vms
    eventually(lambda: reachable(vm1, vm2, 80), "web1 -> web2:80", timeout=20)
    original: dict[str, Any] = dict(vm1.port)
    outside = {**vm1.port, "security_groups": []}
    cloud.driver.update_port_postcommit(PortContext(outside, original=original))
    eventually(lambda: not reachable(vm1, vm2, 80), "web1 to lose web2:80", timeout=20)
    cloud.driver.update_port_postcommit(PortContext(original, original=outside))
    eventually(lambda: reachable(vm1, vm2, 80), "web1 -> web2:80 again", timeout=20)


def test_felix_reports_the_ports_active(
    cloud: Cloud, vms: tuple[VM, VM], status_watcher: None
) -> None:
    wanted = {(vm.port["id"], status.PORT_ACTIVE, vm.wl.host) for vm in vms}
    eventually(lambda: wanted <= set(cloud.neutron.port_statuses), "ports ACTIVE", timeout=20)
