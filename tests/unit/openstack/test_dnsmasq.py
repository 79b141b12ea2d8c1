"""dnsmasq rendering, and the child process control (with a stand-in program)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import signal
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from calico.errors import DataplaneError
from calico.openstack.dhcp_model import DhcpConfig, DhcpHost, DhcpSubnet
from calico.openstack.dnsmasq import (
    Dnsmasq,
    DnsmasqSettings,
    command_line,
    hosts_file,
    opts_file,
)

SUBNET_A = DhcpSubnet(
    id="sa",
    network_id="net-a",
    cidr=ipaddress.IPv4Network("10.65.0.0/24"),
    gateway="10.65.0.1",
    host_routes=(("11.11.0.0/16", "10.65.0.254"),),
    dns_servers=("10.0.0.53", "10.0.0.54"),
)
SUBNET_B = DhcpSubnet(
    id="sb", network_id="net-b", cidr=ipaddress.IPv4Network("10.66.0.0/23"), gateway="10.66.0.1"
)
HOST_1 = DhcpHost("p1", "fa:16:3e:00:00:01", "10.65.0.2", "sa", "tapp1")
HOST_2 = DhcpHost("p2", "fa:16:3e:00:00:02", "10.66.1.9", "sb", "tapp2")
CONFIG = DhcpConfig(subnets=(SUBNET_A, SUBNET_B), hosts=(HOST_1, HOST_2))


def test_command_line() -> None:
    settings = DnsmasqSettings(Path("/st"), lease_seconds=600, user="nobody")
    assert command_line(CONFIG, settings) == [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--port=0",
        "--no-hosts",
        "--no-resolv",
        "--bind-dynamic",
        "--except-interface=lo",
        "--interface=ns-dhcp",
        "--interface=tap*",
        "--bridge-interface=ns-dhcp,tap*",
        "--dhcp-authoritative",
        "--dhcp-hostsfile=/st/hosts",
        "--dhcp-optsfile=/st/opts",
        "--dhcp-leasefile=/st/leases",
        "--pid-file=/st/dnsmasq.pid",
        "--log-facility=-",
        "--log-dhcp",
        "--user=nobody",
        "--dhcp-range=set:subnet-sa,10.65.0.0,static,255.255.255.0,600s",
        "--dhcp-range=set:subnet-sb,10.66.0.0,static,255.255.254.0,600s",
    ]


def test_hosts_file() -> None:
    assert hosts_file(CONFIG) == "fa:16:3e:00:00:01,10.65.0.2\nfa:16:3e:00:00:02,10.66.1.9\n"


def test_opts_file() -> None:
    assert opts_file(CONFIG).splitlines() == [
        "tag:subnet-sa,option:router,10.65.0.1",
        "tag:subnet-sa,option:dns-server,10.0.0.53,10.0.0.54",
        # With classless routes, clients ignore the router option: repeat the default.
        "tag:subnet-sa,option:classless-static-route,11.11.0.0/16,10.65.0.254,0.0.0.0/0,10.65.0.1",
        "tag:subnet-sa,249,11.11.0.0/16,10.65.0.254,0.0.0.0/0,10.65.0.1",
        "tag:subnet-sb,option:router,10.66.0.1",
    ]


@pytest.mark.parametrize(
    ("routes", "gateway", "line"),
    [
        ((("0.0.0.0/0", "10.65.0.9"),), "10.65.0.1", "0.0.0.0/0,10.65.0.9"),  # own default kept
        ((("11.0.0.0/8", "10.65.0.9"),), None, "11.0.0.0/8,10.65.0.9"),
        ((("2001:db8::/32", "fd00::1"),), "10.65.0.1", None),  # IPv6 routes skipped
    ],
)
def test_static_routes(
    routes: tuple[tuple[str, str], ...], gateway: str | None, line: str | None
) -> None:
    subnet = DhcpSubnet(
        "s", "n", ipaddress.IPv4Network("10.65.0.0/24"), gateway=gateway, host_routes=routes
    )
    opts = [o for o in opts_file(DhcpConfig((subnet,), ())).splitlines() if "classless" in o]
    assert opts == ([f"tag:subnet-s,option:classless-static-route,{line}"] if line else [])


# -- the process, with a stand-in for dnsmasq ---------------------------------------

# Writes its pid file (the --pid-file argument), records each SIGHUP, exits on SIGTERM.
FAKE_DNSMASQ = """#!{python}
import os, signal, sys, time
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
if os.environ.get("FAKE_DNSMASQ_FAIL"):
    sys.exit(3)
log = open(args["--pid-file"] + ".signals", "a")
def hup(signum, frame):
    log.write("HUP\\n"); log.flush()
signal.signal(signal.SIGHUP, hup)
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
with open(args["--pid-file"], "w") as f:
    f.write(str(os.getpid()) + "\\n")
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def fake_binary(tmp_path: Path) -> Path:
    path = tmp_path / "fake-dnsmasq"
    path.write_text(FAKE_DNSMASQ.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def signals(settings: DnsmasqSettings) -> list[str]:
    path = Path(str(settings.pid_file) + ".signals")
    return path.read_text().split() if path.exists() else []


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def running(dnsmasq: Dnsmasq) -> bool:
    # A call, not the property: mypy would keep the property narrowed by earlier asserts.
    return dnsmasq.running


def test_start_reload_restart_stop(tmp_path: Path, fake_binary: Path) -> None:
    settings = DnsmasqSettings(tmp_path / "state", binary=str(fake_binary))
    dnsmasq = Dnsmasq(settings)
    one = DhcpConfig(subnets=(SUBNET_A,), hosts=(HOST_1,))
    try:
        dnsmasq.apply(one)
        first = dnsmasq.pid
        assert first is not None
        assert settings.hosts_file.read_text() == "fa:16:3e:00:00:01,10.65.0.2\n"
        assert stat.S_IMODE(settings.hosts_file.stat().st_mode) == 0o644

        dnsmasq.apply(one)  # nothing changed: nothing happens
        assert dnsmasq.pid == first
        assert signals(settings) == []

        moved = DhcpConfig(
            subnets=(SUBNET_A,), hosts=(dataclasses.replace(HOST_1, ip="10.65.0.3"),)
        )
        dnsmasq.apply(moved)  # same subnets: the files change, SIGHUP
        wait_for(lambda: signals(settings) == ["HUP"])
        assert dnsmasq.pid == first
        assert "10.65.0.3" in settings.hosts_file.read_text()

        dnsmasq.apply(CONFIG)  # a new subnet: a new command line, restart
        assert dnsmasq.pid not in (None, first)

        os.kill(dnsmasq.pid or 0, signal.SIGKILL)  # it died: apply starts it again
        wait_for(lambda: not dnsmasq.running)
        dnsmasq.apply(CONFIG)
        assert dnsmasq.running

        dnsmasq.apply(DhcpConfig())  # nothing to serve: stopped
        assert not running(dnsmasq)
        assert not settings.pid_file.exists()
    finally:
        dnsmasq.stop()


def test_start_failure_is_a_dataplane_error(
    tmp_path: Path, fake_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DNSMASQ_FAIL", "1")
    dnsmasq = Dnsmasq(DnsmasqSettings(tmp_path, binary=str(fake_binary)))
    with pytest.raises(DataplaneError, match="exited with status 3"):
        dnsmasq.apply(CONFIG)
    assert not dnsmasq.running


def test_missing_binary_is_a_dataplane_error(tmp_path: Path) -> None:
    dnsmasq = Dnsmasq(DnsmasqSettings(tmp_path, binary=str(tmp_path / "nope")))
    with pytest.raises(DataplaneError, match="cannot run"):
        dnsmasq.apply(CONFIG)
