"""Small YAML manifests shared by the calicoctl tests."""

from __future__ import annotations


def pool_yaml(name: str, cidr: str, extra: str = "") -> str:
    return (
        "apiVersion: projectcalico.org/v3\n"
        "kind: IPPool\n"
        f"metadata:\n  name: {name}\n"
        f"spec:\n  cidr: {cidr}\n{extra}"
    )


def policy_yaml(name: str, namespace: str = "", selector: str = "all()") -> str:
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return (
        "apiVersion: projectcalico.org/v3\n"
        "kind: NetworkPolicy\n"
        f"metadata:\n  name: {name}\n{ns}"
        f"spec:\n  selector: {selector}\n  ingress:\n  - action: Allow\n"
    )


def docs(*documents: str) -> str:
    return "---\n".join(documents)
