"""A lab host: one network namespace standing in for one machine.

A host has a single fabric interface (``eth0``) with an address on its fabric
subnet and a default route to that subnet's gateway, like a real server with
one NIC. Forwarding is on, as on any Calico node. The host's name
(``host1``...) is also its Calico Node name.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from calico.lab import netns


@dataclass(frozen=True)
class Host:
    lab: str
    name: str  # host1 ... hostK, also the Calico Node name
    netns: str  # <lab>-host1
    ip: str  # address on the fabric
    prefixlen: int
    gateway: str  # the default route's next hop (the gateway / router namespace)
    subnet: int = 0  # index of the fabric subnet (0 or 1)
    ifname: str = "eth0"

    @property
    def cidr(self) -> str:
        """The fabric address with its prefix, e.g. ``10.99.4.1/24``."""
        return f"{self.ip}/{self.prefixlen}"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.cidr, strict=False)

    def run(
        self, argv: Sequence[str], *, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host's namespace."""
        return netns.run_in_ns(self.netns, argv, check=check, input=input)

    def ip_cmd(self, *args: str, check: bool = True) -> str:
        """Run ``ip ARGS`` in the host's namespace; returns stdout."""
        return netns.ip(self.netns, *args, check=check)

    def add_route(self, dst: str, via: str) -> None:
        """A static route (tests use these where BGP would run)."""
        self.ip_cmd("route", "replace", dst, "via", via)

    def routes(self) -> list[dict[str, Any]]:
        """The main IPv4 routing table, as ``ip -j route`` objects."""
        parsed: list[dict[str, Any]] = json.loads(self.ip_cmd("-j", "route", "show") or "[]")
        return parsed

    def set_sysctls(self, values: Mapping[str, int | str]) -> None:
        netns.set_sysctls(self.netns, values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Host:
        return cls(**raw)
