"""A workload's metadata as users type it: labels and named ports.

``--labels k=v,k2=v2`` and ``calico lab workload label NAME k=v k2-`` (kubectl
label's syntax) are checked with Calico's own label rules, so a bad key or
value is refused with a one-line message before anything is created.
``--port NAME=PORT/PROTO`` declares a named port a policy can refer to; the
pod's WorkloadEndpoint carries it, and its workload server listens on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from calico.errors import ConfigError, ValidationError

_PORT_SPEC = re.compile(
    r"(?P<name>[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?)=(?P<port>\d+)/(?P<proto>\w+)"
)
_PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True)
class NamedPort:
    """A container port a policy can name (``--port http=8080/tcp``)."""

    name: str
    port: int
    protocol: str  # tcp | udp | sctp

    @classmethod
    def parse(cls, text: str) -> NamedPort:
        match = _PORT_SPEC.fullmatch(text.strip().lower())
        if match is None or match["proto"] not in _PROTOCOLS:
            raise ConfigError(
                f"--port must be NAME=PORT/PROTO with PROTO one of {', '.join(_PROTOCOLS)} "
                f"and NAME a lowercase IANA service name (value {text!r})"
            )
        port = int(match["port"])
        if not 0 < port < 65536:
            raise ConfigError(f"--port: port must be between 1 and 65535 (value {text!r})")
        return cls(match["name"], port, match["proto"])

    def to_cni(self) -> dict[str, Any]:
        return {"name": self.name, "port": self.port, "protocol": self.protocol.upper()}


def parse_labels(text: str, option: str = "--labels") -> dict[str, str]:
    """``k=v,k2=v2`` -> dict; keys and values validated as Calico validates labels."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"{option}: {item!r} is not KEY=VALUE")
        labels[key] = value
    check_labels(labels, option)
    return labels


def check_labels(labels: Mapping[str, str], option: str) -> None:
    """ConfigError naming ``option`` unless Calico would accept ``labels``."""
    # Calico's label rules live in the resource model: a throwaway
    # GlobalNetworkSet (a kind with no required fields) applies them.
    from calico.resources import API_VERSION, parse_resource

    doc = {
        "apiVersion": API_VERSION,
        "kind": "GlobalNetworkSet",
        "metadata": {"name": "labels", "labels": dict(labels)},
    }
    try:
        parse_resource(doc)
    except ValidationError as exc:
        raise ConfigError(f"{option}: {exc.reason}") from None


def apply_label_changes(labels: Mapping[str, str], changes: Sequence[str]) -> dict[str, str]:
    """``k=v`` sets, ``k-`` removes (kubectl label's syntax); the new labels."""
    result = dict(labels)
    for change in changes:
        if change.endswith("-") and "=" not in change:
            key = change[:-1]
            if key not in result:
                raise ConfigError(f"label {key!r} is not set (labels: {_show(result)})")
            del result[key]
        elif "=" in change:
            key, _, value = change.partition("=")
            check_labels({key: value}, "label")  # only what the user sets: the rest is Calico's
            result[key] = value
        else:
            raise ConfigError(f"label change must be KEY=VALUE or KEY- (value {change!r})")
    return result


def _show(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"
