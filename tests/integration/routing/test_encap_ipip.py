"""An IPIP pool on a kernel without IPIP (MACHINE.md): a clear error, no silent loop.

Felix needs ``tunl0`` for a pool with ipipMode Always. Here the kernel refuses
to create it, and felix must say why in words a user can act on ("kernel has
no IPIP support") and exit with its fatal code; calico-node restarts it with
a growing back-off (never a tight loop), keeps everything else (BIRD,
calico-bgp) running, and felix comes back by itself once the pool is gone.
"""

from __future__ import annotations

import re

import pytest

from calico.lab import netns
from calico.lab.cluster import node_process
from calico.lab.hosts import Host

from ._routing import wait_for
from .conftest import MakeLab

pytestmark = pytest.mark.root

MESSAGE = "kernel has no IPIP support"
EXIT_FATAL = 1
POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ipip-pool
spec:
  cidr: 10.245.0.0/16
  ipipMode: Always
  vxlanMode: Never
"""
_EXITED = re.compile(rf"calico-felix exited with code {EXIT_FATAL}; restarting in ([\d.]+)s")


def kernel_has_ipip(host: Host) -> bool:
    probe = ["link", "add", "caliipipprobe", "type", "ipip"]
    if netns.run(["ip", "-n", host.netns, *probe], check=False).returncode != 0:
        return False
    host.ip_cmd("link", "del", "caliipipprobe")
    return True


def test_ipip_pool_reports_missing_kernel_support(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=1)
    [host] = lab.hosts
    if kernel_has_ipip(host):
        pytest.skip("this kernel has IPIP: the failure path cannot happen here")
    felix_log = len(lab.log(host, "calico-felix"))
    node_log = len(lab.node_log(host))
    bird = lab.child(host, "bird")

    lab.calicoctl("apply", "-f", "-", stdin=POOL)

    def said() -> list[str]:
        new = lab.log(host, "calico-felix")[felix_log:]
        return [line for line in new.splitlines() if MESSAGE in line]

    lines = wait_for("felix to say the kernel has no IPIP", said)
    assert "tunl0" in lines[0], lines

    # calico-node saw felix exit with its fatal code and backs off more each time.
    def delays() -> list[float]:
        return [float(d) for d in _EXITED.findall(lab.node_log(host)[node_log:])]

    wait_for("two fatal exits of felix", lambda: len(delays()) >= 2, seen=delays)
    assert delays()[1] > delays()[0], delays()
    assert lab.child(host, "calico-felix")["last_exit"] == EXIT_FATAL
    assert not lab.node_status_file(host)["ready"]
    # Every failed run explains itself, not only the first. (calico-node starts
    # each run's output with a "=== <time> calico-node: starting" line.)
    runs = lab.log(host, "calico-felix")[felix_log:].split("calico-node: starting")
    assert sum(MESSAGE in run for run in runs) >= len(delays()), runs
    # Nothing else suffered, and nothing was half-made.
    assert lab.lab.pm.is_alive(node_process(host))
    assert lab.child(host, "bird")["pid"] == bird["pid"]
    assert "tunl0" not in host.ip_cmd("link", "show")

    lab.calicoctl("delete", "ippool", "ipip-pool")
    lab.wait_child_ready(host, "calico-felix")
    wait_for("calico-node ready again", lambda: lab.node_status_file(host)["ready"])
