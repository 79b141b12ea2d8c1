"""The lab playing neutron-server for ``calico.lab.vm``: one network, ports, ML2.

Once per lab, as an operator would before the first VM, the Calico ML2
driver (``CalicoMechanismDriver``) is initialised (cluster settings) and
learns the lab's network ``lab-net`` with its DHCP subnet ``10.65.0.0/16``
and the security group ``lab-open`` (allow everything, both ways: the
baseline is all-open like the containers' namespace profile). An IPPool
over the subnet, selecting no node, tells BIRD and Felix these are workload
addresses without letting Calico IPAM hand them out: Neutron owns them.

Per VM, Neutron's IPAM (the lowest free address of the subnet) and a port
with a ``fa:16:3e`` MAC on the VM's host, bound by the driver (``bind_port``
wants a live Felix on that host) and written as a WorkloadEndpoint by
``create_port_postcommit``. The driver is built per call on the lab's
datastore, with ``LabNeutron`` answering its questions about the network.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from calico.errors import ConfigError, DataplaneError
from calico.lab.pods import load_pods
from calico.lab.store import open_client
from calico.resources import API_VERSION, parse_resource

if TYPE_CHECKING:
    from calico.client import Client
    from calico.lab.cluster import Lab

SECTION = "openstack"
NETWORK_NAME = "lab-net"
SUBNET_CIDR = ipaddress.IPv4Network("10.65.0.0/16")
SECURITY_GROUP = "lab-open"
FELIX_ALIVE_TIMEOUT = 60.0
_POLL_INTERVAL = 0.5


def driver_module() -> Any:
    """The ML2 driver module; it needs neutron-lib (the ``openstack`` extra)."""
    try:
        from calico.openstack import driver
    except ImportError as exc:
        raise ConfigError(
            f"--vm needs neutron-lib (pip install calico-py[openstack]): {exc}"
        ) from None
    return driver


# -- the network, subnet and security group -------------------------------------------


@dataclass(frozen=True)
class Cloud:
    """The lab's one Neutron network, as the driver sees it."""

    network_id: str
    subnet_id: str
    sg_id: str

    @property
    def subnet(self) -> dict[str, Any]:
        return {
            "id": self.subnet_id,
            "network_id": self.network_id,
            "name": NETWORK_NAME,
            "cidr": str(SUBNET_CIDR),
            "gateway_ip": str(SUBNET_CIDR[1]),
            "ip_version": 4,
            "enable_dhcp": True,
            "host_routes": [],
            "dns_nameservers": [],
        }

    @property
    def sg_rules(self) -> list[dict[str, Any]]:
        return [
            {
                "id": f"{self.sg_id[:8]}-{direction}",
                "security_group_id": self.sg_id,
                "direction": direction,
                "ethertype": "IPv4",
                "protocol": None,
                "remote_ip_prefix": "0.0.0.0/0",
                "remote_group_id": None,
                "port_range_min": None,
                "port_range_max": None,
            }
            for direction in ("ingress", "egress")
        ]


class LabNeutron:
    """The driver's ``NeutronLookup``: answers from the lab's one network."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def get_subnet(self, subnet_id: str) -> Mapping[str, Any] | None:
        return self.cloud.subnet if subnet_id == self.cloud.subnet_id else None

    def get_security_groups(self, sg_ids: Sequence[str]) -> list[Mapping[str, Any]]:
        found = self.cloud.sg_id in sg_ids
        return [{"id": self.cloud.sg_id, "name": SECURITY_GROUP}] if found else []

    def get_security_group_rules(self, sg_id: str) -> list[Mapping[str, Any]] | None:
        return list(self.cloud.sg_rules) if sg_id == self.cloud.sg_id else None

    def get_project(self, project_id: str) -> tuple[str, str | None] | None:
        return ("lab", None)

    def update_port_status(self, port_id: str, status: str, host: str) -> None:
        pass  # no Neutron database to update


@dataclass
class _Context:
    """What ML2 hands a mechanism driver (PortContext / SubnetContext), for one call."""

    current: dict[str, Any]
    host: str = ""
    segments_to_bind: list[dict[str, Any]] = field(default_factory=list)
    original: dict[str, Any] | None = None
    network: Any = None
    bound: bool = False

    def set_binding(self, segment_id: str, vif_type: str, vif_details: Any, status: Any) -> None:
        self.current["binding:vif_type"] = vif_type
        self.bound = True


@contextmanager
def _driver(lab: Lab, cloud: Cloud) -> Iterator[Any]:
    """An initialised ML2 driver on the lab's datastore, for the block."""
    module = driver_module()
    with open_client(lab) as client:
        driver = module.CalicoMechanismDriver(datastore=client.datastore, lookup=LabNeutron(cloud))
        driver.initialize()
        try:
            yield driver
        finally:
            driver.stop_status_watcher()
            module._sg_events.unsubscribe(driver)


def lab_cloud(lab: Lab) -> Cloud:
    """The lab's network, created on first use (as an operator would before any VM).

    Created under the lab state's lock, so two first VMs added at once agree.
    """
    raw = lab.state.section(SECTION)
    if raw is not None:
        return Cloud(**raw)
    with lab.state.edit() as data:
        if SECTION not in data.sections:
            cloud = Cloud(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()))
            _create_network(lab, cloud)
            data.sections[SECTION] = asdict(cloud)
        return Cloud(**data.sections[SECTION])


def _create_network(lab: Lab, cloud: Cloud) -> None:
    with _driver(lab, cloud) as driver:
        _apply_pool(driver.client)
        driver.create_subnet_postcommit(_Context(cloud.subnet))
        driver.security_group_updated({"id": cloud.sg_id, "security_group_rules": cloud.sg_rules})


def _apply_pool(client: Client) -> None:
    doc = {
        "apiVersion": API_VERSION,
        "kind": "IPPool",
        "metadata": {"name": "openstack-lab-net"},
        "spec": {
            "cidr": str(SUBNET_CIDR),
            "nodeSelector": "!all()",
            "natOutgoing": False,
            "ipipMode": "Never",
            "vxlanMode": "Never",
        },
    }
    client.apply(parse_resource(doc))


# -- a VM's port ----------------------------------------------------------------------


def free_address(lab: Lab) -> str:
    """Neutron's IPAM, in short: the lowest address no VM port holds (gateway excluded)."""
    taken = {r.extra.get("ip") for r in load_pods(lab.state).values() if r.kind == "vm"}
    for address in SUBNET_CIDR.hosts():
        if address != SUBNET_CIDR[1] and str(address) not in taken:
            return str(address)
    raise ConfigError(f"subnet {SUBNET_CIDR} of network {NETWORK_NAME} is full")


def new_port(cloud: Cloud, host: str, name: str, ip: str) -> dict[str, Any]:
    """A Nova instance's port on ``host``, unbound, in the lab's security group."""
    mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "network_id": cloud.network_id,
        "mac_address": mac,
        "fixed_ips": [{"subnet_id": cloud.subnet_id, "ip_address": ip}],
        "device_owner": "compute:nova",
        "device_id": str(uuid.uuid4()),  # the instance
        "binding:host_id": host,
        "binding:vnic_type": "normal",
        "binding:vif_type": "unbound",
        "security_groups": [cloud.sg_id],
        "project_id": "lab",
        "allowed_address_pairs": [],
    }


def _network_context(cloud: Cloud) -> Any:
    return _Context({"id": cloud.network_id, "name": NETWORK_NAME})


def bind_and_write(lab: Lab, cloud: Cloud, port: dict[str, Any]) -> None:
    """ML2's port creation: bind on the port's host, then the driver's postcommit."""
    host = port["binding:host_id"]
    segment = {"id": str(uuid.uuid4()), "network_type": "flat", "physical_network": "lab"}
    with _driver(lab, cloud) as driver:
        _wait_felix_alive(driver, host)
        ctx = _Context(port, host=host, segments_to_bind=[segment], network=_network_context(cloud))
        driver.bind_port(ctx)
        if not ctx.bound:
            raise DataplaneError(f"the Calico ML2 driver did not bind the VM's port on {host}")
        driver.create_port_postcommit(ctx)


def _wait_felix_alive(driver: Any, host: str) -> None:
    deadline = time.monotonic() + FELIX_ALIVE_TIMEOUT
    while not driver.felix_alive(host):  # Felix reports every 30 s: a fresh lab may lag
        if time.monotonic() > deadline:
            raise DataplaneError(f"cannot bind the VM's port: no live Felix on {host}")
        time.sleep(_POLL_INTERVAL)


def delete_port(lab: Lab, cloud: Cloud, port: dict[str, Any]) -> None:
    """ML2's port deletion: the driver removes the WorkloadEndpoint."""
    with _driver(lab, cloud) as driver:
        driver.delete_port_postcommit(_Context(port, host=port["binding:host_id"]))
