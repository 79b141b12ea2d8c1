"""Bringing labs up and down: two at once (one on etcd), a killed ``up``, refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from calico.lab import netns
from calico.lab.state import STATE_ROOT_ENV, LabState

from .conftest import CALICO, Run, last_line, unique

pytestmark = pytest.mark.root


def lab_namespaces(name: str) -> list[str]:
    return [ns for ns in netns.list_netns() if ns.startswith(f"{name}-")]


def processes_under(path: Path) -> list[str]:
    """Command lines of live processes that mention ``path`` (the lab's state dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(path) in cmdline:
                found.append(cmdline)
    return found


def test_two_labs_at_once_sqlite_and_etcd_vxlan_cross_subnet(
    calico: Run, state_root: Path, lab_names: list[str]
) -> None:
    small, etcd = unique("a"), unique("e")
    lab_names += [small, etcd]
    env = {**os.environ, STATE_ROOT_ENV: str(state_root)}
    ups = [
        subprocess.Popen(
            [CALICO, "lab", "up", "--name", small, "--hosts", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(
            [
                CALICO,
                "lab",
                "up",
                "--name",
                etcd,
                "--hosts",
                "3",
                "--datastore",
                "etcdv3",
                "--encap",
                "vxlan",
                "--subnets",
                "2",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    ]
    for up in ups:
        out, err = up.communicate(timeout=180)
        assert up.returncode == 0, err
    assert "CrossSubnet" in out  # the etcd lab's summary names the pool's VXLAN mode

    # etcd runs inside the lab (its gateway namespace); calicoctl reaches it
    # through the wrapper that `calico lab env` prints.
    env_text = calico("lab", "env", "--name", etcd).stdout
    assert "export DATASTORE_TYPE=etcdv3" in env_text
    assert f"ip netns exec {etcd}-gw" in env_text
    nodes = subprocess.run(
        ["bash", "-c", env_text + "\ncalicoctl get nodes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert nodes.returncode == 0, nodes.stderr
    assert {"host1", "host2", "host3"} <= set(nodes.stdout.split())

    # host1 and host2 share a subnet, host3 is across the router: VXLAN only there.
    ips = {}
    for host in ("host1", "host2", "host3"):
        added = calico("lab", "workload", "add", "--name", etcd, host, f"w-{host}")
        assert added.returncode == 0, added.stderr
        ips[host] = last_line(added.stdout)
    for src, dst in (("host1", "host2"), ("host1", "host3"), ("host3", "host2")):
        probe = calico("lab", "probe", "--name", etcd, f"w-{src}", f"w-{dst}")
        assert probe.returncode == 0, probe.stdout + probe.stderr
    routes = calico("lab", "exec", "--name", etcd, "host1", "--", "ip", "route").stdout
    assert "dev vxlan.calico" in routes

    # Each lab is on its own: removing one leaves the other running.
    assert calico("lab", "down", "--name", etcd).returncode == 0
    assert lab_namespaces(etcd) == []
    status = calico("lab", "status", "--name", small)
    assert status.returncode == 0, status.stdout + status.stderr
    assert calico("lab", "down", "--name", small).returncode == 0


def test_down_after_up_was_killed(calico: Run, state_root: Path, lab_names: list[str]) -> None:
    name = unique("k")
    lab_names.append(name)
    env = {**os.environ, STATE_ROOT_ENV: str(state_root)}
    up = subprocess.Popen(
        [CALICO, "lab", "up", "--name", name, "--datastore", "etcdv3"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = LabState(name)
    deadline = time.monotonic() + 60
    # Kill it once calico-node processes exist: the worst moment, mid-bring-up.
    while not any(p.name.startswith("calico-node") for p in state.load().processes):
        assert time.monotonic() < deadline, "calico lab up never started calico-node"
        time.sleep(0.05)
    os.kill(up.pid, signal.SIGKILL)
    up.wait()
    assert lab_namespaces(name), "the killed up should have left a half-built lab"

    down = calico("lab", "down", "--name", name)
    assert down.returncode == 0, down.stderr
    assert lab_namespaces(name) == []
    assert processes_under(state_root / name) == []
    assert not (state_root / name).exists()
    assert "nothing to remove" in calico("lab", "down", "--name", name).stdout


def test_up_with_ipip_fails_with_the_kernels_message(
    calico: Run, lab_names: list[str], state_root: Path
) -> None:
    name = unique("i")
    lab_names.append(name)
    up = calico("lab", "up", "--name", name, "--encap", "ipip", "--hosts", "1")
    if up.returncode == 0:
        pytest.skip("this kernel has IPIP")
    assert up.returncode == 1
    assert "kernel has no IPIP support" in up.stderr
    assert "Traceback" not in up.stderr
    assert lab_namespaces(name) == []
    assert not (state_root / name).exists()


def test_usage_errors_exit_2(calico: Run) -> None:
    for args in (
        ("lab", "up", "--hosts", "0"),
        ("lab", "up", "--datastore", "mysql"),
        ("lab", "up", "--subnets", "3"),
        ("lab", "nosuchcommand"),
        ("lab", "probe", "onlyone"),
    ):
        proc = calico(*args)
        assert proc.returncode == 2, (args, proc.stderr)
    bad_name = calico("lab", "up", "--name", "Bad-Name")
    assert bad_name.returncode == 1
    assert "lab name must be" in bad_name.stderr
