"""Host endpoints, failsafe ports, workload-to-host traffic and anti-spoofing (sqlite).

REFERENCE 4.4 and 4.6, 2.13. Besides two workloads, the matrices involve:

* ``host``: host1's namespace itself, with a lab server on TCP 22, 179, 80,
  81 and UDP 80, reached at its fabric address (10.99.X.1);
* ``outside``: the lab's gateway namespace, another machine on the fabric
  (10.99.X.254), with a server on TCP 80 and 179 and a route to the
  workloads' block through host1.

==========  =============  =========================
workload    address        labels
==========  =============  =========================
a           10.65.1.2      name=a
b           10.65.1.3      name=b
==========  =============  =========================
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from calico.lab import netns
from calico.lab.procs import ProcessManager
from tests.integration.felix.conftest import FelixLab
from tests.integration.felix.matrix import Endpoint, PolicyHost, ProbeKey, run_probes

pytestmark = pytest.mark.root

A, B = "10.65.1.2", "10.65.1.3"
HOST_TCP = (22, 179, 80, 81)
OUTSIDE_TCP = (80, 179)


def start_server(
    pm: ProcessManager, ns: str, name: str, tcp: tuple[int, ...], udp: tuple[int, ...]
) -> None:
    """The lab's workload server (``calico.lab.server``), in any lab namespace."""
    ready = pm.pidfile(f"server-{name}").with_suffix(".ready")
    argv = [
        sys.executable,
        "-m",
        "calico.lab.server",
        "--name",
        name,
        "--ready-file",
        str(ready),
        "--tcp",
        ",".join(map(str, tcp)),
    ]
    if udp:
        argv += ["--udp", ",".join(map(str, udp))]
    pm.start(f"server-{name}", ns, argv, ready_file=ready)


@pytest.fixture(scope="module")
def module_host(felix_lab_factory: Callable[..., FelixLab]) -> PolicyHost:
    lab = felix_lab_factory(datastore="sqlite")
    ph = PolicyHost(lab.hosts["host1"])
    ph.add("a", A, labels={"name": "a"})
    ph.add("b", B, labels={"name": "b"})
    ph.add_canaries("10.65.1.4", "10.65.1.5")
    host = ph.host.host
    gw_netns = lab.fabric.gateway_netns
    netns.ip(gw_netns, "route", "replace", "10.65.1.0/26", "via", host.ip)
    start_server(lab.pm, host.netns, "host1", HOST_TCP, (80,))
    start_server(lab.pm, gw_netns, "outside", OUTSIDE_TCP, ())
    ph.endpoints["host"] = Endpoint(host.netns, host.ip, server="host1")
    ph.endpoints["outside"] = Endpoint(gw_netns, host.gateway, server="outside")
    ph.host.start_felix()
    return ph


@pytest.fixture
def ph(module_host: PolicyHost) -> Iterator[PolicyHost]:
    yield module_host
    module_host.reset()


def gnp(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def host_endpoint(ph: PolicyHost) -> dict[str, Any]:
    host = ph.host.host
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "HostEndpoint",
        "metadata": {"name": "host1-eth0", "labels": {"hep": "fabric"}},
        "spec": {"node": host.name, "interfaceName": host.ifname, "expectedIPs": [host.ip]},
    }


def outside_to_host(open_ports: set[tuple[int, str]]) -> dict[ProbeKey, bool]:
    services = [*((p, "tcp") for p in HOST_TCP), (80, "udp"), (0, "icmp")]
    return {
        ("outside", "host", port, proto): (port, proto) in open_ports for port, proto in services
    }


def test_baseline(ph: PolicyHost) -> None:
    ph.expect(
        {
            **outside_to_host(
                {(22, "tcp"), (179, "tcp"), (80, "tcp"), (81, "tcp"), (80, "udp"), (0, "icmp")}
            ),
            ("host", "outside", 80, "tcp"): True,
            ("host", "outside", 179, "tcp"): True,
            ("outside", "a", 80, "tcp"): True,
            ("host", "a", 80, "tcp"): True,
            # DefaultEndpointToHostAction is DROP: workloads cannot reach the host.
            ("a", "host", 80, "tcp"): False,
            ("a", "host", 0, "icmp"): False,
        },
        title="no host endpoint",
    )


def test_host_endpoint_failsafe_then_policy(ph: PolicyHost) -> None:
    # A host endpoint without policy or profile: only failsafe ports.
    ph.apply(host_endpoint(ph))
    forwarded_and_local = {
        # Forwarded traffic is not host endpoint traffic (no applyOnForward).
        ("outside", "a", 80, "tcp"): True,
        ("a", "outside", 80, "tcp"): True,
        ("a", "b", 80, "tcp"): True,
    }
    ph.expect(
        {
            **outside_to_host({(22, "tcp"), (179, "tcp")}),
            ("host", "outside", 179, "tcp"): True,  # failsafe outbound
            ("host", "outside", 80, "tcp"): False,
            **forwarded_and_local,
        },
        title="host endpoint, no policy",
    )
    ph.apply(
        gnp(
            "hep-in-80",
            {
                "selector": "hep == 'fabric'",
                "types": ["Ingress"],
                "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}],
            },
        ),
    )
    ph.expect(
        {
            **outside_to_host({(22, "tcp"), (179, "tcp"), (80, "tcp")}),
            # Egress is still governed by nothing: dropped but for failsafe.
            ("host", "outside", 179, "tcp"): True,
            ("host", "outside", 80, "tcp"): False,
            **forwarded_and_local,
        },
        title="host endpoint, ingress TCP 80 allowed",
    )
    ph.apply(
        gnp(
            "hep-out",
            {"selector": "hep == 'fabric'", "types": ["Egress"], "egress": [{"action": "Allow"}]},
        )
    )
    ph.expect(
        {
            **outside_to_host({(22, "tcp"), (179, "tcp"), (80, "tcp")}),
            ("host", "outside", 80, "tcp"): True,
            **forwarded_and_local,
        },
        title="host endpoint, egress allowed",
    )


def test_host_endpoint_by_expected_ip_and_profile(ph: PolicyHost) -> None:
    # No interfaceName: felix finds the interface that holds an expected IP.
    hep = host_endpoint(ph)
    del hep["spec"]["interfaceName"]
    ph.apply(hep)
    ph.expect(
        {
            **outside_to_host({(22, "tcp"), (179, "tcp")}),
            ("host", "outside", 80, "tcp"): False,
            ("outside", "a", 80, "tcp"): True,
        },
        title="host endpoint by expectedIPs, no policy",
    )
    # A host endpoint's profiles apply when no policy does.
    hep["spec"]["profiles"] = ["allow-all"]
    ph.apply(hep)
    ph.expect(
        {
            **outside_to_host(
                {(22, "tcp"), (179, "tcp"), (80, "tcp"), (81, "tcp"), (80, "udp"), (0, "icmp")}
            ),
            ("host", "outside", 80, "tcp"): True,
        },
        title="host endpoint with profile allow-all",
    )


def test_do_not_track_deny_overrides_normal_allow(ph: PolicyHost) -> None:
    ph.apply(
        host_endpoint(ph),
        gnp(
            "hep-open",
            {
                "selector": "hep == 'fabric'",
                "types": ["Ingress", "Egress"],
                "ingress": [{"action": "Allow"}],
                "egress": [{"action": "Allow"}],
            },
        ),
    )
    ph.expect(
        outside_to_host(
            {(22, "tcp"), (179, "tcp"), (80, "tcp"), (81, "tcp"), (80, "udp"), (0, "icmp")}
        ),
        title="host endpoint, all allowed",
    )
    ph.apply(
        gnp(
            "hep-untracked",
            {
                "selector": "hep == 'fabric'",
                "doNotTrack": True,
                "applyOnForward": True,
                "order": 10,
                "types": ["Ingress"],
                "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": [81]}}],
            },
        ),
    )
    # The untracked deny acts in the raw table; what it does not match goes on
    # to the normal policy, which still allows it.
    ph.expect(
        outside_to_host({(22, "tcp"), (179, "tcp"), (80, "tcp"), (80, "udp"), (0, "icmp")}),
        title="untracked deny TCP 81",
    )


def test_host_to_workload_is_not_policed(ph: PolicyHost) -> None:
    ph.apply(gnp("a-closed", {"selector": "name == 'a'", "types": ["Ingress"]}))
    ph.expect(
        {
            ("b", "a", 80, "tcp"): False,
            ("outside", "a", 80, "tcp"): False,  # forwarded: a's ingress policy applies
            ("host", "a", 80, "tcp"): True,
            ("host", "a", 80, "udp"): True,
            ("host", "a", 0, "icmp"): True,
            ("b", "host", 80, "tcp"): False,  # (DefaultEndpointToHostAction DROP)
        },
        title="a closed to workloads, open to its host",
    )


@pytest.fixture
def restore_felix(module_host: PolicyHost) -> Iterator[None]:
    yield
    module_host.host.restart_felix()


@pytest.mark.usefixtures("restore_felix")
def test_default_endpoint_to_host_action(ph: PolicyHost) -> None:
    to_host: dict[ProbeKey, bool] = {
        ("a", "host", 80, "tcp"): True,
        ("a", "host", 81, "tcp"): True,
        ("a", "host", 80, "udp"): True,
        ("a", "host", 0, "icmp"): True,
        ("a", "b", 80, "tcp"): True,
    }
    ph.host.restart_felix({"FELIX_DEFAULTENDPOINTTOHOSTACTION": "ACCEPT"})
    ph.expect(to_host, title="ACCEPT")
    # The workload's egress policy runs before the default action.
    ph.apply(
        gnp(
            "a-egress",
            {
                "selector": "name == 'a'",
                "types": ["Egress"],
                "egress": [
                    {"action": "Deny", "protocol": "TCP", "destination": {"ports": [81]}},
                    {"action": "Allow"},
                ],
            },
        ),
    )
    ph.expect(
        {**to_host, ("a", "host", 81, "tcp"): False, ("a", "b", 81, "tcp"): False},
        title="ACCEPT, egress denies TCP 81",
    )
    ph.delete("GlobalNetworkPolicy", "a-egress")
    # RETURN: on to the rest of INPUT, which accepts (nothing else is there).
    ph.host.restart_felix({"FELIX_DEFAULTENDPOINTTOHOSTACTION": "RETURN"})
    ph.expect(to_host, title="RETURN")
    ph.host.restart_felix({"FELIX_DEFAULTENDPOINTTOHOSTACTION": "DROP"})
    ph.expect({key: key[1] != "host" for key in to_host}, title="DROP")


# --- anti-spoofing ---------------------------------------------------------------------------

LISTEN_PORT = 9999
# Runs in the receiving workload: records the source address of every UDP
# datagram until a line arrives on stdin, then prints them as JSON.
LISTENER = r"""
import json, select, socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
seen = set()
while True:
    ready, _, _ = select.select([sock, sys.stdin], [], [])
    if sock in ready:
        seen.add(sock.recvfrom(2048)[1][0])
    if sys.stdin in ready:
        break
print(json.dumps(sorted(seen)))
"""


def sources_seen_by_b(ph: PolicyHost, binds: list[str]) -> set[str]:
    """Send UDP datagrams from ``a`` with each source address; which reach ``b``?

    One-way on purpose: the replies to a spoofed address could not be routed
    back to ``a``, so only arrival at ``b`` can be observed.
    """
    b = ph.host.workloads["b"]
    listener = subprocess.Popen(
        netns.exec_argv(b.netns, [sys.executable, "-c", LISTENER, str(LISTEN_PORT)]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        a = ph.endpoints["a"]
        senders = {f"a@{ip}": Endpoint(a.netns, a.ip, bind=ip) for ip in binds}
        targets = {**senders, "b": Endpoint(b.netns, b.ip)}
        keys: list[ProbeKey] = [(s, "b", LISTEN_PORT, "udp") for s in senders] * 2
        run_probes(targets, keys, timeout=0.3)  # no replies: each probe times out
        out, _ = listener.communicate("stop\n", timeout=10)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
    return set(json_list(out))


def json_list(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list)
    return [str(v) for v in value]


def test_anti_spoofing(ph: PolicyHost) -> None:
    binds = [A, "10.65.1.50", "10.65.1.51"]
    ph.sync()
    assert sources_seen_by_b(ph, binds) == {A}, "spoofed sources must be dropped"
    ph.apply(ph.wep("a", labels={"name": "a"}, allowSpoofedSourcePrefixes=["10.65.1.50/32"]))
    ph.sync()
    assert sources_seen_by_b(ph, binds) == {A, "10.65.1.50"}, "allowSpoofedSourcePrefixes"
