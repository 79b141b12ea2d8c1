"""Wiring a container to the host the Calico way (``cni-plugin/pkg/dataplane/linux``).

::

    container netns                       host netns
    eth0  10.65.0.5/32  ───── veth ─────  cali1a2b3c4d5e6  ee:ee:ee:ee:ee:ee, no address
    169.254.1.1 dev eth0 scope link       10.65.0.5 dev cali1a2b3c4d5e6 scope link
    default via 169.254.1.1 dev eth0      proxy_arp=1, proxy_delay=0, forwarding=1

Nothing owns 169.254.1.1.  The container ARPs for it, and the host answers
with the veth's own MAC by proxy ARP, so every packet the container sends
reaches the host's routing table: pure layer 3, no bridge.  ``proxy_delay``
defaults to 80 jiffies, which would hold each such reply up to 0.8 s.  (The
kernel only proxies for a target it can route out of *another* interface: the
host needs a default route, MACHINE.md.)  IPv6 is the same with the host
side's link-local address, which is derived from the fixed MAC (EUI-64):
``fe80::ecee:eeff:feee:eeee``, so it is known without asking the kernel.

Kernel access: ``ip -batch`` (one process per namespace and phase, 2-3 ms
each), ``/proc/sys`` writes, and an ioctl to read the host-side MAC back;
pyroute2 would add ~130 ms of import to every container start.  The
container-side steps run after ``setns`` into ``CNI_NETNS`` (see ``netns``).

:func:`setup` either completes or removes the veth it created before raising,
so a caller only has to undo it after later steps fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from calico.cni import netns
from calico.errors import CommandFailedError, DataplaneError

HOST_MAC = "ee:ee:ee:ee:ee:ee"
GATEWAY_V4 = "169.254.1.1"
GATEWAY_V6 = "fe80::ecee:eeff:feee:eeee"  # EUI-64 link-local address of HOST_MAC
_SIOCGIFHWADDR = 0x8927
# systemd-udevd may rewrite a new interface's MAC behind our back
# (MACAddressPolicy=persistent); Calico retries until its MAC sticks.
_MAC_SETTLE_SECONDS = 5.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Veth:
    """What :func:`setup` builds, and :func:`verify` expects to find."""

    host_name: str  # cali + 11 hex
    ifname: str  # CNI_IFNAME, in the container
    netns: str  # CNI_NETNS (a path)
    mtu: int
    addresses: tuple[str, ...]  # plain addresses, IPv4 and/or IPv6
    container_mac: str
    allow_ip_forwarding: bool = False

    def family(self, version: int) -> list[str]:
        return [a for a in self.addresses if ipaddress.ip_address(a).version == version]


def random_mac() -> str:
    """A random unicast, locally administered MAC (what the kernel picks for a veth)."""
    octets = bytearray(os.urandom(6))
    octets[0] = (octets[0] & 0xFE) | 0x02
    return ":".join(f"{o:02x}" for o in octets)


# -- setup ---------------------------------------------------------------------------


def setup(v: Veth) -> None:
    """Create and configure both ends; on failure remove what was created."""
    if link_exists(v.host_name):
        # A leftover of a container whose DEL never came (Calico does the same).
        _log.warning("Deleting stale host interface %s", v.host_name)
        _ip("link", "del", v.host_name)
    mtu = str(v.mtu)
    host_end = [v.host_name, "mtu", mtu, "address", HOST_MAC]
    container_end = [v.ifname, "mtu", mtu, "address", v.container_mac, "netns", v.netns]
    with _explained(f"creating veth {v.host_name} / {v.ifname} (mtu {mtu}) into {v.netns}"):
        _ip("link", "add", *host_end, "type", "veth", "peer", "name", *container_end)
    try:
        _settle_host_mac(v.host_name)
        _write_sysctls(_host_sysctls(v))
        with netns.entered(v.netns), _explained(f"configuring {v.ifname} in {v.netns}"):
            _write_sysctls(_container_sysctls(v))
            _ip_batch(_container_commands(v))
        _setup_host_side(v)
    except BaseException:
        remove_host_side(v.host_name)
        raise


def _setup_host_side(v: Veth) -> None:
    """Bring the host end up and route the workload's addresses to it.

    The veth was just (re)created, so an existing route to one of its
    addresses points at another interface: another workload on this host
    has the address.  That is refused, never overwritten.
    """
    commands = [f"link set {v.host_name} up"]
    commands += [f"route add {a}/32 dev {v.host_name} scope link" for a in v.family(4)]
    commands += [f"route add {a}/128 dev {v.host_name}" for a in v.family(6)]
    try:
        _ip_batch(commands)
    except CommandFailedError as exc:
        problems = _route_problems(v) or [exc.stderr.strip()]
        raise DataplaneError(f"setting up {v.host_name}: {'; '.join(problems)}") from exc


def _container_commands(v: Veth) -> list[str]:
    commands = [f"link set {v.ifname} up"]
    commands += [f"addr add {a}/32 dev {v.ifname}" for a in v.family(4)]
    commands += [f"addr add {a}/128 dev {v.ifname}" for a in v.family(6)]
    if v.family(4):
        commands += [
            f"route add {GATEWAY_V4}/32 dev {v.ifname} scope link",
            f"route add default via {GATEWAY_V4} dev {v.ifname}",
        ]
    if v.family(6):
        commands.append(f"route add ::/0 via {GATEWAY_V6} dev {v.ifname}")
    return commands


def _host_sysctls(v: Veth) -> list[tuple[str, str, bool]]:
    """(key, value, required) for the host end, as Felix also sets them."""
    name, out = v.host_name, []
    if v.family(4):
        out += [
            (f"net/ipv4/conf/{name}/route_localnet", "1", True),
            (f"net/ipv4/neigh/{name}/proxy_delay", "0", False),
            (f"net/ipv4/conf/{name}/proxy_arp", "1", True),
            (f"net/ipv4/conf/{name}/forwarding", "1", True),
        ]
    if v.family(6):
        out += [
            (f"net/ipv6/conf/{name}/accept_dad", "0", True),
            (f"net/ipv6/conf/{name}/disable_ipv6", "0", True),
            (f"net/ipv6/conf/{name}/proxy_ndp", "1", True),
            (f"net/ipv6/conf/{name}/forwarding", "1", True),
        ]
    out.append((f"net/ipv6/conf/{name}/accept_ra", "0", False))
    return out


def _container_sysctls(v: Veth) -> list[tuple[str, str, bool]]:
    forward = "1" if v.allow_ip_forwarding else "0"
    out: list[tuple[str, str, bool]] = []
    if v.family(4):
        out.append(("net/ipv4/ip_forward", forward, True))
    if v.family(6):
        out += [(f"net/ipv6/conf/{c}/disable_ipv6", "0", True) for c in ("all", "default", "lo")]
        out += [
            (f"net/ipv6/conf/{v.ifname}/accept_dad", "0", True),
            ("net/ipv6/conf/all/forwarding", forward, True),
        ]
    return out


def _write_sysctls(values: Sequence[tuple[str, str, bool]]) -> None:
    for key, value, required in values:
        try:
            with open(f"/proc/sys/{key}", "w", encoding="ascii") as handle:
                handle.write(value)
        except OSError as exc:
            if required:
                raise DataplaneError(f"cannot set {key.replace('/', '.')}={value}: {exc}") from exc
            _log.warning("Cannot set %s=%s: %s", key.replace("/", "."), value, exc)


def _settle_host_mac(name: str) -> None:
    deadline = time.monotonic() + _MAC_SETTLE_SECONDS
    while (mac := hw_address(name)) != HOST_MAC:
        if time.monotonic() > deadline:
            raise DataplaneError(f"{name} does not keep MAC {HOST_MAC} (it has {mac})")
        _log.warning("%s has MAC %s, not %s; setting it again", name, mac, HOST_MAC)
        _ip("link", "set", "dev", name, "address", HOST_MAC)
        time.sleep(0.1)


@contextlib.contextmanager
def _explained(doing: str) -> Iterator[None]:
    """Say what we were doing when a command failed (``ip`` only says "Invalid argument")."""
    try:
        yield
    except CommandFailedError as exc:
        raise DataplaneError(f"{doing}: {exc.stderr.strip() or exc}") from exc


# -- teardown ------------------------------------------------------------------------


def remove_host_side(name: str) -> bool:
    """Delete the host end (and so the pair); False if it was not there."""
    if not name or not link_exists(name):
        return False
    proc = _run(["ip", "link", "del", name], check=False)
    return proc.returncode == 0


def teardown(netns_path: str, ifname: str) -> bool:
    """Delete ``ifname`` inside the container; a missing netns or link is fine (DEL)."""
    if not netns.exists(netns_path):
        _log.info("Netns %s is already gone", netns_path)
        return False
    with netns.entered(netns_path):
        if not link_exists(ifname):
            return False
        _ip("link", "del", ifname)
    return True


# -- verification (CHECK) ------------------------------------------------------------


def verify(v: Veth) -> list[str]:
    """Everything :func:`setup` made that is missing or wrong, as sentences."""
    problems = _link_problems(v.host_name, HOST_MAC, "host interface")
    if problems:
        return problems
    problems += _route_problems(v)
    if v.family(4) and _read_sysctl(f"net/ipv4/conf/{v.host_name}/proxy_arp") != "1":
        problems.append(f"proxy_arp is off on {v.host_name}")
    if not netns.exists(v.netns):
        return [*problems, f"netns {v.netns} does not exist"]
    with netns.entered(v.netns):
        problems += _container_problems(v)
    return problems


def _container_problems(v: Veth) -> list[str]:
    problems = _link_problems(v.ifname, "", "container interface")
    return problems or _address_problems(v) + _gateway_problems(v)


def _address_problems(v: Veth) -> list[str]:
    link = _ip_json("addr", "show", "dev", v.ifname)[0]
    have = {(a.get("local"), a.get("prefixlen")) for a in link.get("addr_info", [])}
    problems = []
    for address in v.addresses:
        prefixlen = ipaddress.ip_address(address).max_prefixlen
        if (address, prefixlen) not in have:
            problems.append(f"{v.ifname} lacks address {address}/{prefixlen}")
    return problems


# (destination, gateway) of the routes ADD puts in the container, per IP version.
_CONTAINER_ROUTES: dict[int, list[tuple[str, str | None]]] = {
    4: [(GATEWAY_V4, None), ("default", GATEWAY_V4)],
    6: [("default", GATEWAY_V6)],
}


def _gateway_problems(v: Veth) -> list[str]:
    problems = []
    for version, wanted in _CONTAINER_ROUTES.items():
        if not v.family(version):
            continue
        routes = _ip_json(f"-{version}", "route", "show", "dev", v.ifname)
        have = {(r.get("dst"), r.get("gateway")) for r in routes}
        for dst, gateway in wanted:
            if (dst, gateway) not in have:
                problems.append(f"no route {dst}" + (f" via {gateway}" if gateway else ""))
    return problems


def _link_problems(name: str, mac: str, what: str) -> list[str]:
    if not link_exists(name):
        return [f"{what} {name} does not exist"]
    link = _ip_json("link", "show", "dev", name)[0]
    problems = [] if "UP" in link.get("flags", []) else [f"{what} {name} is down"]
    if mac and link.get("address") != mac:
        problems.append(f"{what} {name} has MAC {link.get('address')}, not {mac}")
    return problems


def _route_problems(v: Veth) -> list[str]:
    """Host routes to the workload that are missing or point elsewhere."""
    problems = []
    for address in v.addresses:
        version = ipaddress.ip_address(address).version
        prefix = f"{address}/{32 if version == 4 else 128}"
        routes = _ip_json(f"-{version}", "route", "show", prefix)
        devices = [r.get("dev", r.get("type", "?")) for r in routes]
        if v.host_name in devices:
            continue
        if devices:
            problems.append(
                f"route to {prefix} already exists via {', '.join(devices)}, not {v.host_name}: "
                "another workload on this host has this address"
            )
        else:
            problems.append(f"no host route {prefix} dev {v.host_name}")
    return problems


# -- kernel access -------------------------------------------------------------------


def link_exists(name: str) -> bool:
    """Whether ``name`` exists in the current namespace (an ioctl: no process)."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def hw_address(name: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = fcntl.ioctl(sock.fileno(), _SIOCGIFHWADDR, struct.pack("256s", name.encode()))
    return ":".join(f"{b:02x}" for b in ifreq[18:24])  # ifr_name[16], sa_family[2], sa_data


def _read_sysctl(key: str) -> str:
    try:
        with open(f"/proc/sys/{key}", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _run(
    argv: list[str], *, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise CommandFailedError(argv, proc.returncode, proc.stderr, stdin)
    return proc


def _ip(*args: str) -> str:
    return _run(["ip", *args]).stdout


def _ip_batch(commands: Sequence[str]) -> None:
    """Several ``ip`` commands in one process; iproute2 stops at the first failure."""
    _run(["ip", "-batch", "-"], stdin="".join(f"{c}\n" for c in commands))


def _ip_json(*args: str) -> list[dict[str, Any]]:
    parsed: list[dict[str, Any]] = json.loads(_ip("-j", *args) or "[]")
    return parsed
