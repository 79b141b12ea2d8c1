"""Kubernetes NetworkPolicy ingress semantics, checked with real probes (TCP 80).

Pods x/a .. z/c carry ``pod: <a|b|c>``; namespaces x, y, z carry
``ns: <name>``.  Every case applies ``networking.k8s.io/v1`` YAML through
the calicoctl conversion path and compares a hand-written matrix with the
observed one; the ``cluster`` fixture removes the policies afterwards.
"""

from __future__ import annotations

import pytest

from tests.integration.k8s.cluster import K8sCluster
from tests.integration.k8s.matrix import ALL_ALLOWED, Grid

pytestmark = pytest.mark.root

DENY_INGRESS_X = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""


def x_a_allows(from_: str) -> str:
    """A policy selecting pod x/a, allowing ingress from the YAML peer list ``from_``."""
    return f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: allow-to-a, namespace: x}}
spec:
  podSelector: {{matchLabels: {{pod: a}}}}
  ingress:
  - from: {from_}
"""


def test_no_policy_everything_allowed(cluster: K8sCluster) -> None:
    cluster.expect(ALL_ALLOWED)


def test_default_deny_ingress_in_x(cluster: K8sCluster) -> None:
    cluster.apply(DENY_INGRESS_X)
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   X   X   .   .   .   .   .   .
            x/b  X   -   X   .   .   .   .   .   .
            x/c  X   X   -   .   .   .   .   .   .
            y/a  X   X   X   -   .   .   .   .   .
            y/b  X   X   X   .   -   .   .   .   .
            y/c  X   X   X   .   .   -   .   .   .
            z/a  X   X   X   .   .   .   -   .   .
            z/b  X   X   X   .   .   .   .   -   .
            z/c  X   X   X   .   .   .   .   .   -
        """)
    )


def test_deleting_the_policy_restores_reachability(cluster: K8sCluster) -> None:
    cluster.apply(DENY_INGRESS_X)
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   X   X   .   .   .   .   .   .
            x/b  X   -   X   .   .   .   .   .   .
            x/c  X   X   -   .   .   .   .   .   .
            y/a  X   X   X   -   .   .   .   .   .
            y/b  X   X   X   .   -   .   .   .   .
            y/c  X   X   X   .   .   -   .   .   .
            z/a  X   X   X   .   .   .   -   .   .
            z/b  X   X   X   .   .   .   .   -   .
            z/c  X   X   X   .   .   .   .   .   -
        """)
    )
    cluster.delete(DENY_INGRESS_X)
    cluster.expect(ALL_ALLOWED)


def test_allow_from_labelled_pods_in_the_same_namespace(cluster: K8sCluster) -> None:
    # A podSelector alone stays in the policy's namespace: y/b has pod=b too.
    cluster.apply(x_a_allows("[{podSelector: {matchLabels: {pod: b}}}]"))
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  .   -   .   .   .   .   .   .   .
            x/c  X   .   -   .   .   .   .   .   .
            y/a  X   .   .   -   .   .   .   .   .
            y/b  X   .   .   .   -   .   .   .   .
            y/c  X   .   .   .   .   -   .   .   .
            z/a  X   .   .   .   .   .   -   .   .
            z/b  X   .   .   .   .   .   .   -   .
            z/c  X   .   .   .   .   .   .   .   -
        """)
    )


def test_allow_from_namespace_by_label(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows("[{namespaceSelector: {matchLabels: {ns: y}}}]"))
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  X   -   .   .   .   .   .   .   .
            x/c  X   .   -   .   .   .   .   .   .
            y/a  .   .   .   -   .   .   .   .   .
            y/b  .   .   .   .   -   .   .   .   .
            y/c  .   .   .   .   .   -   .   .   .
            z/a  X   .   .   .   .   .   -   .   .
            z/b  X   .   .   .   .   .   .   -   .
            z/c  X   .   .   .   .   .   .   .   -
        """)
    )


def test_namespace_selector_match_expressions(cluster: K8sCluster) -> None:
    cluster.apply(
        x_a_allows(
            "[{namespaceSelector: {matchExpressions: "
            "[{key: ns, operator: NotIn, values: [x, y]}]}}]"
        )
    )
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  X   -   .   .   .   .   .   .   .
            x/c  X   .   -   .   .   .   .   .   .
            y/a  X   .   .   -   .   .   .   .   .
            y/b  X   .   .   .   -   .   .   .   .
            y/c  X   .   .   .   .   -   .   .   .
            z/a  .   .   .   .   .   .   -   .   .
            z/b  .   .   .   .   .   .   .   -   .
            z/c  .   .   .   .   .   .   .   .   -
        """)
    )


def test_pod_and_namespace_selector_in_one_peer_is_and(cluster: K8sCluster) -> None:
    cluster.apply(
        x_a_allows(
            "[{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: b}}}]"
        )
    )
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  X   -   .   .   .   .   .   .   .
            x/c  X   .   -   .   .   .   .   .   .
            y/a  X   .   .   -   .   .   .   .   .
            y/b  .   .   .   .   -   .   .   .   .
            y/c  X   .   .   .   .   -   .   .   .
            z/a  X   .   .   .   .   .   -   .   .
            z/b  X   .   .   .   .   .   .   -   .
            z/c  X   .   .   .   .   .   .   .   -
        """)
    )


def test_two_peers_are_or(cluster: K8sCluster) -> None:
    cluster.apply(
        x_a_allows(
            "[{namespaceSelector: {matchLabels: {ns: y}}}, {podSelector: {matchLabels: {pod: b}}}]"
        )
    )
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  .   -   .   .   .   .   .   .   .
            x/c  X   .   -   .   .   .   .   .   .
            y/a  .   .   .   -   .   .   .   .   .
            y/b  .   .   .   .   -   .   .   .   .
            y/c  .   .   .   .   .   -   .   .   .
            z/a  X   .   .   .   .   .   -   .   .
            z/b  X   .   .   .   .   .   .   -   .
            z/c  X   .   .   .   .   .   .   .   -
        """)
    )


def test_empty_namespace_selector_means_every_namespace(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows("[{namespaceSelector: {}, podSelector: {matchLabels: {pod: c}}}]"))
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  X   -   .   .   .   .   .   .   .
            x/c  .   .   -   .   .   .   .   .   .
            y/a  X   .   .   -   .   .   .   .   .
            y/b  X   .   .   .   -   .   .   .   .
            y/c  .   .   .   .   .   -   .   .   .
            z/a  X   .   .   .   .   .   -   .   .
            z/b  X   .   .   .   .   .   .   -   .
            z/c  .   .   .   .   .   .   .   .   -
        """)
    )


def test_two_policies_on_one_pod_add_up(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows("[{podSelector: {matchLabels: {pod: b}}}]"))
    cluster.apply("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-z-to-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: z}}}]
""")
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  .   -   .   .   .   .   .   .   .
            x/c  X   .   -   .   .   .   .   .   .
            y/a  X   .   .   -   .   .   .   .   .
            y/b  X   .   .   .   -   .   .   .   .
            y/c  X   .   .   .   .   -   .   .   .
            z/a  .   .   .   .   .   .   -   .   .
            z/b  .   .   .   .   .   .   .   -   .
            z/c  .   .   .   .   .   .   .   .   -
        """)
    )


def test_ip_block_with_except(cluster: K8sCluster) -> None:
    # 10.65.0.0/16 is the lab's pool: every pod, but for the two excepted.
    holes = ", ".join(f"{cluster.ip(pod)}/32" for pod in ("x/b", "y/b"))
    cluster.apply(x_a_allows(f"[{{ipBlock: {{cidr: 10.65.0.0/16, except: [{holes}]}}}}]"))
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  X   -   .   .   .   .   .   .   .
            x/c  .   .   -   .   .   .   .   .   .
            y/a  .   .   .   -   .   .   .   .   .
            y/b  X   .   .   .   -   .   .   .   .
            y/c  .   .   .   .   .   -   .   .   .
            z/a  .   .   .   .   .   .   -   .   .
            z/b  .   .   .   .   .   .   .   -   .
            z/c  .   .   .   .   .   .   .   .   -
        """)
    )


def test_pod_label_update_takes_effect(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows("[{podSelector: {matchLabels: {role: client}}}]"))
    cluster.expect(
        Grid.parse("""
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
        """)
    )
    cluster.set_labels("x/c", {"pod": "c", "role": "client"})
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  X   -   .   .   .   .   .   .   .
            x/c  .   .   -   .   .   .   .   .   .
            y/a  X   .   .   -   .   .   .   .   .
            y/b  X   .   .   .   -   .   .   .   .
            y/c  X   .   .   .   .   -   .   .   .
            z/a  X   .   .   .   .   .   -   .   .
            z/b  X   .   .   .   .   .   .   -   .
            z/c  X   .   .   .   .   .   .   .   -
        """)
    )
    # The policy no longer selects x/a once its label changes: open again.
    cluster.set_labels("x/a", {"pod": "a-moved"})
    cluster.expect(ALL_ALLOWED)


def test_namespace_label_update_takes_effect(cluster: K8sCluster) -> None:
    cluster.apply(x_a_allows("[{namespaceSelector: {matchLabels: {team: blue}}}]"))
    cluster.expect(
        Grid.parse("""
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
        """)
    )
    cluster.set_namespace_labels("z", {"ns": "z", "team": "blue"})
    cluster.expect(
        Grid.parse("""
                x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  -   .   .   .   .   .   .   .   .
            x/b  X   -   .   .   .   .   .   .   .
            x/c  X   .   -   .   .   .   .   .   .
            y/a  X   .   .   -   .   .   .   .   .
            y/b  X   .   .   .   -   .   .   .   .
            y/c  X   .   .   .   .   -   .   .   .
            z/a  .   .   .   .   .   .   -   .   .
            z/b  .   .   .   .   .   .   .   -   .
            z/c  .   .   .   .   .   .   .   .   -
        """)
    )
