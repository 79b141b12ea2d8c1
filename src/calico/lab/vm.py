"""VMs: the OpenStack path, with the lab playing Neutron and Nova.

``calico lab workload add HOST NAME --vm`` does what an OpenStack cloud does
for a new instance, through the project's real OpenStack pieces:

1. once per lab, as neutron-server would: the ML2 driver
   (``CalicoMechanismDriver``) is initialised (cluster settings), learns the
   lab's network ``lab-net`` with its DHCP subnet ``10.65.0.0/16`` and the
   security group ``lab-open`` (allow everything, both ways: the baseline
   is all-open like the containers' namespace profile). An IPPool over the
   subnet, selecting no node, tells BIRD and Felix these are workload
   addresses without letting Calico IPAM hand them out: Neutron owns them;
2. Neutron's IPAM: the lowest free address of the subnet, a port with a
   ``fa:16:3e`` MAC on the host, bound by the driver (``bind_port`` wants a
   live Felix on that host) and written as a WorkloadEndpoint (in namespace
   ``openstack``) by ``create_port_postcommit``;
3. Nova's VIF plugging: a veth stands in for the tap (``tap`` + port id[:11],
   the driver's tap MAC) with the VM's NIC ``eth0`` (the port's MAC) in
   namespace ``<lab>-wl-<name>``; Felix finds the tap by its prefix (the lab
   runs Felix with ``InterfacePrefix=cali,tap``) and routes the /32 to it;
4. the guest boots: ``calico-dhcp-agent`` (one per host, started with the
   host's first VM) serves the port's address from dnsmasq, and ``udhcpc``
   in the VM configures ``eth0`` from the lease; the lab checks that the
   leased address is the port's.

VM addresses are /32 routes, not IPAM blocks, and reach other hosts only
through BGP (BIRD learns Felix's kernel routes inside a pool): ``--vm``
needs a lab with BGP routing (``--encap none``). Its endpoint's namespace is
always ``openstack``; ``--namespace`` does not apply.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from calico.client import Client
from calico.errors import ConfigError, DataplaneError
from calico.lab import netns
from calico.lab.cluster import Lab, open_client
from calico.lab.cni_runtime import (
    DEFAULT_NAMESPACE,
    NamedPort,
    PodRecord,
    forget,
    load_pods,
    record_workload,
    relabel,
    reserve,
    serve,
)
from calico.lab.hosts import Host
from calico.lab.workload import Workload
from calico.node.main import program
from calico.resources import API_VERSION, parse_resource

SECTION = "openstack"
NETWORK_NAME = "lab-net"
SUBNET_CIDR = ipaddress.IPv4Network("10.65.0.0/16")
SECURITY_GROUP = "lab-open"
FELIX_ALIVE_TIMEOUT = 60.0
DHCP_TIMEOUT = 30  # seconds udhcpc keeps asking
_UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc hook for lab VMs: configure the NIC from the lease and nothing else.
# The lab's namespaces share this machine's /etc: never touch resolv.conf.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-32}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
"""


def _driver_module() -> Any:
    """The ML2 driver module; it needs neutron-lib (the ``openstack`` extra)."""
    try:
        from calico.openstack import driver
    except ImportError as exc:
        raise ConfigError(
            f"--vm needs neutron-lib (pip install calico-py[openstack]): {exc}"
        ) from None
    return driver


# -- Neutron's side: the network, subnet and security group ---------------------------


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
    module = _driver_module()
    with open_client(lab) as client:
        driver = module.CalicoMechanismDriver(datastore=client.datastore, lookup=LabNeutron(cloud))
        driver.initialize()
        try:
            yield driver
        finally:
            driver.stop_status_watcher()
            module._sg_events.unsubscribe(driver)


def _cloud(lab: Lab) -> Cloud:
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


# -- a VM ---------------------------------------------------------------------------


def _free_address(lab: Lab) -> str:
    """Neutron's IPAM, in short: the lowest address no VM port holds (gateway excluded)."""
    taken = {r.extra.get("ip") for r in load_pods(lab.state).values() if r.kind == "vm"}
    for address in SUBNET_CIDR.hosts():
        if address != SUBNET_CIDR[1] and str(address) not in taken:
            return str(address)
    raise ConfigError(f"subnet {SUBNET_CIDR} of network {NETWORK_NAME} is full")


def _port(cloud: Cloud, host: str, name: str, ip: str) -> dict[str, Any]:
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


def _bind_and_write(lab: Lab, cloud: Cloud, port: dict[str, Any]) -> None:
    """ML2's port creation: bind on the port's host, then the driver's postcommit."""
    host = port["binding:host_id"]
    segment = {"id": str(uuid.uuid4()), "network_type": "flat", "physical_network": "lab"}
    with _driver(lab, cloud) as driver:
        deadline = time.monotonic() + FELIX_ALIVE_TIMEOUT
        while not driver.felix_alive(host):  # Felix reports every 30 s: a fresh lab may lag
            if time.monotonic() > deadline:
                raise DataplaneError(f"cannot bind the VM's port: no live Felix on {host}")
            time.sleep(0.5)
        ctx = _Context(port, host=host, segments_to_bind=[segment], network=_network_context(cloud))
        driver.bind_port(ctx)
        if not ctx.bound:
            raise DataplaneError(f"the Calico ML2 driver did not bind the VM's port on {host}")
        driver.create_port_postcommit(ctx)


def _delete_port(lab: Lab, cloud: Cloud, port: dict[str, Any]) -> None:
    with _driver(lab, cloud) as driver:
        driver.delete_port_postcommit(_Context(port, host=port["binding:host_id"]))


def _ensure_dhcp_agent(lab: Lab, host: Host) -> None:
    name = f"dhcp-agent-{host.name}"
    if lab.pm.is_alive(name):
        return
    # dnsmasq stays root: it would drop to "nobody", who cannot read its files
    # when the lab's state dir is private (CALICO_LAB_STATE_DIR=$(mktemp -d)).
    argv = [
        *program("calico-dhcp-agent", "calico.openstack.dhcp_agent"),
        "--host",
        host.name,
        "--state-dir",
        str(lab.host_dir(host) / "dhcp"),
        "--dnsmasq-user",
        "root",
    ]
    try:
        lab.pm.start(name, host.netns, argv, env=lab.node_env(host))
    except ConfigError:
        if not lab.pm.is_alive(name):  # else another VM's `add` just started it
            raise


def _plug(host: Host, ns: str, tap: str, tap_mac: str, vm_mac: str) -> None:
    """Nova's VIF plugging, with a veth for the tap: host side up, NIC in the VM."""
    link = f"link add {tap} address {tap_mac} type veth peer name eth0 address {vm_mac}"
    netns.ip(host.netns, *link.split(), "netns", ns)
    netns.ip(host.netns, "link", "set", tap, "up")
    netns.ip(ns, "link", "set", "eth0", "up")


def _boot(lab: Lab, ns: str, expected_ip: str) -> None:
    """The guest's DHCP client; the leased address must be the port's."""
    script = lab.state.dir / "run" / "udhcpc.script"
    script.parent.mkdir(parents=True, exist_ok=True)
    if not script.exists():
        script.write_text(_UDHCPC_SCRIPT)
        script.chmod(0o755)
    # -n -q: give up without a lease / quit once bound (the lease lasts a day,
    # longer than any lab); -t tries, -T seconds between them.
    argv = ["udhcpc", "-i", "eth0", "-f", "-n", "-q", "-t", str(DHCP_TIMEOUT), "-T", "1"]
    proc = netns.run_in_ns(ns, [*argv, "-s", str(script)], check=False, timeout=DHCP_TIMEOUT + 10)
    shown = json.loads(netns.ip(ns, "-j", "-4", "addr", "show", "dev", "eth0") or "[]")
    leased = next((a["local"] for link in shown for a in link.get("addr_info", [])), "")
    if leased != expected_ip:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise DataplaneError(
            f"VM did not get its address {expected_ip} by DHCP "
            f"(got {leased or 'none'}): {' | '.join(detail)}"
        )


def add_vm(
    lab: Lab,
    host_name: str,
    name: str,
    namespace: str = DEFAULT_NAMESPACE,
    labels: Mapping[str, str] | None = None,
    ports: Sequence[NamedPort] = (),
) -> Workload:
    """A VM on ``host_name`` through the ML2 driver and DHCP; undone on any failure."""
    if not lab.config.bgp:
        raise ConfigError(
            "--vm needs BGP routing (calico lab up --encap none): VM addresses "
            "are /32 routes from Neutron, not Calico IPAM blocks"
        )
    if namespace != DEFAULT_NAMESPACE:
        raise ConfigError(
            "--namespace does not apply to VMs (their endpoints are in namespace openstack)"
        )
    host = lab.host(host_name)
    cloud = _cloud(lab)
    driver = _driver_module()
    port = _port(cloud, host.name, name, _free_address(lab))
    ip, tap = port["fixed_ips"][0]["ip_address"], driver.endpoints.tap_name(port["id"])
    record = PodRecord(
        name,
        "vm",
        host.name,
        "openstack",
        driver.endpoints.endpoint_name(port),
        ports=tuple(ports),
        extra={"ip": ip, "port": port},
    )
    ns = reserve(lab.state, record)
    try:
        _ensure_dhcp_agent(lab, host)
        _bind_and_write(lab, cloud, port)
        netns.create(ns)
        _plug(host, ns, tap, driver.tap_mac(port["mac_address"]), port["mac_address"])
        _boot(lab, ns, ip)
        wl = Workload(lab.name, name, host.name, host.netns, ns, ip, tap, vm=True)
        record_workload(lab.state, wl)
        serve(lab, wl, ports)
        if labels:
            relabel(lab, name, [f"{k}={v}" for k, v in labels.items()])
    except BaseException:
        remove_vm(lab, record)
        raise
    return wl


def remove_vm(lab: Lab, record: PodRecord) -> None:
    """Delete the port (the driver removes the endpoint), then the VM and its records."""
    lab.pm.stop(f"server-{record.name}")
    try:
        _delete_port(lab, _cloud(lab), dict(record.extra["port"]))
    finally:
        forget(lab.state, record.name)
