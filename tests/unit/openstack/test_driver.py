"""CalicoMechanismDriver against a memory datastore, with real neutron-lib contexts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from neutron_lib.callbacks import events, registry, resources

from calico.client import Client
from calico.datastore import MemoryDatastore, SqliteDatastore
from calico.errors import ConfigError, NotFoundError
from calico.openstack import region
from calico.openstack.driver import DEFAULT_TAP_MAC, CalicoMechanismDriver, tap_mac

from ._neutron import FakeNeutron, PortContext, SubnetContext

HOST = "felix-host-1"
PORT: dict[str, Any] = {
    "binding:vif_type": "tap",
    "binding:host_id": HOST,
    "binding:vnic_type": "normal",
    "id": "deadbeef-1234-5678",
    "tenant_id": "jane3",
    "network_id": "calico-network-id",
    "device_id": "instance-1",
    "device_owner": "compute:nova",
    "fixed_ips": [{"subnet_id": "subnet-1", "ip_address": "10.65.0.2"}],
    "mac_address": "fa:16:3e:aa:bb:cc",
    "security_groups": ["sg-web"],
    "status": "DOWN",
    "allowed_address_pairs": [],
}
NETWORK = {"id": "calico-network-id", "name": "net1"}
WEP_NAME = "felix--host--1-openstack-instance--1-deadbeef--1234--5678"
FLAT = {"id": "seg-flat", "network_type": "flat", "physical_network": "physnet"}
LOCAL = {"id": "seg-local", "network_type": "local"}
VLAN = {"id": "seg-vlan", "network_type": "vlan", "segmentation_id": 100}


@pytest.fixture
def neutron() -> FakeNeutron:
    return FakeNeutron(
        subnets={"subnet-1": {"id": "subnet-1", "gateway_ip": "10.65.0.1"}},
        security_groups={"sg-web": {"id": "sg-web", "name": "web", "security_group_rules": []}},
        projects={"jane3": ("Jane's project", None)},
    )


@pytest.fixture
def store() -> MemoryDatastore:
    return MemoryDatastore()


@pytest.fixture
def driver(store: MemoryDatastore, neutron: FakeNeutron) -> Iterator[CalicoMechanismDriver]:
    drv = CalicoMechanismDriver(datastore=store, lookup=neutron)
    drv.initialize()
    yield drv
    drv.close()


def felix_reports(store: MemoryDatastore, host: str = HOST, age: float = 5.0) -> None:
    stamp = (datetime.now(UTC) - timedelta(seconds=age)).isoformat().replace("+00:00", "Z")
    value = json.dumps({"time": stamp, "uptime": 100, "first_update": False})
    store.put(region.felix_status_key(region.NO_REGION, host), value, ttl=90)


def wep(store: MemoryDatastore, name: str = WEP_NAME) -> dict[str, Any] | None:
    try:
        return Client(store).get("WorkloadEndpoint", name, "openstack").to_dict()
    except NotFoundError:
        return None


# -- initialize -----------------------------------------------------------------


def test_initialize_provides_the_cluster_settings_openstack_needs(
    driver: CalicoMechanismDriver, store: MemoryDatastore
) -> None:
    client = Client(store)
    info = client.get("ClusterInformation", "default").to_dict()["spec"]
    assert info["clusterType"] == "openstack"
    assert info["datastoreReady"] is True
    assert len(info["clusterGUID"]) == 32
    felix = client.get("FelixConfiguration", "default").to_dict()["spec"]
    assert felix["endpointReportingEnabled"] is True
    assert felix["interfacePrefix"] == "cali,tap"  # keeps the default cali


def test_initialize_adds_to_other_orchestrators_settings(neutron: FakeNeutron) -> None:
    store = MemoryDatastore()
    client = Client(store)
    client.create(
        _resource(
            "ClusterInformation",
            {"clusterGUID": "g1", "clusterType": "k8s,bgp", "datastoreReady": False},
        )
    )
    client.create(
        _resource("FelixConfiguration", {"interfacePrefix": "cali", "logSeverityScreen": "Info"})
    )
    drv = CalicoMechanismDriver(datastore=store, lookup=neutron)
    drv.initialize()
    drv.close()
    info = client.get("ClusterInformation", "default").to_dict()["spec"]
    assert info == {
        "clusterGUID": "g1",
        "clusterType": "k8s,bgp,openstack",
        "datastoreReady": False,
    }
    felix = client.get("FelixConfiguration", "default").to_dict()["spec"]
    assert felix["interfacePrefix"] == "cali,tap"
    assert felix["logSeverityScreen"] == "Info"


def _resource(kind: str, spec: dict[str, Any]) -> Any:
    from calico.resources import parse_resource

    return parse_resource(
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": kind,
            "metadata": {"name": "default"},
            "spec": spec,
        }
    )


# -- binding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segments", "bound_segment"),
    [([FLAT], "seg-flat"), ([LOCAL], "seg-local"), ([VLAN, LOCAL], "seg-local"), ([VLAN], None)],
)
def test_bind_port_on_a_host_with_live_felix(
    driver: CalicoMechanismDriver,
    store: MemoryDatastore,
    segments: list[Any],
    bound_segment: str | None,
) -> None:
    felix_reports(store)
    ctx = PortContext(PORT, segments=segments, host=HOST)
    driver.bind_port(ctx)
    if bound_segment is None:
        assert ctx.bindings == []
        return
    assert len(ctx.bindings) == 1
    binding = ctx.bindings[0]
    assert binding.segment_id == bound_segment
    assert binding.vif_type == "tap"
    assert binding.vif_details == {"port_filter": True, "mac_address": "fe:16:3e:aa:bb:cc"}
    assert binding.status is None


@pytest.mark.parametrize(
    "felix",
    ["absent", "stale", "other host"],
)
def test_no_binding_without_live_felix(
    driver: CalicoMechanismDriver, store: MemoryDatastore, felix: str
) -> None:
    if felix == "stale":
        felix_reports(store, age=120)
    elif felix == "other host":
        felix_reports(store, host="felix-host-2")
    ctx = PortContext(PORT, segments=[FLAT], host=HOST)
    driver.bind_port(ctx)
    assert ctx.bindings == []


def test_no_binding_for_other_vnic_types(
    driver: CalicoMechanismDriver, store: MemoryDatastore
) -> None:
    felix_reports(store)
    ctx = PortContext({**PORT, "binding:vnic_type": "direct"}, segments=[FLAT], host=HOST)
    driver.bind_port(ctx)
    assert ctx.bindings == []


def test_driver_declares_that_it_binds_ports(driver: CalicoMechanismDriver) -> None:
    assert driver._supports_port_binding


@pytest.mark.parametrize(
    ("port_mac", "tap"),
    [
        ("fa:16:3e:aa:bb:cc", "fe:16:3e:aa:bb:cc"),
        ("00:11:22:33:44:55", "fe:11:22:33:44:55"),
        (None, DEFAULT_TAP_MAC),
        ("", DEFAULT_TAP_MAC),
        ("not-a-mac", DEFAULT_TAP_MAC),
        ("fa:16:3e:aa:bb", DEFAULT_TAP_MAC),
    ],
)
def test_tap_mac(port_mac: str | None, tap: str) -> None:
    assert tap_mac(port_mac) == tap


# -- ports ----------------------------------------------------------------------------


def test_create_port_writes_the_workload_endpoint(
    driver: CalicoMechanismDriver, store: MemoryDatastore
) -> None:
    driver.create_port_postcommit(PortContext(PORT, network=NETWORK))
    doc = wep(store)
    assert doc is not None
    assert doc["spec"]["interfaceName"] == "tapdeadbeef-12"
    assert doc["spec"]["ipNetworks"] == ["10.65.0.2/32"]
    assert doc["spec"]["ipv4Gateway"] == "10.65.0.1"
    labels = doc["metadata"]["labels"]
    assert labels["sg.projectcalico.org/openstack-sg-web"] == "web"
    assert labels["projectcalico.org/openstack-network-name"] == "net1"
    assert labels["projectcalico.org/openstack-project-name"] == "Jane_s_project"


@pytest.mark.parametrize(
    "overrides",
    [{"device_owner": "network:dhcp"}, {"binding:vif_type": "unbound"}, {"binding:host_id": ""}],
)
def test_ports_that_are_not_endpoints_yet(
    driver: CalicoMechanismDriver, store: MemoryDatastore, overrides: dict[str, Any]
) -> None:
    driver.create_port_postcommit(PortContext({**PORT, **overrides}))
    assert store.list("/calico/resources/v3/projectcalico.org/workloadendpoints/")[0] == []


def test_update_of_status_only_writes_nothing(
    driver: CalicoMechanismDriver, store: MemoryDatastore
) -> None:
    driver.create_port_postcommit(PortContext(PORT))
    revision = store.current_revision()
    updated = {**PORT, "status": "ACTIVE", "revision_number": 7}
    driver.update_port_postcommit(PortContext(updated, original=PORT))
    assert store.current_revision() == revision


def test_update_rewrites_labels(
    driver: CalicoMechanismDriver, store: MemoryDatastore, neutron: FakeNeutron
) -> None:
    driver.create_port_postcommit(PortContext(PORT))
    neutron.security_groups["sg-db"] = {"id": "sg-db", "name": "db"}
    driver.update_port_postcommit(
        PortContext({**PORT, "security_groups": ["sg-db"]}, original=PORT)
    )
    doc = wep(store)
    assert doc is not None
    sg_labels = {k for k in doc["metadata"]["labels"] if k.startswith("sg")}
    assert sg_labels == {
        "sg.projectcalico.org/openstack-sg-db",
        "sg-name.projectcalico.org/openstack-db",
    }


def test_migration_moves_the_endpoint(
    driver: CalicoMechanismDriver, store: MemoryDatastore
) -> None:
    driver.create_port_postcommit(PortContext(PORT))
    moved = {**PORT, "binding:host_id": "felix-host-2"}
    driver.update_port_postcommit(PortContext(moved, original=PORT))
    assert wep(store) is None
    assert wep(store, "felix--host--2-openstack-instance--1-deadbeef--1234--5678") is not None


def test_unbinding_removes_the_endpoint(
    driver: CalicoMechanismDriver, store: MemoryDatastore
) -> None:
    driver.create_port_postcommit(PortContext(PORT))
    unbound = {**PORT, "binding:vif_type": "unbound"}
    driver.update_port_postcommit(PortContext(unbound, original=PORT))
    assert wep(store) is None


def test_delete_port(driver: CalicoMechanismDriver, store: MemoryDatastore) -> None:
    driver.create_port_postcommit(PortContext(PORT))
    driver.delete_port_postcommit(PortContext(PORT))
    assert wep(store) is None
    driver.delete_port_postcommit(PortContext(PORT))  # again: nothing to do, no error


# -- subnets --------------------------------------------------------------------------------

SUBNET = {
    "id": "subnet-1",
    "network_id": "n1",
    "cidr": "10.65.0.0/24",
    "gateway_ip": "10.65.0.1",
    "host_routes": [],
    "dns_nameservers": [],
    "enable_dhcp": True,
}
SUBNET_KEY = "/calico/dhcp/v2/no-region/subnet/subnet-1"


def test_subnet_postcommits(driver: CalicoMechanismDriver, store: MemoryDatastore) -> None:
    driver.create_subnet_postcommit(SubnetContext(SUBNET))
    assert store.get(SUBNET_KEY) is not None
    driver.update_subnet_postcommit(
        SubnetContext({**SUBNET, "enable_dhcp": False}, original=SUBNET)
    )
    assert store.get(SUBNET_KEY) is None
    driver.update_subnet_postcommit(SubnetContext(SUBNET))
    driver.delete_subnet_postcommit(SubnetContext(SUBNET))
    assert store.get(SUBNET_KEY) is None


# -- security groups through Neutron's callback registry -------------------------------------

RULE_80 = {
    "id": "r80",
    "security_group_id": "sg-web",
    "direction": "ingress",
    "ethertype": "IPv4",
    "protocol": "tcp",
    "port_range_min": 80,
    "port_range_max": 80,
    "remote_group_id": "sg-web",
    "remote_ip_prefix": None,
}


def policy(store: MemoryDatastore, sg_id: str = "sg-web") -> dict[str, Any] | None:
    try:
        return Client(store).get("NetworkPolicy", f"ossg.default.{sg_id}", "openstack").to_dict()
    except NotFoundError:
        return None


def publish(resource: str, event: str, **payload: Any) -> None:
    registry.publish(resource, event, None, payload=events.DBEventPayload(None, **payload))


def test_security_group_events(
    driver: CalicoMechanismDriver, store: MemoryDatastore, neutron: FakeNeutron
) -> None:
    sg = {"id": "sg-web", "name": "web", "security_group_rules": []}
    publish(resources.SECURITY_GROUP, events.AFTER_CREATE, resource_id="sg-web", states=(sg,))
    doc = policy(store)
    assert doc is not None
    assert doc["spec"]["selector"] == "has(sg.projectcalico.org/openstack-sg-web)"
    assert "ingress" not in doc["spec"]

    neutron.security_groups["sg-web"]["security_group_rules"] = [RULE_80]
    publish(
        resources.SECURITY_GROUP_RULE, events.AFTER_CREATE, resource_id="r80", states=(RULE_80,)
    )
    doc = policy(store)
    assert doc is not None
    assert doc["spec"]["ingress"] == [
        {
            "action": "Allow",
            "ipVersion": 4,
            "protocol": "TCP",
            "source": {"selector": "has(sg.projectcalico.org/openstack-sg-web)"},
            "destination": {"ports": [80]},
        }
    ]

    neutron.security_groups["sg-web"]["security_group_rules"] = []
    publish(
        resources.SECURITY_GROUP_RULE,
        events.AFTER_DELETE,
        resource_id="r80",
        metadata={"security_group_id": "sg-web"},
    )
    doc = policy(store)
    assert doc is not None
    assert "ingress" not in doc["spec"]

    publish(resources.SECURITY_GROUP, events.AFTER_DELETE, resource_id="sg-web", states=(sg,))
    assert policy(store) is None


def test_rule_change_of_a_vanished_group_deletes_its_policy(
    driver: CalicoMechanismDriver, store: MemoryDatastore
) -> None:
    driver.security_group_updated({"id": "sg-gone", "security_group_rules": []})
    assert policy(store, "sg-gone") is not None
    driver.security_group_rule_changed("sg-gone")
    assert policy(store, "sg-gone") is None


def test_closed_driver_hears_no_more_events(neutron: FakeNeutron) -> None:
    own_store = MemoryDatastore()
    drv = CalicoMechanismDriver(datastore=own_store, lookup=neutron)
    drv.initialize()
    drv.close()
    sg = {"id": "sg-web", "name": "web", "security_group_rules": []}
    publish(resources.SECURITY_GROUP, events.AFTER_CREATE, resource_id="sg-web", states=(sg,))
    assert policy(own_store) is None


# -- status from Felix -----------------------------------------------------------------------


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_endpoint_status_becomes_port_status(
    driver: CalicoMechanismDriver, store: MemoryDatastore, neutron: FakeNeutron
) -> None:
    thread = threading.Thread(target=driver.run_status_watcher)
    thread.start()
    try:
        key = region.endpoint_status_key(region.NO_REGION, HOST, "instance-1", PORT["id"])
        store.put(key, '{"status": "up"}')
        store.delete(key)
        eventually(lambda: len(neutron.port_statuses) == 2)
    finally:
        driver.stop_status_watcher()
        thread.join()
    assert neutron.port_statuses == [(PORT["id"], "ACTIVE", HOST), (PORT["id"], "ERROR", HOST)]


def test_initialize_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, neutron: FakeNeutron
) -> None:
    db = tmp_path / "calico.db"
    monkeypatch.setenv("DATASTORE_TYPE", "sqlite")
    monkeypatch.setenv("CALICO_SQLITE_PATH", str(db))
    monkeypatch.setenv("CALICO_OPENSTACK_REGION", "r1")
    drv = CalicoMechanismDriver(lookup=neutron)
    drv.initialize()
    try:
        drv.create_port_postcommit(PortContext(PORT))
        assert drv.namespace == "openstack-region-r1"
        with SqliteDatastore(str(db)) as store:
            client = Client(store)
            assert client.get("ClusterInformation", "default").to_dict()["spec"]["clusterGUID"]
            assert client.get("WorkloadEndpoint", WEP_NAME, "openstack-region-r1")
    finally:
        drv.close()


def test_bad_region_fails_initialize(monkeypatch: pytest.MonkeyPatch, neutron: FakeNeutron) -> None:
    monkeypatch.setenv("CALICO_OPENSTACK_REGION", "Not A Label")
    drv = CalicoMechanismDriver(datastore=MemoryDatastore(), lookup=neutron)
    with pytest.raises(ConfigError, match="OpenStack region"):
        drv.initialize()
