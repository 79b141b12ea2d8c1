"""Kubernetes-style namespaces in a lab: the Calico profile ``kns.<namespace>``.

A lab has no Kubernetes API server, so a namespace exists exactly when its
profile does, written as Calico's Kubernetes datastore converts a
``Namespace`` (its labels become the profile's ``pcns.<key>`` labels, which
its pods inherit). ``up`` creates ``default``, as every Kubernetes cluster
has one; pods may only be created in a namespace that exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from calico.errors import ConfigError, NotFoundError
from calico.lab.store import open_client

if TYPE_CHECKING:
    from calico.lab.cluster import Lab


def add_namespace(lab: Lab, namespace: str, labels: Mapping[str, str]) -> None:
    """A Kubernetes Namespace: its profile ``kns.<ns>`` (created, or updated in place)."""
    from calico.k8s import namespace_to_profile
    from calico.resources import parse_resource

    raw = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": dict(labels)},
    }
    profile = parse_resource(namespace_to_profile(raw))
    with open_client(lab) as client:
        client.apply(profile)


def check_namespace(lab: Lab, namespace: str) -> None:
    """Pods need their namespace (its profile ``kns.<ns>``), as in Kubernetes."""
    from calico.k8s import profile_name

    with open_client(lab) as client:
        try:
            client.get("Profile", profile_name(namespace))
        except NotFoundError:
            raise ConfigError(
                f"namespace {namespace!r} does not exist in lab {lab.name} "
                f"(create it: calico lab namespace add {namespace})"
            ) from None
