"""Kubernetes ``v1 Namespace`` -> Calico Profile ``kns.<namespace>``.

Source: libcalico-go ``conversion.go`` ``NamespaceToProfile``.  The profile
does two jobs for every pod of the namespace (whose WorkloadEndpoints list
it in ``profiles``):

* its rules allow everything in both directions, so a pod that no
  NetworkPolicy selects is open, as Kubernetes requires;
* its ``labelsToApply`` are the namespace's labels re-keyed ``pcns.<key>``
  plus ``pcns.projectcalico.org/name: <namespace>``; the pods inherit them,
  which is how a rule's ``namespaceSelector`` (rewritten with the same
  prefix) matches pods by their namespace's labels.

Deliberate addition: the label ``kubernetes.io/metadata.name: <namespace>``,
which the API server sets on every Namespace it stores, is added when the
document lacks it (a real cluster's converter sees it on every namespace).

Only the metadata is used; ``spec`` (finalizers) and ``status`` are accepted
and ignored, so ``kubectl get ns x -o yaml`` output applies unchanged.
"""

from __future__ import annotations

from typing import Any

from calico.k8s import _names
from calico.k8s._raw import Raw, object_meta, only_fields, required_name, string_map
from calico.k8s.constants import (
    CALICO_API_VERSION,
    K8S_NAMESPACE_NAME_LABEL,
    NAME_LABEL,
    NAMESPACE_LABEL_PREFIX,
    NAMESPACE_PROFILE_PREFIX,
)

_TOP_LEVEL_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")


def profile_name(namespace: str) -> str:
    """``kns.<namespace>``: the profile standing for a namespace."""
    return NAMESPACE_PROFILE_PREFIX + namespace


def namespace_to_profile(raw: Raw) -> dict[str, Any]:
    """The Calico Profile document (``projectcalico.org/v3``) for a Namespace.

    Raises ValidationError naming the field for an invalid Namespace.
    """
    only_fields(raw, _TOP_LEVEL_FIELDS, "")
    meta = object_meta(raw)
    name = required_name(meta)
    _names.dns_label(name, "metadata.name")
    labels = string_map(meta.get("labels"), "metadata.labels")
    _names.labels(labels, "metadata.labels")
    return {
        "apiVersion": CALICO_API_VERSION,
        "kind": "Profile",
        "metadata": {"name": profile_name(name)},
        "spec": {
            "ingress": [{"action": "Allow"}],
            "egress": [{"action": "Allow"}],
            "labelsToApply": labels_to_apply(name, labels),
        },
    }


def labels_to_apply(name: str, labels: dict[str, str]) -> dict[str, str]:
    """The namespace's labels as its pods inherit them (``pcns.``-prefixed)."""
    effective = {K8S_NAMESPACE_NAME_LABEL: name, **labels}
    applied = {NAMESPACE_LABEL_PREFIX + key: value for key, value in sorted(effective.items())}
    applied[NAMESPACE_LABEL_PREFIX + NAME_LABEL] = name
    return applied
