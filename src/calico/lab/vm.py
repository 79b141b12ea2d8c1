"""VMs: the OpenStack path, with the lab playing Neutron and Nova.

``calico lab workload add HOST NAME --vm`` does what an OpenStack cloud does
for a new instance, through the project's real OpenStack pieces:

1. once per lab, as neutron-server would: the ML2 driver learns the lab's
   network ``lab-net``, its DHCP subnet and the all-open security group
   ``lab-open`` (``calico.lab._neutron``, which also says why an IPPool
   covers the subnet);
2. Neutron's IPAM and port creation: the lowest free address of the subnet,
   a port on the host, bound by the driver and written as a
   WorkloadEndpoint (in namespace ``openstack``) (``calico.lab._neutron``);
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

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from calico.errors import ConfigError, DataplaneError
from calico.lab import netns
from calico.lab._neutron import (
    NETWORK_NAME,
    SECURITY_GROUP,
    SUBNET_CIDR,
    bind_and_write,
    delete_port,
    driver_module,
    free_address,
    lab_cloud,
    new_port,
)
from calico.lab.hosts import Host
from calico.lab.metadata import NamedPort
from calico.lab.pods import (
    DEFAULT_NAMESPACE,
    PodRecord,
    forget,
    record_workload,
    relabel,
    reserve,
    serve,
)
from calico.lab.workload import Workload
from calico.node.main import program

if TYPE_CHECKING:
    from calico.lab.cluster import Lab

__all__ = ["NETWORK_NAME", "SECURITY_GROUP", "SUBNET_CIDR", "add_vm", "remove_vm"]

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
    script = _udhcpc_script(lab)
    # -n -q: give up without a lease / quit once bound (the lease lasts a day,
    # longer than any lab); -t tries, -T seconds between them.
    argv = ["udhcpc", "-i", "eth0", "-f", "-n", "-q", "-t", str(DHCP_TIMEOUT), "-T", "1"]
    proc = netns.run_in_ns(ns, [*argv, "-s", script], check=False, timeout=DHCP_TIMEOUT + 10)
    shown = json.loads(netns.ip(ns, "-j", "-4", "addr", "show", "dev", "eth0") or "[]")
    leased = next((a["local"] for link in shown for a in link.get("addr_info", [])), "")
    if leased != expected_ip:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise DataplaneError(
            f"VM did not get its address {expected_ip} by DHCP "
            f"(got {leased or 'none'}): {' | '.join(detail)}"
        )


def _udhcpc_script(lab: Lab) -> str:
    """The lab's udhcpc hook script, written on first use."""
    script = lab.state.dir / "run" / "udhcpc.script"
    script.parent.mkdir(parents=True, exist_ok=True)
    if not script.exists():
        script.write_text(_UDHCPC_SCRIPT)
        script.chmod(0o755)
    return str(script)


def _check_vm_allowed(lab: Lab, namespace: str) -> None:
    if not lab.config.bgp:
        raise ConfigError(
            "--vm needs BGP routing (calico lab up --encap none): VM addresses "
            "are /32 routes from Neutron, not Calico IPAM blocks"
        )
    if namespace != DEFAULT_NAMESPACE:
        raise ConfigError(
            "--namespace does not apply to VMs (their endpoints are in namespace openstack)"
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
    _check_vm_allowed(lab, namespace)
    host = lab.host(host_name)
    cloud = lab_cloud(lab)
    driver = driver_module()
    port = new_port(cloud, host.name, name, free_address(lab))
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
        bind_and_write(lab, cloud, port)
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
        delete_port(lab, lab_cloud(lab), dict(record.extra["port"]))
    finally:
        forget(lab.state, record.name)
