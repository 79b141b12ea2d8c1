"""MTU auto-detection for workload interfaces.

Felix and calico-node pick the smallest MTU among host interfaces matching
``MTUIfacePattern`` and subtract the encapsulation overhead of the enabled
modes (IPIP 20, VXLAN 50, VXLAN over IPv6 70).  The result is written to
``/var/lib/calico/mtu``, which the CNI plugin reads when its config says
``mtu: 0`` so that container interfaces never exceed what the fabric carries
(a classic source of silent drops with encapsulation).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Sequence

DEFAULT_MTU_FILE = "/var/lib/calico/mtu"
OVERHEAD = {"none": 0, "ipip": 20, "vxlan": 50, "vxlan-v6": 70}
FALLBACK_MTU = 1500

LinkLister = Callable[[], Sequence[tuple[str, int]]]


def list_link_mtus() -> list[tuple[str, int]]:
    out = subprocess.run(
        ["ip", "-j", "link", "show"], check=True, capture_output=True, text=True
    ).stdout
    return [(link["ifname"], int(link.get("mtu", 0))) for link in json.loads(out or "[]")]


def host_mtu(pattern: str, list_links: LinkLister = list_link_mtus) -> int:
    """Smallest MTU of interfaces matching ``pattern`` (1500 if none match)."""
    regex = re.compile(pattern)
    mtus = [mtu for name, mtu in list_links() if regex.search(name) and mtu > 0]
    return min(mtus) if mtus else FALLBACK_MTU


def workload_mtu(host: int, encaps: Sequence[str]) -> int:
    """Host MTU minus the largest overhead among the enabled encapsulations."""
    return host - max((OVERHEAD[e] for e in encaps), default=0)


def write_mtu_file(mtu: int, path: str = DEFAULT_MTU_FILE) -> None:
    """Atomically write the MTU for the CNI plugin."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{mtu}\n")
    os.replace(tmp, path)


def read_mtu_file(path: str = DEFAULT_MTU_FILE) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip())
    except (FileNotFoundError, ValueError):
        return None
