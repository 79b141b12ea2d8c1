"""Test workloads wired to a lab host the way Calico's CNI plugin wires a pod.

This is the CNI-free path for tests that need workloads before (or without)
the real plugin; it mirrors ``cni-plugin/pkg/dataplane/linux`` (REFERENCE.md
8.1, 5.8):

- a veth pair: host side ``cali`` + 11 hex chars (``tap`` for the VM variant),
  MAC ``ee:ee:ee:ee:ee:ee``, no address; container side ``eth0``;
- on the host side ``proxy_arp=1``, ``proxy_delay=0``, ``forwarding=1`` and
  ``route_localnet=1``. ``proxy_delay`` defaults to 80 jiffies: the kernel
  would hold every proxy ARP reply for a random time up to 0.8 s;
- in the workload ``<ip>/32`` on ``eth0``, ``169.254.1.1 dev eth0 scope link``
  and ``default via 169.254.1.1``. Nothing owns 169.254.1.1: the workload ARPs
  for it and the host answers with its own (fixed) MAC through proxy ARP, for
  which the host needs a route to 169.254.1.1 out of another interface (the
  fabric default route, see ``fabric``);
- on the host ``<ip>/32 dev cali... scope link``.

Each workload lives in namespace ``<lab>-wl-<name>`` and is recorded in the
lab state (namespace first, then section ``workloads``) before it is created.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from calico.errors import ConfigError
from calico.lab import netns
from calico.lab.hosts import Host
from calico.lab.procs import ProcessManager
from calico.lab.state import LabState, ProcessRecord, netns_name

WORKLOAD_MAC = "ee:ee:ee:ee:ee:ee"
GATEWAY_IP = "169.254.1.1"
DEFAULT_PORTS = (80, 81)
_SECTION = "workloads"
_WL_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,38}[a-z0-9])?")


def host_interface_name(lab: str, name: str, *, vm: bool = False) -> str:
    """``cali`` (or ``tap``) + 11 hex chars; at most 15 characters, the IFNAMSIZ limit."""
    digest = hashlib.sha1(f"{lab}.{name}".encode()).hexdigest()[:11]
    return ("tap" if vm else "cali") + digest


def host_interface_sysctls(ifname: str) -> dict[str, int | str]:
    """What Felix and the CNI plugin set on every workload interface (IPv4)."""
    return {
        f"net.ipv4.conf.{ifname}.proxy_arp": 1,
        f"net.ipv4.neigh.{ifname}.proxy_delay": 0,
        f"net.ipv4.conf.{ifname}.forwarding": 1,
        f"net.ipv4.conf.{ifname}.route_localnet": 1,
    }


@dataclass(frozen=True)
class Workload:
    lab: str
    name: str
    host: str  # host name, e.g. host1
    host_netns: str
    netns: str
    ip: str
    host_ifname: str  # cali... or tap...
    ifname: str = "eth0"
    vm: bool = False

    def run(
        self, argv: Sequence[str], *, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the workload."""
        return netns.run_in_ns(self.netns, argv, check=check, input=input)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Workload:
        return cls(**raw)


def load_workloads(state: LabState) -> dict[str, Workload]:
    raw: dict[str, Any] = state.section(_SECTION) or {}
    return {name: Workload.from_json(w) for name, w in raw.items()}


def create_workload(
    state: LabState, host: Host, name: str, ip: str, *, vm: bool = False, configure: bool = True
) -> Workload:
    """Create workload ``name`` with address ``ip`` on ``host``.

    ``configure=False`` leaves the workload's ``eth0`` up but without address or
    routes (a VM that will ask DHCP); the host side is wired all the same.
    """
    if not _WL_NAME.fullmatch(name):
        raise ConfigError(f"workload name must match {_WL_NAME.pattern} (value {name!r})")
    wl = Workload(
        lab=state.name,
        name=name,
        host=host.name,
        host_netns=host.netns,
        netns=netns_name(state.name, f"wl-{name}"),
        ip=ip,
        host_ifname=host_interface_name(state.name, name, vm=vm),
        vm=vm,
    )
    with state.edit() as data:
        workloads = data.sections.setdefault(_SECTION, {})
        if name in workloads or netns.exists(wl.netns):
            raise ConfigError(f"workload {name!r} already exists in lab {state.name}")
        workloads[name] = wl.to_json()
    try:
        state.record_namespace(wl.netns)
        netns.create(wl.netns)
        _wire(wl, configure)
    except BaseException:
        delete_workload(state, wl)
        raise
    return wl


def _wire(wl: Workload, configure: bool) -> None:
    veth = f"link add {wl.host_ifname} address {WORKLOAD_MAC} type veth peer name {wl.ifname}"
    netns.ip(wl.host_netns, *veth.split(), "netns", wl.netns)
    netns.set_sysctls(wl.host_netns, host_interface_sysctls(wl.host_ifname))
    netns.ip(wl.host_netns, "link", "set", wl.host_ifname, "up")
    inside = [f"link set {wl.ifname} up"]
    if configure:
        inside += [
            f"addr add {wl.ip}/32 dev {wl.ifname}",
            f"route add {GATEWAY_IP} dev {wl.ifname} scope link",
            f"route add default via {GATEWAY_IP} dev {wl.ifname}",
        ]
    netns.ip_batch(wl.netns, inside)
    netns.ip(wl.host_netns, "route", "add", f"{wl.ip}/32", "dev", wl.host_ifname, "scope", "link")


def delete_workload(state: LabState, wl: Workload) -> None:
    """Remove the workload, its processes and its records. Absent parts are fine.

    The host-side veth is deleted first, synchronously: destroying a namespace
    frees its interfaces later, in a kernel work queue, and a workload created
    again under the same name would find ``cali...`` still there.
    """
    if netns.exists(wl.host_netns):
        netns.ip(wl.host_netns, "link", "del", wl.host_ifname, check=False)
    netns.destroy(wl.netns)
    state.forget_namespace(wl.netns)
    with state.edit() as data:
        data.sections.get(_SECTION, {}).pop(wl.name, None)


def start_server(
    pm: ProcessManager,
    wl: Workload,
    *,
    tcp: Sequence[int] = DEFAULT_PORTS,
    udp: Sequence[int] = DEFAULT_PORTS,
    sctp: Sequence[int] = (),
) -> ProcessRecord:
    """Run the workload server (``calico.lab.server``) in ``wl``; returns when it listens."""
    name = f"server-{wl.name}"
    ready = pm.pidfile(name).with_suffix(".ready")
    argv = [
        sys.executable,
        "-m",
        "calico.lab.server",
        "--name",
        wl.name,
        "--ready-file",
        str(ready),
    ]
    for flag, ports in (("--tcp", tcp), ("--udp", udp), ("--sctp", sctp)):
        if ports:
            argv += [flag, ",".join(map(str, ports))]
    return pm.start(name, wl.netns, argv, ready_file=ready)
