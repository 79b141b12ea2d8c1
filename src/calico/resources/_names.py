"""Name and label syntax checks (Kubernetes and Calico naming rules).

Each ``*_problem`` function returns None for a good value or a short reason
for a bad one, so callers can attach the reason to the right field.
Sources: libcalico-go ``lib/validator/v3/validator.go`` (name regexes) and
k8s.io/apimachinery ``util/validation`` (qualified names, label values, port
names), which Calico applies to metadata.
"""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + r")*"

DNS_LABEL_RE = re.compile(f"^{_LABEL}$")
DNS_SUBDOMAIN_RE = re.compile(f"^{_SUBDOMAIN}$")
# NetworkPolicy: a label, label.label, or a converted Kubernetes / OpenStack
# policy name (knp.default.<subdomain>, ossg.default.<subdomain>).
NETWORK_POLICY_NAME_RE = re.compile(
    f"^(({_LABEL})(\\.{_LABEL})?|((knp|ossg)\\.default\\.({_SUBDOMAIN})))$"
)
# GlobalNetworkPolicy: a label with at most one dot.
GLOBAL_NETWORK_POLICY_NAME_RE = re.compile(f"^({_LABEL}\\.)?{_LABEL}$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_CONTAINER_ID_RE = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_INTERFACE_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
_PORT_NAME_RE = re.compile(r"^[-a-z0-9]+$")

SUBDOMAIN_MAX = 253
LABEL_MAX = 63


def subdomain_problem(name: str) -> str | None:
    """Most resource names: a DNS-1123 subdomain of at most 253 characters."""
    if not name:
        return "must not be empty"
    if len(name) > SUBDOMAIN_MAX:
        return f"must be at most {SUBDOMAIN_MAX} characters"
    if not DNS_SUBDOMAIN_RE.match(name):
        return (
            "must consist of lower case alphanumeric characters, '-' or '.', and start "
            "and end with an alphanumeric character"
        )
    return None


def label_problem(name: str) -> str | None:
    """Tier names and namespaces: a DNS-1123 label of at most 63 characters."""
    if not name:
        return "must not be empty"
    if len(name) > LABEL_MAX:
        return f"must be at most {LABEL_MAX} characters"
    if not DNS_LABEL_RE.match(name):
        return (
            "must consist of lower case alphanumeric characters or '-', and start "
            "and end with an alphanumeric character"
        )
    return None


def qualified_name_problem(key: str) -> str | None:
    """A label or annotation key: ``[prefix/]name`` (k8s IsQualifiedName)."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or subdomain_problem(prefix)):
        return "prefix must be a DNS-1123 subdomain"
    if not name:
        return "name part must not be empty"
    if len(name) > LABEL_MAX:
        return f"name part must be at most {LABEL_MAX} characters"
    if not _QUALIFIED_NAME_RE.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and "
            "start and end with an alphanumeric character"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """A label value: empty, or a qualified-name-like token of <= 63 chars."""
    if len(value) > LABEL_MAX:
        return f"must be at most {LABEL_MAX} characters"
    if value and not _QUALIFIED_NAME_RE.match(value):
        return (
            "must consist of alphanumeric characters, '-', '_' or '.', and start and "
            "end with an alphanumeric character"
        )
    return None


def port_name_problem(name: str) -> str | None:
    """A named port (k8s IsValidPortName): IANA service-name syntax."""
    if not name or len(name) > 15:
        return "port name must be 1 to 15 characters"
    if not _PORT_NAME_RE.match(name):
        return "port name must contain only lower case alphanumeric characters or '-'"
    if not re.search("[a-z]", name):
        return "port name must contain at least one letter"
    if "--" in name or name.startswith("-") or name.endswith("-"):
        return "port name must not begin or end with '-' nor contain '--'"
    return None


def interface_problem(name: str, *, allow_wildcard: bool = True) -> str | None:
    """A Linux interface name (<= 15 chars), or ``*`` meaning all interfaces."""
    if allow_wildcard and name == "*":
        return None
    if not _INTERFACE_RE.match(name):
        return "must be 1 to 15 characters of letters, digits, '_', '.' or '-'"
    return None


def container_id_problem(value: str) -> str | None:
    if not _CONTAINER_ID_RE.match(value):
        return "must be alphanumeric characters or '-', starting and ending alphanumeric"
    return None
