"""Kubernetes manifests through calicoctl create/apply/get/delete, end to end in-process.

calicoctl calls ``calico.ctl.resources.convert_document`` on every raw
document; these tests install our converter there (a no-op once calicoctl
imports it itself) and drive the real CLI against an in-memory datastore.
"""

from __future__ import annotations

import pytest

import calico.ctl.resources
from calico.k8s import convert_document
from calico.resources import NetworkPolicy, Profile
from tests.unit.ctl.conftest import Ctl

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: x
  labels: {team: blue}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-blue
  namespace: x
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: blue}}
    ports:
    - port: 80
"""

DEFAULT_NS_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}}
"""


@pytest.fixture
def ctl(monkeypatch: pytest.MonkeyPatch) -> Ctl:
    monkeypatch.setattr(calico.ctl.resources, "convert_document", convert_document)
    return Ctl()


def test_apply_stores_profile_and_policy(ctl: Ctl) -> None:
    assert ctl.ok("apply", "-f", "-", stdin=MANIFEST) == "Successfully applied 2 resource(s)\n"
    profile = ctl.client.get("Profile", "kns.x")
    assert isinstance(profile, Profile)
    assert profile.spec.labels_to_apply["pcns.team"] == "blue"
    policy = ctl.client.get("NetworkPolicy", "knp.default.allow-blue", "x")
    assert isinstance(policy, NetworkPolicy)
    assert policy.spec.order == 1000
    assert policy.spec.selector == "projectcalico.org/orchestrator == 'k8s' && app == 'web'"
    assert policy.spec.ingress[0].source.namespace_selector == "team == 'blue'"


def test_apply_twice_updates(ctl: Ctl) -> None:
    ctl.ok("apply", "-f", "-", stdin=MANIFEST)
    ctl.ok("apply", "-f", "-", stdin=MANIFEST.replace("port: 80", "port: 81"))
    policy = ctl.client.get("NetworkPolicy", "knp.default.allow-blue", "x")
    assert policy.to_dict()["spec"]["ingress"][0]["destination"]["ports"] == [81]


def test_namespace_flag_applies_to_policy_without_namespace(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", "-n", "y", stdin=DEFAULT_NS_POLICY)
    assert [p.namespace for p in ctl.client.list("NetworkPolicy")] == ["y"]


def test_delete_by_the_same_manifest(ctl: Ctl) -> None:
    ctl.ok("apply", "-f", "-", stdin=MANIFEST)
    assert ctl.ok("delete", "-f", "-", stdin=MANIFEST).startswith("Successfully deleted 2")
    assert ctl.client.list("Profile") == []
    assert ctl.client.list("NetworkPolicy") == []


def test_invalid_manifest_writes_nothing(ctl: Ctl) -> None:
    bad = MANIFEST.replace("port: 80", "port: 80\n      protocol: ICMP")
    result = ctl.fails("apply", "-f", "-", stdin=bad)
    assert "networking.k8s.io/v1 NetworkPolicy(x/allow-blue): field " in result.stderr
    assert "spec.ingress[0].ports[0].protocol: must be one of TCP, UDP, SCTP" in result.stderr
    assert ctl.client.list("Profile") == []
