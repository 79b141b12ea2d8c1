"""Rule and EntityRule: the match criteria shared by policies and profiles.

Source: api ``policy_common.go`` (fields and CEL rules) and libcalico-go
``validator.go`` (``validateRule``, ``validateEntityRule``).  Paths passed
to ``fail`` are relative to the Rule, e.g. ``destination.ports[1]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from calico.resources._base import CalicoModel, fail, join_path
from calico.resources._meta import check_annotations
from calico.resources._net import ip_version
from calico.resources._numorstring import (
    Port,
    Protocol,
    port_range,
    protocol_number,
    protocol_supports_ports,
)
from calico.resources._types import MaskedCidr, Name, Selector

Action = Literal["Allow", "Deny", "Log", "Pass"]
_ICMP, _ICMPV6 = 1, 58
_CATCH_ALL = {4: "0.0.0.0/0", 6: "::/0"}


class ICMPFields(CalicoModel):
    """ICMP type and code; the kernel cannot match a code without a type."""

    type: Annotated[int, Field(ge=0, le=254)] | None = None
    code: Annotated[int, Field(ge=0, le=255)] | None = None

    @model_validator(mode="after")
    def _code_needs_type(self) -> Self:
        if self.code is not None and self.type is None:
            fail("ICMP code specified without an ICMP type", at="code", value=self.code)
        return self


class HTTPPath(CalicoModel):
    exact: Annotated[str, Field(max_length=1024)] = ""
    prefix: Annotated[str, Field(max_length=1024)] = ""

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if self.exact and self.prefix:
            fail("only one of 'exact' or 'prefix' may be set")
        path = self.exact or self.prefix
        if not path:
            fail("one of 'exact' or 'prefix' must be set")
        if not path.startswith("/") or re.search(r"[?# ]", path):
            fail("path must start with '/' and not contain '?', '#' or spaces", value=path)
        return self


class HTTPMatch(CalicoModel):
    """Application-layer match (only meaningful with an L7 dataplane)."""

    methods: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    paths: Annotated[list[HTTPPath], Field(max_length=20)] = Field(default_factory=list)

    @field_validator("methods")
    @classmethod
    def _unique(cls, methods: list[str]) -> list[str]:
        if len(set(methods)) != len(methods):
            raise ValueError("methods must not contain duplicates")
        return methods


class ServiceMatch(CalicoModel):
    """A Kubernetes Service, by name and namespace."""

    name: Name = ""
    namespace: Name = ""


class ServiceAccountMatch(CalicoModel):
    names: list[str] = Field(default_factory=list)
    selector: Selector = ""


class RuleMetadata(CalicoModel):
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, annotations: dict[str, str]) -> dict[str, str]:
        check_annotations(annotations)
        return annotations


class EntityRule(CalicoModel):
    """Match criteria for one end (source or destination) of a packet."""

    nets: Annotated[list[MaskedCidr], Field(max_length=256)] = Field(default_factory=list)
    selector: Selector = ""
    namespace_selector: Selector = ""
    services: ServiceMatch | None = None
    ports: Annotated[list[Port], Field(max_length=50)] = Field(default_factory=list)
    not_nets: Annotated[list[MaskedCidr], Field(max_length=256)] = Field(default_factory=list)
    not_selector: Selector = ""
    not_ports: Annotated[list[Port], Field(max_length=50)] = Field(default_factory=list)
    service_accounts: ServiceAccountMatch | None = None

    @model_validator(mode="after")
    def _combinations(self) -> Self:
        for field in ("selector", "not_selector"):
            text = getattr(self, field)
            if "global(" in text:
                fail(
                    "global() can only be used in namespaceSelector",
                    at=_camel(field),
                    value=text,
                )
        compact = re.sub(r"\s+", "", self.namespace_selector)
        if "global(" in compact and compact != "global()":
            fail(
                "global() cannot be combined with other selectors",
                at="namespaceSelector",
                value=self.namespace_selector,
            )
        if self.services is not None:
            self._check_services(self.services)
        for field in ("nets", "not_nets"):
            _no_duplicates(getattr(self, field), _camel(field))
        return self

    def _check_services(self, services: ServiceMatch) -> None:
        if not services.name:
            fail("services must specify a service name", at="services.name")
        conflicts = {
            "namespaceSelector": self.namespace_selector,
            "serviceAccounts": self.service_accounts,
            "selector": self.selector,
            "notSelector": self.not_selector,
            "nets": self.nets,
            "notNets": self.not_nets,
        }
        for alias, value in conflicts.items():
            if value:
                fail(f"cannot specify {alias} and services on the same rule", at=alias)


class Rule(CalicoModel):
    """A rule: match criteria and the action taken on a match."""

    action: Action
    ip_version: Literal[4, 6] | None = None
    protocol: Protocol | None = None
    icmp: ICMPFields | None = None
    not_protocol: Protocol | None = None
    not_icmp: ICMPFields | None = Field(None, alias="notICMP")
    source: EntityRule = Field(default_factory=EntityRule)
    destination: EntityRule = Field(default_factory=EntityRule)
    http: HTTPMatch | None = None
    metadata: RuleMetadata | None = None

    @model_validator(mode="after")
    def _consistency(self) -> Self:
        self._check_ports()
        self._check_icmp()
        self._check_nets()
        self._check_http()
        if self.destination.services and (self.destination.ports or self.destination.not_ports):
            fail("ports and notPorts cannot be specified with services", at="destination.ports")
        return self

    def _entries(self, field: str) -> Iterator[tuple[str, bool, int | str]]:
        """(path, negated?, value) of each ``field``/``not<Field>`` entry, both sides."""
        for side, entity in (("source", self.source), ("destination", self.destination)):
            for name in (field, f"not_{field}"):
                for index, value in enumerate(getattr(entity, name)):
                    yield join_path(side, _camel(name), index), name != field, value

    def _check_ports(self) -> None:
        for at, _, port in self._entries("ports"):
            if self.protocol is None and port_range(port) is not None:
                # A named port is fine: its definition carries the protocol.
                fail(
                    "rules with numeric ports or port ranges must set protocol to TCP, UDP or SCTP",
                    at=at,
                    value=port,
                )
            if self.protocol is not None and not protocol_supports_ports(self.protocol):
                fail(
                    "rules that specify ports must set protocol to TCP, UDP or SCTP",
                    at=at,
                    value=port,
                )

    def _check_icmp(self) -> None:
        for alias, icmp in (("icmp", self.icmp), ("notICMP", self.not_icmp)):
            if icmp is None:
                continue
            if self.protocol is None or protocol_number(self.protocol) not in (_ICMP, _ICMPV6):
                fail(f"{alias} requires protocol ICMP or ICMPv6", at=alias)
        for alias, value in (("protocol", self.protocol), ("notProtocol", self.not_protocol)):
            if value is None or self.ip_version is None:
                continue
            number = protocol_number(value)
            if number == _ICMP and self.ip_version != 4:
                fail("protocol ICMP requires ipVersion 4", at=alias, value=value)
            if number == _ICMPV6 and self.ip_version != 6:
                fail("protocol ICMPv6 requires ipVersion 6", at=alias, value=value)

    def _check_nets(self) -> None:
        seen: set[int] = set()
        for at, negated, net in self._entries("nets"):
            assert isinstance(net, str)
            version = ip_version(net)
            if negated and net == _CATCH_ALL[version]:
                fail("a catch-all CIDR in notNets matches no traffic", at=at, value=net)
            if self.ip_version is not None and version != self.ip_version:
                fail(
                    f"rule ipVersion {self.ip_version} does not match this IPv{version} CIDR",
                    at=at,
                    value=net,
                )
            seen.add(version)
            if len(seen) > 1:
                fail("rule contains both IPv4 and IPv6 CIDRs", at=at, value=net)

    def _check_http(self) -> None:
        if self.http is None:
            return
        if self.action != "Allow":
            fail("HTTP match is only valid on Allow rules", at="http")
        if self.protocol is not None and protocol_number(self.protocol) != 6:
            fail("rules with HTTP match must have protocol TCP or unset", at="protocol")


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def _no_duplicates(values: list[str], alias: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            fail("duplicate entry", at=join_path(alias, index), value=value)
        seen.add(value)
