"""The holder interface: where the served subnets' gateway addresses live.

dnsmasq needs an address in a subnet on the interface a request comes in
on (``dnsmasq.py`` explains the bridge-interface trick that makes requests
on taps count as arriving here).  networking-calico's
``RoutedInterfaceDriver`` uses a dummy interface; this kernel may lack the
dummy driver (MACHINE.md), so a veth pair stands in, its peer left unused.
Either way the interface is named ``ns-...``: never ``cali...`` or
``tap...``, which Felix would take for a workload.

Each gateway is a /32: a local address with no subnet route, so the VMs'
/32 routes through their taps stay the only routes into the subnet.
Everything runs ``ip`` in the agent's own network namespace.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable

from calico.errors import CommandFailedError

HOLDER = "ns-dhcp"
_PEER_SUFFIX = "-peer"


def _ip(*args: str, check: bool = True) -> str:
    argv = ["ip", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise CommandFailedError(argv, proc.returncode, proc.stderr)
    return proc.stdout


def exists(name: str = HOLDER) -> bool:
    return _ip("link", "show", "dev", name, check=False) != ""


def ensure(name: str = HOLDER) -> None:
    """Create the holder (dummy if the kernel has it, else a veth pair) and bring it up."""
    if not exists(name):
        try:
            _ip("link", "add", name, "type", "dummy")
        except CommandFailedError:
            _ip("link", "add", name, "type", "veth", "peer", "name", name + _PEER_SUFFIX)
            _ip("link", "set", name + _PEER_SUFFIX, "up")
    _ip("link", "set", name, "up")


def addresses(name: str = HOLDER) -> set[str]:
    """The IPv4 /32 addresses on the holder."""
    raw = json.loads(_ip("-j", "-4", "addr", "show", "dev", name) or "[]")
    return {
        a["local"]
        for link in raw
        for a in link.get("addr_info", [])
        if a.get("family") == "inet" and a.get("prefixlen") == 32
    }


def sync_addresses(gateways: Iterable[str], name: str = HOLDER) -> None:
    """Make the holder's /32 addresses exactly ``gateways``."""
    wanted = set(gateways)
    current = addresses(name)
    for ip in sorted(wanted - current):
        _ip("addr", "add", f"{ip}/32", "dev", name)
    for ip in sorted(current - wanted):
        _ip("addr", "del", f"{ip}/32", "dev", name)


def remove(name: str = HOLDER) -> None:
    """Delete the holder (a veth's peer goes with it); absent is fine."""
    if exists(name):
        _ip("link", "del", name)
