"""Ports and protocols in Kubernetes NetworkPolicy, checked with real probes.

Every pod serves TCP and UDP on 80 and 81 and declares the named ports
``serve-80-tcp``, ``serve-81-tcp``, ``serve-80-udp``, ``serve-81-udp`` (as
upstream's netpol tests do).  A policy that allows some traffic is checked
first on traffic it blocks, so that an assertion on traffic it still allows
runs after the policy is known to be in force.
"""

from __future__ import annotations

import sys

import pytest

from calico.lab.probe import probe, sctp_supported
from tests.integration.k8s.cluster import K8sCluster
from tests.integration.k8s.matrix import ALL_ALLOWED, PODS, Grid

pytestmark = pytest.mark.root

# Ingress into x/a blocked for everyone, everything else open.
X_A_CLOSED = """
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  -   .   .   .   .   .   .   .   .
    x/b  X   -   .   .   .   .   .   .   .
    x/c  X   .   -   .   .   .   .   .   .
    y/a  X   .   .   -   .   .   .   .   .
    y/b  X   .   .   .   -   .   .   .   .
    y/c  X   .   .   .   .   -   .   .   .
    z/a  X   .   .   .   .   .   -   .   .
    z/b  X   .   .   .   .   .   .   -   .
    z/c  X   .   .   .   .   .   .   .   -
"""


def x_a_allows_ports(ports: str) -> str:
    """A policy selecting pod x/a, allowing ingress from anyone to the YAML ``ports``."""
    return f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: ports-of-a, namespace: x}}
spec:
  podSelector: {{matchLabels: {{pod: a}}}}
  ingress:
  - ports: {ports}
"""


def test_port_specific_allow(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows_ports("[{port: 80}]"))
    cluster.expect(Grid.parse(X_A_CLOSED), port=81)
    cluster.expect(ALL_ALLOWED, port=80)


def test_protocol_isolation_tcp_allow_does_not_allow_udp(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows_ports("[{port: 80, protocol: TCP}]"))
    cluster.expect(Grid.parse(X_A_CLOSED), port=80, protocol="udp")
    cluster.expect(ALL_ALLOWED, port=80, protocol="tcp")


def test_protocol_isolation_udp_allow_does_not_allow_tcp(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows_ports("[{port: 80, protocol: UDP}]"))
    cluster.expect(Grid.parse(X_A_CLOSED), port=80, protocol="tcp")
    cluster.expect(Grid.parse(X_A_CLOSED), port=81, protocol="udp")
    cluster.expect(ALL_ALLOWED, port=80, protocol="udp")


def test_named_port(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows_ports("[{port: serve-81-tcp}]"))
    cluster.expect(Grid.parse(X_A_CLOSED), port=80)
    cluster.expect(ALL_ALLOWED, port=81)


def test_named_udp_port_needs_its_protocol(cluster: K8sCluster) -> None:
    # serve-80-udp with the default protocol (TCP) names no TCP port: nothing opens.
    cluster.apply(x_a_allows_ports("[{port: serve-80-udp}]"))
    cluster.expect(Grid.parse(X_A_CLOSED), port=80, protocol="udp")
    cluster.apply(x_a_allows_ports("[{port: serve-80-udp, protocol: UDP}]"))
    cluster.expect(ALL_ALLOWED, port=80, protocol="udp")


def test_end_port_range(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows_ports("[{port: 81, endPort: 90}]"))
    cluster.expect(Grid.parse(X_A_CLOSED), port=80)
    cluster.expect(ALL_ALLOWED, port=81)


def test_sctp_allow_does_not_allow_tcp(cluster: K8sCluster) -> None:
    if not sctp_supported():
        pytest.skip("kernel has no SCTP: socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) fails")
    pm, server = cluster.host.lab.pm, cluster.workloads["x/a"]
    ready = pm.pidfile("sctp-x-a").with_suffix(".ready")
    argv = [sys.executable, "-m", "calico.lab.server", "--name", server.name, "--sctp", "80"]
    pm.start("sctp-x-a", server.netns, [*argv, "--ready-file", str(ready)], ready_file=ready)
    try:
        cluster.apply(x_a_allows_ports("[{port: 80, protocol: SCTP}]"))
        cluster.expect(Grid.parse(X_A_CLOSED), port=80, protocol="tcp")
        clients = [pod for pod in PODS if pod != "x/a"]
        reached = [
            pod for pod in clients if probe(cluster.workloads[pod].netns, server.ip, 80, "sctp")
        ]
        assert reached == clients
    finally:
        pm.stop("sctp-x-a")
