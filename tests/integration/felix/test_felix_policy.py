"""calico-felix as a real process on one lab host: policy, fail-closed, restarts, drift, status.

One lab host for the whole module, with workloads ``web`` (role=web), ``db``
(role=db) and ``other`` (role=other), all with the ``allow-all`` profile,
and felix running with endpoint status reporting on.  Tests run in file
order and leave felix running with its default configuration.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from calico.cni.netns import entered
from calico.lab import netns
from calico.lab.workload import Workload
from tests.integration.felix.conftest import (
    FelixHost,
    consistently,
    eventually,
    resource,
)

pytestmark = pytest.mark.root

EXIT_CONFIG_CHANGED = 129
METRICS_PORT = 9091
FELIX_ENV = {
    "FELIX_ENDPOINTREPORTINGENABLED": "true",
    "FELIX_PROMETHEUSMETRICSENABLED": "true",
    "FELIX_PROMETHEUSMETRICSHOST": "127.0.0.1",
    "FELIX_PROMETHEUSMETRICSPORT": str(METRICS_PORT),
}
DB_POLICY = resource(
    "GlobalNetworkPolicy",
    "db-ingress",
    {
        "selector": "role == 'db'",
        "types": ["Ingress"],
        "ingress": [
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {"selector": "role == 'web'"},
                "destination": {"ports": [80]},
            }
        ],
    },
)
ECHO_SERVER = """
import socket, sys, threading, pathlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen()
pathlib.Path(sys.argv[1]).write_text("ready")
def serve(c):
    while data := c.recv(100):
        c.sendall(data)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""
ECHO_CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], 9000), timeout=5)
for line in sys.stdin:
    s.sendall(line.encode())
    print(s.recv(100).decode().strip(), flush=True)
"""
SPOOF_CLIENT = """
import socket, sys
s = socket.socket(); s.settimeout(1.0); s.bind((sys.argv[1], 0))
try:
    s.connect((sys.argv[2], 80)); s.recv(100)
except OSError:
    sys.exit(1)
"""


@pytest.fixture(scope="module")
def host(felix_host: FelixHost) -> FelixHost:
    felix_host.add_workload("web", labels={"role": "web"})
    felix_host.add_workload("db", labels={"role": "db"})
    felix_host.add_workload("other", labels={"role": "other"})
    felix_host.start_felix(FELIX_ENV)
    return felix_host


def wl(host: FelixHost, name: str) -> Workload:
    return host.workloads[name]


def test_profile_allows_all_without_policy(host: FelixHost) -> None:
    web, db, other = wl(host, "web"), wl(host, "db"), wl(host, "other")
    for src, dst in [(web, db), (db, other), (other, web)]:
        eventually(partial(host.probe, src, dst), f"{src.name} -> {dst.name}")
        assert host.probe(src, dst, 81, "udp")
    # Felix's own marks on the workload interface (the lab wiring sets neither).
    assert host.run("sysctl", "-n", f"net.ipv6.conf.{web.host_ifname}.accept_ra").strip() == "0"
    assert f"{web.ip} dev {web.host_ifname} proto 80 scope link" in host.run("ip", "route")


def test_policy_default_denies_and_selector_allows_exactly_its_path(host: FelixHost) -> None:
    web, db, other = wl(host, "web"), wl(host, "db"), wl(host, "other")
    host.lab.apply(DB_POLICY)
    eventually(lambda: not host.probe(other, db), "default deny once a policy selects db")
    assert host.probe(web, db, 80)
    assert not host.probe(web, db, 81)
    assert not host.probe(web, db, 80, "udp")
    # The policy is ingress-only and selects only db: everything else keeps its profile.
    assert host.probe(db, web, 80)
    assert host.probe(other, web, 81)


def test_unknown_workload_interface_is_dropped(host: FelixHost) -> None:
    web = wl(host, "web")
    ghost = host.add_workload("ghost", endpoint=False)  # a veth felix knows no endpoint for
    consistently(lambda: not host.probe(web, ghost), "web -> ghost dropped", duration=1.0)
    assert not host.probe(ghost, web)
    counters = host.iptables("-L", "cali-from-wl-dispatch", "-v", "-x", "-n")
    assert any(
        "Unknown interface" in line and line.split()[0] != "0" for line in counters.splitlines()
    )


def test_spoofed_source_is_dropped_in_raw(host: FelixHost) -> None:
    web, db = wl(host, "web"), wl(host, "db")
    spoofed = wl(host, "other").ip  # an address web does not own
    web.run(["ip", "addr", "add", f"{spoofed}/32", "dev", "eth0"])
    try:
        before = _rpf_drops(host)
        assert _connect_from(web, web.ip, db.ip) == 0  # control: its own address works
        assert _connect_from(web, spoofed, db.ip) != 0
        assert _rpf_drops(host) > before
    finally:
        web.run(["ip", "addr", "del", f"{spoofed}/32", "dev", "eth0"])


def test_workload_to_host_follows_default_endpoint_to_host_action(host: FelixHost) -> None:
    web = wl(host, "web")
    ready = host.lab.pm.pidfile("hostsrv").with_suffix(".ready")
    argv = [sys.executable, "-m", "calico.lab.server", "--name", "host", "--tcp", "8080",
            "--ready-file", str(ready)]  # fmt: skip
    host.lab.pm.start("hostsrv", host.host.netns, argv, ready_file=ready)
    assert not host.probe(web, host.host.ip, 8080)  # default: DROP
    # A FelixConfiguration change makes felix exit for calico-node to restart it.
    config = resource("FelixConfiguration", "default", {"defaultEndpointToHostAction": "Accept"})
    host.lab.apply(config)
    assert host.felix is not None
    eventually(lambda: not host.felix.running, "felix to exit on the config change")  # type: ignore[union-attr]
    assert host.felix.proc.returncode == EXIT_CONFIG_CHANGED
    host.start_felix(FELIX_ENV)
    eventually(lambda: host.probe(web, host.host.ip, 8080), "workload -> host accepted")
    host.lab.delete("FelixConfiguration", "default")
    eventually(lambda: not host.felix.running, "felix to exit again")  # type: ignore[union-attr]
    host.start_felix(FELIX_ENV)
    eventually(lambda: not host.probe(web, host.host.ip, 8080), "workload -> host dropped again")


def test_iptables_drift_is_repaired_within_the_refresh_interval(host: FelixHost) -> None:
    db, other = wl(host, "db"), wl(host, "other")
    _deny_other_to_db(host)
    hook = next(r for r in host.iptables("-S", "FORWARD").splitlines() if "-j cali-FORWARD" in r)
    assert host.felix is not None
    host.felix.proc.send_signal(signal.SIGSTOP)  # freeze felix so the drift is observable
    try:
        host.iptables("-D", *shlex.split(hook)[1:])  # nothing polices forwarded traffic now
        assert host.probe(other, db)
    finally:
        host.felix.proc.send_signal(signal.SIGCONT)
    eventually(lambda: hook in host.iptables("-S", "FORWARD"), "the FORWARD hook restored", 6)
    assert not host.probe(other, db)


def test_route_drift_is_repaired(host: FelixHost) -> None:
    db = wl(host, "db")
    host.run("ip", "route", "del", f"{db.ip}/32")
    eventually(lambda: f"{db.ip} dev {db.host_ifname} proto 80" in host.run("ip", "route"),
               "the workload route restored", 6)  # fmt: skip


def test_status_keys_and_health(host: FelixHost) -> None:
    prefix = "/calico/felix/v2/no-region/host/host1/"
    status = host.lab.get_raw(prefix + "status")
    assert status is not None
    assert set(status) == {"time", "uptime", "first_update"}
    assert host.lab.get_raw(prefix + "last_reported_status") is not None
    db_key = prefix + "workload/k8s/default%2fdb/endpoint/eth0"
    eventually(lambda: host.lab.get_raw(db_key) == {"status": "up"}, "db's status up")
    assert host.health("/readiness") == (200, _healthy(True))
    assert host.health("/liveness")[0] == 200
    assert host.health("/nonsense")[0] == 404
    metrics = _metrics(host)
    assert "felix_int_dataplane_apply_time_seconds_count" in metrics
    assert "felix_active_local_endpoints 3.0" in metrics  # web, db, other (ghost has none)


def test_removed_endpoint_loses_its_status_key(host: FelixHost) -> None:
    temp = host.add_workload("temp")
    key = "/calico/felix/v2/no-region/host/host1/workload/k8s/default%2ftemp/endpoint/eth0"
    eventually(lambda: host.lab.get_raw(key) == {"status": "up"}, "temp's status up")
    host.lab.delete("WorkloadEndpoint", "host1-k8s-temp-eth0", "default")
    eventually(lambda: host.lab.get_raw(key) is None, "temp's status key deleted")
    assert not host.probe(wl(host, "web"), temp)  # and its interface is unknown again


def test_restart_keeps_established_connections_and_never_opens(host: FelixHost) -> None:
    web, db, other = wl(host, "web"), wl(host, "db"), wl(host, "other")
    _deny_other_to_db(host)
    ready = host.lab.pm.pidfile("echo").with_suffix(".ready")
    host.lab.pm.start("echo", db.netns, [sys.executable, "-c", ECHO_SERVER, str(ready)],
                      ready_file=ready)  # fmt: skip
    # db's policy must let web in on 9000 for the connection to start.
    allow_9000 = [{"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'web'"},
                   "destination": {"ports": [9000]}}]  # fmt: skip
    policy = resource("GlobalNetworkPolicy", "db-echo", {"selector": "role == 'db'",
                      "types": ["Ingress"], "ingress": allow_9000})  # fmt: skip
    host.lab.apply(policy)
    with _echo_client(web, db.ip) as talk:
        assert talk("hello") == "hello"
        counters = _rule_counters(host)
        assert len(counters) > 20
        with _watch_denied(host, other, db) as leaks:
            assert host.stop_felix() == 0
            assert talk("while-down") == "while-down"
            host.start_felix(FELIX_ENV)
            assert talk("after-restart") == "after-restart"
        assert leaks == [], "the denied path other -> db opened during the restart"
    # The new felix found nothing to change: no rule was rewritten (that resets its counters).
    after = _rule_counters(host)
    assert all(after.get(rule, -1) >= packets for rule, packets in counters.items())
    host.lab.delete("GlobalNetworkPolicy", "db-echo")


# --- helpers ----------------------------------------------------------------------------------


def _deny_other_to_db(host: FelixHost) -> None:
    """Make sure the db policy is in force (tests may run alone)."""
    host.lab.apply(DB_POLICY)
    eventually(lambda: not host.probe(wl(host, "other"), wl(host, "db")), "other -> db denied")


def _healthy(ready: bool) -> dict[str, Any]:
    component = {"live": True, "ready": ready}
    return {
        "live": True,
        "ready": ready,
        "components": {"calculation-graph": component, "dataplane": component},
    }


def _metrics(host: FelixHost) -> str:
    with entered(str(netns.NETNS_DIR / host.host.netns)):
        url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())


def _rule_counters(host: FelixHost) -> dict[str, int]:
    """Packet counter of every felix rule in filter, by its ``cali:`` hash."""
    counters = {}
    for line in host.run("iptables-save", "-c", "-t", "filter").splitlines():
        found = re.match(r'\[(\d+):\d+\] -A \S+ .*"cali:([\w-]+)"', line)
        if found:
            counters[found.group(2)] = int(found.group(1))
    return counters


def _rpf_drops(host: FelixHost) -> int:
    out = host.iptables("-t", "raw", "-L", "cali-PREROUTING", "-v", "-x", "-n")
    return sum(int(line.split()[0]) for line in out.splitlines() if "rpfilter" in line)


def _connect_from(src: Workload, source_ip: str, dst_ip: str) -> int:
    return src.run([sys.executable, "-c", SPOOF_CLIENT, source_ip, dst_ip], check=False).returncode


@contextlib.contextmanager
def _echo_client(src: Workload, dst_ip: str) -> Iterator[Callable[[str], str]]:
    """A TCP connection from ``src`` to the echo server, kept open for the block;
    yields ``talk(line) -> echoed line`` ("" once the connection is broken)."""
    argv = ["ip", "netns", "exec", src.netns, sys.executable, "-c", ECHO_CLIENT, dst_ip]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def talk(line: str) -> str:
        stdin.write(line + "\n")
        stdin.flush()
        return stdout.readline().strip()

    try:
        yield talk
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _watch_denied(host: FelixHost, src: Workload, dst: Workload) -> Iterator[list[float]]:
    """Probe a denied path over and over in the background; yields the times it got through."""
    leaks: list[float] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            if host.probe(src, dst):
                leaks.append(time.monotonic())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield leaks
    finally:
        stop.set()
        thread.join()
