"""Kubernetes NetworkPolicy egress semantics, checked with real probes.

Rows of the matrices are the clients: an egress policy shows as rows.
"""

from __future__ import annotations

import pytest

from tests.integration.k8s.cluster import K8sCluster
from tests.integration.k8s.matrix import ALL_ALLOWED, Grid

pytestmark = pytest.mark.root


def test_egress_deny_except_dns_like_udp(cluster: K8sCluster) -> None:
    # The usual "deny all egress but DNS", with UDP 81 standing in for 53.
    cluster.apply("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-dns-only, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{protocol: UDP, port: 81}]
""")
    rows_x_closed = Grid.parse("""
            x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  -   X   X   X   X   X   X   X   X
        x/b  X   -   X   X   X   X   X   X   X
        x/c  X   X   -   X   X   X   X   X   X
        y/a  .   .   .   -   .   .   .   .   .
        y/b  .   .   .   .   -   .   .   .   .
        y/c  .   .   .   .   .   -   .   .   .
        z/a  .   .   .   .   .   .   -   .   .
        z/b  .   .   .   .   .   .   .   -   .
        z/c  .   .   .   .   .   .   .   .   -
    """)
    cluster.expect(rows_x_closed, port=80, protocol="tcp")
    cluster.expect(rows_x_closed, port=80, protocol="udp")
    cluster.expect(ALL_ALLOWED, port=81, protocol="udp")


def test_egress_default_types_from_rules(cluster: K8sCluster) -> None:
    # No policyTypes and an egress rule: the API server's default makes this
    # Ingress + Egress, so y/a is also closed to everyone coming in.
    cluster.apply("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-to-z-only, namespace: y}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress:
  - to: [{namespaceSelector: {matchLabels: {ns: z}}}]
""")
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   X   .   .   .   .   .
            x/b  .   -   .   X   .   .   .   .   .
            x/c  .   .   -   X   .   .   .   .   .
            y/a  X   X   X   -   X   X   .   .   .
            y/b  .   .   .   X   -   .   .   .   .
            y/c  .   .   .   X   .   -   .   .   .
            z/a  .   .   .   X   .   .   -   .   .
            z/b  .   .   .   X   .   .   .   -   .
            z/c  .   .   .   X   .   .   .   .   -
        """)
    )


def test_egress_to_pods_in_another_namespace(cluster: K8sCluster) -> None:
    cluster.apply("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-to-z-c, namespace: y}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}
      podSelector: {matchLabels: {pod: c}}
""")
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  .   -   .   .   .   .   .   .   .
            x/c  .   .   -   .   .   .   .   .   .
            y/a  .   .   .   -   .   .   .   .   .
            y/b  X   X   X   X   -   X   X   X   .
            y/c  .   .   .   .   .   -   .   .   .
            z/a  .   .   .   .   .   .   -   .   .
            z/b  .   .   .   .   .   .   .   -   .
            z/c  .   .   .   .   .   .   .   .   -
        """)
    )


def test_egress_ip_block_with_except(cluster: K8sCluster) -> None:
    # 10.65.0.0/16 is the lab's pool: every pod, but for the excepted ones.
    holes = ", ".join(f"{cluster.ip(pod)}/32" for pod in ("x/a", "y/a", "y/b", "y/c"))
    cluster.apply(f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: c-to-pool-but-some, namespace: z}}
spec:
  podSelector: {{matchLabels: {{pod: c}}}}
  policyTypes: [Egress]
  egress:
  - to: [{{ipBlock: {{cidr: 10.65.0.0/16, except: [{holes}]}}}}]
""")
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  .   -   .   .   .   .   .   .   .
            x/c  .   .   -   .   .   .   .   .   .
            y/a  .   .   .   -   .   .   .   .   .
            y/b  .   .   .   .   -   .   .   .   .
            y/c  .   .   .   .   .   -   .   .   .
            z/a  .   .   .   .   .   .   -   .   .
            z/b  .   .   .   .   .   .   .   -   .
            z/c  X   .   .   X   X   X   .   .   -
        """)
    )


def test_egress_end_port_range(cluster: K8sCluster) -> None:
    cluster.apply("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-low-ports, namespace: z}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Egress]
  egress:
  - ports: [{protocol: TCP, port: 75, endPort: 80}]
""")
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  .   -   .   .   .   .   .   .   .
            x/c  .   .   -   .   .   .   .   .   .
            y/a  .   .   .   -   .   .   .   .   .
            y/b  .   .   .   .   -   .   .   .   .
            y/c  .   .   .   .   .   -   .   .   .
            z/a  .   .   .   .   .   .   -   .   .
            z/b  X   X   X   X   X   X   X   -   X
            z/c  .   .   .   .   .   .   .   .   -
        """),
        port=81,
    )
    cluster.expect(ALL_ALLOWED, port=80)
