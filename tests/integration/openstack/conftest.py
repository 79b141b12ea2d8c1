"""An OpenStack cloud in a lab: the ML2 driver, DHCP agents, VMs asking DHCP, Felix.

:class:`Cloud` wraps a two-host :class:`FelixLab` (the felix harness: lab
hosts, one sqlite datastore, Felix on demand) with

- the real ``CalicoMechanismDriver`` writing that datastore, its Neutron
  side answered by ``FakeNeutron`` (what Neutron's DB would answer);
- ``calico-dhcp-agent`` processes, one per host namespace, each running its
  dnsmasq there (never in the root namespace);
- VMs plugged as Nova plugs them (:meth:`Cloud.boot`): the lab's VM stand-in
  (``create_workload(vm=True, configure=False)``: an unconfigured ``eth0``
  behind a veth) with the host side renamed ``tap<port id[:11]>`` and given
  the binding's tap MAC, and the VM side given the port's MAC;
- :meth:`Cloud.dhcp`: busybox ``udhcpc`` in the VM, whose event script
  configures ``eth0`` from the lease (address, classless routes or router)
  and records the lease.

Everything lives in the lab's namespaces and is torn down with it; the
dnsmasq state directories (outside pytest's private tmp, so that dnsmasq
can read them after dropping root) are removed at the end.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from calico.datastore.config import DatastoreConfig, open_datastore
from calico.lab import netns
from calico.lab.hosts import Host
from calico.lab.workload import Workload, create_workload, start_server
from calico.openstack.driver import CalicoMechanismDriver, vif_details
from tests.integration.felix.conftest import FelixLab, eventually, felix_lab_factory
from tests.unit.openstack._neutron import FakeNeutron, PortContext, SubnetContext

__all__ = ["felix_lab_factory"]  # the harness's fixture, used by ``cloud_factory``

NETWORK_ID = "net-1"
SUBNET_ID = "9b6e0c2a-1f3d-4c5b-8a7e-6d5c4b3a2910"
SUBNET_CIDR = "10.28.0.0/24"
GATEWAY = "10.28.0.1"
HOST_ROUTE = ("10.29.0.0/16", GATEWAY)  # handed out as a classless static route
_FOREIGN_ENV = ("FELIX_", "DATASTORE_", "ETCD_", "CALICO_", "NODENAME")

# udhcpc's event script: what a VM's DHCP client does with a lease.  RFC 3442:
# with classless static routes (121) the router option is ignored.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        ip route replace "$1" via "$2" dev "$interface"
        shift 2
      done
    elif [ -n "$router" ]; then
      ip route replace default via "$router" dev "$interface"
    fi
    env | grep -E '^(ip|mask|router|staticroutes|serverid|lease|dns)=' > "$LEASE_FILE"
    ;;
esac
"""


@dataclasses.dataclass
class VM:
    port: dict[str, Any]
    wl: Workload  # host_ifname is the tap

    @property
    def ip(self) -> str:
        return str(self.port["fixed_ips"][0]["ip_address"])

    @property
    def netns(self) -> str:
        return self.wl.netns


class Cloud:
    def __init__(self, lab: FelixLab, state_root: Path) -> None:
        self.lab = lab
        self.state_root = state_root
        self.neutron = FakeNeutron(
            subnets={SUBNET_ID: {"id": SUBNET_ID, "gateway_ip": GATEWAY}},
        )
        self.driver = CalicoMechanismDriver(
            datastore=open_datastore(DatastoreConfig.from_env(lab.datastore_env)),
            lookup=self.neutron,
        )
        self.driver.initialize()
        self.script = state_root / "udhcpc.script"
        self.script.write_text(UDHCPC_SCRIPT)
        self.script.chmod(0o755)
        self.driver.create_subnet_postcommit(SubnetContext(self.subnet()))

    def close(self) -> None:
        for host in self.lab.fabric.hosts:
            self.stop_agent(host.name)
        self.driver.close()

    # -- Neutron objects ---------------------------------------------------

    def subnet(self) -> dict[str, Any]:
        return {
            "id": SUBNET_ID,
            "network_id": NETWORK_ID,
            "cidr": SUBNET_CIDR,
            "gateway_ip": GATEWAY,
            "host_routes": [{"destination": HOST_ROUTE[0], "nexthop": HOST_ROUTE[1]}],
            "dns_nameservers": [],
            "enable_dhcp": True,
            "ip_version": 4,
        }

    def port(self, host: str, ip: str, security_groups: list[str]) -> dict[str, Any]:
        port_id = str(uuid.uuid4())
        return {
            "id": port_id,
            "network_id": NETWORK_ID,
            "tenant_id": "demo",
            "device_id": str(uuid.uuid4()),
            "device_owner": "compute:nova",
            "binding:host_id": host,
            "binding:vif_type": "tap",
            "binding:vnic_type": "normal",
            "mac_address": "fa:16:3e:"
            + ":".join(port_id.replace("-", "")[i : i + 2] for i in (0, 2, 4)),
            "fixed_ips": [{"subnet_id": SUBNET_ID, "ip_address": ip}],
            "security_groups": security_groups,
            "allowed_address_pairs": [],
            "status": "DOWN",
        }

    def set_security_group(self, sg_id: str, rules: list[dict[str, Any]]) -> None:
        """Neutron's state of group ``sg_id`` is now ``rules``; tell the driver."""
        sg = {
            "id": sg_id,
            "name": sg_id,
            "security_group_rules": [{**r, "security_group_id": sg_id} for r in rules],
        }
        self.neutron.security_groups[sg_id] = sg
        self.driver.security_group_updated(sg)

    # -- VMs -------------------------------------------------------------------

    def boot(self, host: Host, name: str, port: dict[str, Any]) -> VM:
        """Plug a VM for ``port`` on ``host`` as Nova does, then tell the driver."""
        wl = create_workload(
            self.lab.fabric.state,
            host,
            name,
            port["fixed_ips"][0]["ip_address"],
            vm=True,
            configure=False,
        )
        tap = "tap" + port["id"][:11]
        tap_mac = vif_details(port)["mac_address"]
        # Link down drops the /32 route through it: put it back under the new name.
        netns.ip_batch(
            host.netns,
            [
                f"link set {wl.host_ifname} down",
                f"link set {wl.host_ifname} name {tap} address {tap_mac}",
                f"link set {tap} up",
                f"route replace {wl.ip}/32 dev {tap} scope link",
            ],
        )
        netns.ip(wl.netns, "link", "set", wl.ifname, "address", port["mac_address"])
        wl = dataclasses.replace(wl, host_ifname=tap)
        start_server(self.lab.pm, wl)
        self.driver.create_port_postcommit(
            PortContext(port, network={"id": NETWORK_ID, "name": "demo-net"})
        )
        return VM(port, wl)

    def dhcp(self, vm: VM, *, attempts: int = 8) -> dict[str, str] | None:
        """Run udhcpc in the VM; the lease's variables, or None if no lease came."""
        lease_file = self.state_root / f"lease-{vm.wl.name}"
        lease_file.unlink(missing_ok=True)
        udhcpc = f"udhcpc -i {vm.wl.ifname} -f -q -n -t {attempts} -T 1 -O staticroutes"
        argv = [
            "env",
            f"LEASE_FILE={lease_file}",
            "busybox",
            *udhcpc.split(),
            "-s",
            str(self.script),
        ]
        result = netns.run_in_ns(vm.netns, argv, check=False, timeout=attempts * 3 + 10)
        if result.returncode != 0 or not lease_file.exists():
            return None
        pairs = (line.split("=", 1) for line in lease_file.read_text().splitlines() if "=" in line)
        return dict(pairs)

    # -- DHCP agents -------------------------------------------------------------

    def agent_state_dir(self, host: str) -> Path:
        return self.state_root / f"dhcp-{host}"

    def start_agent(self, host: Host) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
        env.update(self.lab.datastore_env)
        module = "calico.openstack.dhcp_agent"
        state_dir = self.agent_state_dir(host.name)
        args = f"--host {host.name} --state-dir {state_dir} --log-level DEBUG"
        argv = [sys.executable, "-m", module, *args.split()]
        self.lab.pm.start(f"dhcp-agent-{host.name}", host.netns, argv, env=env)

    def stop_agent(self, host: str) -> None:
        self.lab.pm.stop(f"dhcp-agent-{host}")

    def dnsmasq_pid(self, host: str) -> int | None:
        try:
            return int((self.agent_state_dir(host) / "dnsmasq.pid").read_text())
        except (OSError, ValueError):
            return None

    def wait_for_dnsmasq(self, host: str) -> int:
        eventually(lambda: self.dnsmasq_pid(host) is not None, f"dnsmasq on {host}", timeout=15)
        pid = self.dnsmasq_pid(host)
        assert pid is not None
        return pid

    def agent_log(self, host: str) -> str:
        path = self.lab.pm.log_path(f"dhcp-agent-{host}")
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="module")
def cloud_factory(felix_lab_factory: Callable[..., FelixLab]) -> Iterator[Callable[[], Cloud]]:
    clouds: list[Cloud] = []
    roots: list[Path] = []

    def build() -> Cloud:
        # World-traversable (unlike pytest's tmp): dnsmasq re-reads its files as
        # an unprivileged user.
        root = Path(tempfile.mkdtemp(prefix="calico-os-test-"))
        root.chmod(0o755)
        roots.append(root)
        cloud = Cloud(felix_lab_factory(hosts=2), root)
        clouds.append(cloud)
        return cloud

    yield build
    for cloud in clouds:
        cloud.close()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
