"""Kubernetes name syntax, as the API server checks it before storing an object.

Source: k8s.io/apimachinery ``pkg/util/validation/validation.go``
(IsDNS1123Label, IsDNS1123Subdomain, IsQualifiedName, IsValidLabelValue,
IsValidPortName).  We check these ourselves because a bad label key would
otherwise only surface later as an unreadable selector syntax error.

Each function raises :class:`calico.errors.ValidationError` naming ``path``.
"""

from __future__ import annotations

import re

from calico.k8s._raw import fail

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL_RE = re.compile(f"^{_LABEL}$")
_DNS_SUBDOMAIN_RE = re.compile(f"^{_LABEL}(\\.{_LABEL})*$")
_QUALIFIED_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PORT_NAME_RE = re.compile(r"^[-a-z0-9]+$")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253


def dns_label(name: str, path: str) -> None:
    """A namespace name: lower-case alphanumerics and '-', at most 63 characters."""
    if len(name) > LABEL_MAX or not _DNS_LABEL_RE.match(name):
        fail(
            "must be a DNS-1123 label (at most 63 lower case alphanumeric characters "
            "or '-', starting and ending with an alphanumeric character)",
            path,
            name,
        )


def dns_subdomain(name: str, path: str) -> None:
    """An object name: DNS-1123 labels joined by '.', at most 253 characters."""
    if len(name) > SUBDOMAIN_MAX or not _DNS_SUBDOMAIN_RE.match(name):
        fail(
            "must be a DNS-1123 subdomain (lower case alphanumeric characters, '-' "
            "or '.', starting and ending with an alphanumeric character)",
            path,
            name,
        )


def label_key(key: str, path: str) -> None:
    """A label key: ``[prefix/]name``, prefix a DNS subdomain, name <= 63 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > SUBDOMAIN_MAX or not _DNS_SUBDOMAIN_RE.match(prefix)):
        fail("label key prefix must be a DNS-1123 subdomain", path, key)
    if not name or len(name) > LABEL_MAX or not _QUALIFIED_RE.match(name):
        fail(
            "label key name must be 1-63 alphanumeric characters, '-', '_' or '.', "
            "starting and ending with an alphanumeric character",
            path,
            key,
        )


def label_value(value: str, path: str) -> None:
    """A label value: empty, or <= 63 characters like a label key's name part."""
    if len(value) > LABEL_MAX or (value and not _QUALIFIED_RE.match(value)):
        fail(
            "label value must be at most 63 alphanumeric characters, '-', '_' or '.', "
            "starting and ending with an alphanumeric character",
            path,
            value,
        )


def labels(values: dict[str, str], path: str) -> None:
    """Every key and value of a label map."""
    for key, value in values.items():
        label_key(key, path)
        label_value(value, f"{path}.{key}")


def port_name(name: str, path: str) -> None:
    """A named port (IANA service name): 1-15 of [-a-z0-9], a letter, no '--'."""
    if (
        not 1 <= len(name) <= 15
        or not _PORT_NAME_RE.match(name)
        or not re.search("[a-z]", name)
        or "--" in name
        or name.startswith("-")
        or name.endswith("-")
    ):
        fail(
            "must be a port number 1-65535 or a port name (1-15 lower case "
            "alphanumerics or '-', with at least one letter, no '--', not starting "
            "or ending with '-')",
            path,
            name,
        )
