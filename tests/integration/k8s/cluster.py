"""A tiny Kubernetes cluster on a felix lab host: namespaces x, y, z with pods a, b, c.

Built on the felix harness (``tests/integration/felix/conftest.py``): one lab
host running the real calico-felix against a sqlite datastore.  Pods are lab
workloads (servers on TCP/UDP 80 and 81) whose WorkloadEndpoints look like
Calico's Kubernetes datastore shows a pod: orchestrator ``k8s``, namespace,
the pod's labels, profile ``kns.<ns>``, named ports.  Namespaces and
NetworkPolicies are ``v1`` / ``networking.k8s.io/v1`` YAML converted by
:func:`calico.k8s.convert_document` (calicoctl's hook) and written through
the Client, as ``calicoctl apply`` does.

Stale results are the classic trap of dataplane tests: a matrix probed
before Felix caught up can match by accident.  :meth:`K8sCluster.barrier`
rules that out: it flips a sentinel policy in namespace ``s`` (two pods no
test touches) and waits until the flip shows in the dataplane.  Felix
applies datastore changes in revision order, so once the sentinel write is
enforced, every earlier write is too.  ``expect`` runs a barrier first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from calico.errors import NotFoundError
from calico.k8s import convert_document
from calico.lab.workload import Workload
from calico.resources import load_documents
from tests.integration.felix.conftest import FelixHost
from tests.integration.felix.matrix import Endpoint, run_probes
from tests.integration.k8s.matrix import NAMESPACES, PAIRS, PODS, Grid

NAMED_PORTS = [
    {"name": f"serve-{port}-{proto.lower()}", "protocol": proto, "port": port}
    for port in (80, 81)
    for proto in ("TCP", "UDP")
]
SENTINEL_CLIENT, SENTINEL_SERVER = "s/client", "s/server"
PROBE_TIMEOUT = 1.0  # a blocked probe costs this much
SETTLE_TIMEOUT = 15.0

_SENTINEL_DENY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: sentinel, namespace: s}
spec: {podSelector: {matchLabels: {pod: server}}, policyTypes: [Ingress]}
"""


def base_pod_labels(pod: str) -> dict[str, str]:
    """``pod: a`` for x/a, as upstream's netpol tests label their pods."""
    return {"pod": pod.split("/")[1]}


def base_namespace_labels(namespace: str) -> dict[str, str]:
    return {"ns": namespace}


def namespace_manifest(name: str, labels: Mapping[str, str]) -> str:
    items = ", ".join(f"{key}: {value}" for key, value in labels.items())
    return f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{items}}}}}\n"


class K8sCluster:
    """The pods (``"x/a"`` -> lab workload) of one felix host, and what was applied."""

    def __init__(self, host: FelixHost) -> None:
        self.host = host
        self.workloads: dict[str, Workload] = {}
        self._policies: set[tuple[str, str]] = set()  # (namespace, name)
        self._relabelled: set[str] = set()  # pods ("x/a") and namespaces ("x")
        self._sentinel_denied = False

    def start(self) -> None:
        """Namespaces, pods (and the sentinel pair), then Felix."""
        for namespace in (*NAMESPACES, "s"):
            self.apply(namespace_manifest(namespace, base_namespace_labels(namespace)))
        for pod in (*PODS, SENTINEL_CLIENT, SENTINEL_SERVER):
            namespace, name = pod.split("/")
            self.workloads[pod] = self.host.add_workload(
                f"{namespace}-{name}",
                labels=base_pod_labels(pod),
                profiles=(f"kns.{namespace}",),
                namespace=namespace,
                ports=NAMED_PORTS,
            )
        self.host.start_felix()

    def ip(self, pod: str) -> str:
        return self.workloads[pod].ip

    # -- what calicoctl apply / delete -f would do ------------------------------
    def apply(self, manifest: str) -> None:
        docs = self._convert(manifest)
        self.host.lab.apply(*docs)
        for doc in docs:
            if doc["kind"] == "NetworkPolicy":
                self._policies.add((doc["metadata"]["namespace"], doc["metadata"]["name"]))

    def delete(self, manifest: str) -> None:
        for doc in self._convert(manifest):
            meta = doc["metadata"]
            self.host.lab.delete(doc["kind"], meta["name"], meta.get("namespace", ""))
            self._policies.discard((meta.get("namespace", ""), meta["name"]))

    @staticmethod
    def _convert(manifest: str) -> list[dict[str, Any]]:
        docs = [doc for raw in load_documents(manifest) for doc in convert_document(raw)]
        for doc in docs:
            if doc["kind"] == "NetworkPolicy":  # calicoctl's default for -n
                doc["metadata"].setdefault("namespace", "default")
        return docs

    # -- labels ---------------------------------------------------------------
    def set_labels(self, pod: str, labels: Mapping[str, str]) -> None:
        """Replace a pod's labels (what ``kubectl label pod`` leads to)."""
        namespace = pod.split("/")[0]
        doc = self.host.endpoint_doc(
            self.workloads[pod], dict(labels), (f"kns.{namespace}",), namespace, ports=NAMED_PORTS
        )
        self.host.lab.apply(doc)
        self._relabelled.add(pod)

    def set_namespace_labels(self, namespace: str, labels: Mapping[str, str]) -> None:
        self.apply(namespace_manifest(namespace, labels))
        self._relabelled.add(namespace)

    def reset(self) -> None:
        """Back to the baseline: no test policies, original labels."""
        for namespace, name in sorted(self._policies):
            try:
                self.host.lab.delete("NetworkPolicy", name, namespace)
            except NotFoundError:
                pass
        self._policies.clear()
        for changed in sorted(self._relabelled):
            if "/" in changed:
                self.set_labels(changed, base_pod_labels(changed))
            else:
                self.set_namespace_labels(changed, base_namespace_labels(changed))
        self._relabelled.clear()

    # -- probes -----------------------------------------------------------------
    def observe(self, port: int = 80, protocol: str = "tcp") -> Grid:
        """Probe every ordered pair of distinct pods at once."""
        endpoints = {pod: self._endpoint(pod) for pod in PODS}
        keys = [(src, dst, port, protocol) for src, dst in PAIRS]
        outcomes = run_probes(endpoints, keys, PROBE_TIMEOUT)
        return Grid.of((key[0], key[1]) for key in keys if outcomes[key].reachable)

    def expect(self, expected: Grid, port: int = 80, protocol: str = "tcp") -> None:
        """Assert the observed matrix is ``expected``, once Felix has caught up."""
        self.barrier()
        deadline = time.monotonic() + SETTLE_TIMEOUT
        observed = self.observe(port, protocol)
        # After the barrier everything is programmed; retrying only absorbs a
        # probe lost to scheduling on a busy two-CPU machine.
        while observed != expected and time.monotonic() < deadline:
            time.sleep(0.5)
            observed = self.observe(port, protocol)
        wrong = expected.differences(observed)
        assert not wrong, (
            f"{protocol}/{port} reachability differs in {len(wrong)} cells (marked !)\n"
            f"observed:\n{observed.render(wrong)}\nexpected:\n{expected.render()}"
        )

    def barrier(self) -> None:
        """Return once Felix enforces every datastore write made before this call."""
        deny = not self._sentinel_denied
        (self.apply if deny else self.delete)(_SENTINEL_DENY)
        self._policies.discard(("s", "knp.default.sentinel"))
        self._sentinel_denied = deny
        endpoints = {pod: self._endpoint(pod) for pod in (SENTINEL_CLIENT, SENTINEL_SERVER)}
        key = (SENTINEL_CLIENT, SENTINEL_SERVER, 80, "tcp")
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while run_probes(endpoints, [key], PROBE_TIMEOUT)[key].reachable == deny:
            assert time.monotonic() < deadline, f"Felix did not apply the sentinel (deny={deny})"
            time.sleep(0.1)

    def _endpoint(self, pod: str) -> Endpoint:
        wl = self.workloads[pod]
        return Endpoint(wl.netns, wl.ip, server=wl.name)
