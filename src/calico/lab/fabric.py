"""The lab's physical network: a switch, hosts plugged into it, a gateway.

::

    <lab>-host1 eth0 ─┐                        ┌─ eth0 <lab>-gw   (subnets=1)
    <lab>-host2 eth0 ─┼─ br0  in <lab>-fabric ─┘
    <lab>-host3 eth0 ─┘

    subnets=2:  host1..host⌈K/2⌉ on br0 ─ eth0 ┐
                                                <lab>-gw (router, forwards)
                the other hosts   on br1 ─ eth1 ┘

Each host gets ``.N`` (its number) on its subnet and a default route via the
gateway at ``.254``. The gateway namespace never learns workload routes: it is
the "rest of the data centre" that a real host's default route points to.
With one subnet it does not forward at all, so traffic to unknown addresses
dies there. With two subnets the same namespace is the router between them,
forwarding between host subnets only: reaching a workload across it needs
encapsulation, as Calico's ``CrossSubnet`` mode assumes.

The default route is not decoration. The kernel answers proxy ARP for
169.254.1.1 (the workloads' gateway) only when it has a route to 169.254.1.1
out of *another* interface than the one the request came in on; on a host
without a default route the workloads cannot even resolve their gateway
(MACHINE.md; ``tests/integration/lab/test_workload.py`` shows it).

Subnets are ``10.99.X.0/24`` with X derived from a hash of the lab name, so
different labs usually differ, which keeps output readable. A collision would
be harmless: each lab's fabric lives entirely in its own namespaces.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from calico.errors import ConfigError
from calico.lab import netns
from calico.lab.hosts import Host
from calico.lab.state import LabState, TeardownReport, netns_name, teardown, validate_lab_name

FABRIC_SUPERNET = ipaddress.IPv4Network("10.99.0.0/16")
GATEWAY_OCTET = 254
MAX_HOSTS_PER_SUBNET = 253
HOST_SYSCTLS = {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1}


@dataclass(frozen=True)
class FabricPlan:
    """Every name and address of a lab's fabric, computed before anything exists."""

    lab: str
    subnets: tuple[ipaddress.IPv4Network, ...]
    hosts: tuple[Host, ...]

    def gateway(self, subnet: int) -> str:
        return str(self.subnets[subnet][GATEWAY_OCTET])

    def to_json(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "subnets": [str(s) for s in self.subnets],
            "hosts": [h.to_json() for h in self.hosts],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FabricPlan:
        return cls(
            lab=raw["lab"],
            subnets=tuple(ipaddress.IPv4Network(s) for s in raw["subnets"]),
            hosts=tuple(Host.from_json(h) for h in raw["hosts"]),
        )


def _subnet_for(lab: str, index: int) -> ipaddress.IPv4Network:
    # 128 pairs of /24s in 10.99.0.0/16; a lab uses pair number hash(name).
    pair = int.from_bytes(hashlib.sha1(lab.encode()).digest()[:4], "big") % 128
    return list(FABRIC_SUPERNET.subnets(new_prefix=24))[2 * pair + index]


def plan_fabric(lab: str, hosts: int = 3, subnets: int = 1) -> FabricPlan:
    """Lay out ``hosts`` hosts on ``subnets`` (1 or 2) fabric subnets."""
    validate_lab_name(lab)
    if subnets not in (1, 2):
        raise ConfigError(f"subnets must be 1 or 2 (value {subnets!r})")
    if not 1 <= hosts <= MAX_HOSTS_PER_SUBNET:
        raise ConfigError(f"hosts must be between 1 and {MAX_HOSTS_PER_SUBNET} (value {hosts!r})")
    nets = tuple(_subnet_for(lab, i) for i in range(subnets))
    first_half = (hosts + 1) // 2
    plan_hosts = []
    for number in range(1, hosts + 1):
        subnet = 0 if subnets == 1 or number <= first_half else 1
        net = nets[subnet]
        plan_hosts.append(
            Host(
                lab=lab,
                name=f"host{number}",
                netns=netns_name(lab, f"host{number}"),
                ip=str(net[number]),
                prefixlen=net.prefixlen,
                gateway=str(net[GATEWAY_OCTET]),
                subnet=subnet,
            )
        )
    return FabricPlan(lab, nets, tuple(plan_hosts))


class Fabric:
    """A built (or loaded) lab fabric. ``with Fabric.create(...)`` tears down on exit."""

    def __init__(self, plan: FabricPlan, state: LabState) -> None:
        self.plan = plan
        self.state = state
        self.name = plan.lab
        self.hosts = list(plan.hosts)
        self.fabric_netns = netns_name(plan.lab, "fabric")
        self.gateway_netns = netns_name(plan.lab, "gw")

    @classmethod
    def create(
        cls, lab: str, hosts: int = 3, subnets: int = 1, *, root: Path | None = None
    ) -> Fabric:
        """Build a new lab fabric; on any failure remove whatever was built."""
        plan = plan_fabric(lab, hosts, subnets)
        state = LabState(lab, root)
        if state.exists() or any(netns.exists(netns_name(lab, r)) for r in ("fabric", "gw")):
            raise ConfigError(f"lab {lab!r} already exists; tear it down first")
        state.set_section("fabric", plan.to_json())
        fabric = cls(plan, state)
        try:
            fabric._build()
        except BaseException:
            teardown(lab, root)
            raise
        return fabric

    @classmethod
    def load(cls, lab: str, *, root: Path | None = None) -> Fabric:
        """The fabric of an existing lab, from its state."""
        state = LabState(lab, root)
        raw = state.section("fabric") if state.exists() else None
        if raw is None:
            raise ConfigError(f"no lab named {lab!r} (no state in {state.dir})")
        return cls(FabricPlan.from_json(raw), state)

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise ConfigError(f"lab {self.name} has no host {name!r}")

    def teardown(self) -> TeardownReport:
        return teardown(self.name, self.state.dir.parent)

    def __enter__(self) -> Fabric:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()

    # -- building ----------------------------------------------------------------

    def _new_netns(self, ns: str) -> None:
        self.state.record_namespace(ns)  # before it exists: a crash leaves a trace
        netns.create(ns)

    def _plug(self, ns: str, ifname: str, port: str, subnet: int) -> None:
        """Cable ``ifname`` in ``ns`` to switch port ``port`` on bridge ``br<subnet>``.

        The veth is created inside ``ns`` with its peer placed straight into the
        fabric namespace, so it never appears in the root namespace, where its
        name could clash with anything.
        """
        veth = f"link add {ifname} type veth peer name {port} netns {self.fabric_netns}"
        netns.ip(ns, *veth.split())
        netns.ip(self.fabric_netns, "link", "set", port, "master", f"br{subnet}", "up")

    def _build(self) -> None:
        self._new_netns(self.fabric_netns)
        for i in range(len(self.plan.subnets)):
            # STP is off by default, so ports forward as soon as they are up.
            netns.ip_batch(self.fabric_netns, [f"link add br{i} type bridge", f"link set br{i} up"])
        self._build_gateway()
        for h in self.hosts:
            self._build_host(h)

    def _build_gateway(self) -> None:
        ns = self.gateway_netns
        self._new_netns(ns)
        for i, net in enumerate(self.plan.subnets):
            self._plug(ns, f"eth{i}", f"gw{i}", i)
            address = f"{self.plan.gateway(i)}/{net.prefixlen}"
            netns.ip_batch(ns, [f"addr add {address} dev eth{i}", f"link set eth{i} up"])
        routes_between_subnets = len(self.plan.subnets) > 1
        netns.set_sysctls(ns, {"net.ipv4.ip_forward": int(routes_between_subnets)})

    def _build_host(self, h: Host) -> None:
        self._new_netns(h.netns)
        self._plug(h.netns, h.ifname, h.name.replace("host", "h"), h.subnet)
        netns.ip_batch(
            h.netns,
            [
                f"addr add {h.cidr} dev {h.ifname}",
                f"link set {h.ifname} up",
                f"route add default via {h.gateway} dev {h.ifname}",
            ],
        )
        h.set_sysctls(HOST_SYSCTLS)
