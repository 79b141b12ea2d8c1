"""Value types used by FelixConfiguration fields.

Source: api ``felixconfig.go`` (kubebuilder patterns, enums and ranges) and
libcalico-go ``validator.go`` (``validateFelixConfigSpec``, ``ProtoPort``,
route-table ranges, health timeout overrides).  Case-insensitive choices
(``Drop`` or ``drop``) are kept as written, as Felix parses them that way.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Self

from pydantic import AfterValidator, Field, model_validator

from calico.resources._base import CalicoModel, fail
from calico.resources._names import interface_problem
from calico.resources._net import parse_cidr
from calico.resources._types import Duration, duration_is_negative


def _one_of(*choices: str) -> AfterValidator:
    """Accept "" or one of ``choices`` in any case (Calico's ``(?i)`` patterns)."""
    pattern = re.compile("^(" + "|".join(choices) + ")?$", re.IGNORECASE)

    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"must be one of {', '.join(choices)} (any case)")
        return value

    return AfterValidator(check)


def _matching(regex: str, description: str) -> AfterValidator:
    """Accept "" or text matching ``regex``; else fail with ``description``."""
    pattern = re.compile(regex)

    def check(value: str) -> str:
        if value and not pattern.match(value):
            raise ValueError(description)
        return value

    return AfterValidator(check)


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _iface_filter(value: str) -> str:
    # Interface names, with '+' as a prefix wildcard (iptables style).
    if value and not re.match(r"^[a-zA-Z0-9:._+-]{1,15}$", value):
        raise ValueError("must be an interface name or prefix (e.g. 'eth+'), 1 to 15 characters")
    return value


def _log_filter_keys(filters: dict[str, str]) -> dict[str, str]:
    for key in filters:
        if interface_problem(key, allow_wildcard=False):
            raise ValueError(f"bpfLogFilters key {key!r} must be an interface name or 'all'")
    return filters


Severity = Annotated[str, _one_of("Trace", "Debug", "Info", "Warning", "Error", "Fatal")]
EndpointToHostAction = Annotated[str, _one_of("Drop", "Accept", "Return")]
AllowAction = Annotated[str, _one_of("Accept", "Return")]
DenyAction = Annotated[str, _one_of("Drop", "Reject")]
ChainInsertMode = Annotated[str, _one_of("Insert", "Append")]
BPFLogLevel = Annotated[str, _one_of("Off", "Info", "Debug")]
ExternalServiceMode = Annotated[str, _one_of("Tunnel", "DSR")]
ConntrackScaling = Annotated[str, _one_of("Disabled", "DoubleIfFull")]
RPFMode = Annotated[str, _one_of("Disabled", "Strict", "Loose")]
RouteSourceMode = Annotated[str, _one_of("WorkloadIPs", "CalicoIPAM")]
LoopPrevention = Annotated[str, _one_of("Drop", "Reject", "Disabled")]
SpoofingMode = Annotated[str, _one_of("Disabled", "Any")]

_FEATURE_FLAGS = r"^([a-zA-Z0-9-_]+=(true|false|),)*([a-zA-Z0-9-_]+=(true|false|))?$"
_FEATURE_GATES = r"^([a-zA-Z0-9-_]+=([^=]+),)*([a-zA-Z0-9-_]+=([^=]+))?$"
FeatureDetectOverride = Annotated[
    str, _matching(_FEATURE_FLAGS, "must be a comma-separated list of feature=true|false")
]
FeatureGates = Annotated[
    str, _matching(_FEATURE_GATES, "must be a comma-separated list of gate=value")
]
LogPrefix = Annotated[
    str,
    _matching(r"^([a-zA-Z0-9%: /_-])*$", "may only contain letters, digits and '%: /_-'"),
]
RateLimit = Annotated[
    str,
    _matching(
        r"^[1-9]\d{0,3}/(?:second|minute|hour|day)$",
        "must be N/second, N/minute, N/hour or N/day",
    ),
]
PrometheusHost = Annotated[
    str, _matching(r"^[a-zA-Z0-9:._+-]{1,64}$", "must be a host name or IP address")
]
RegexText = Annotated[str, AfterValidator(_regex)]
IfaceFilter = Annotated[str, AfterValidator(_iface_filter)]
BPFLogFilters = Annotated[dict[str, str], AfterValidator(_log_filter_keys)]

Mask32 = Annotated[int, Field(ge=0, le=0xFFFFFFFF)]
Port16 = Annotated[int, Field(ge=0, le=65535)]
ListenPort = Annotated[int, Field(ge=1, le=65535)]
RoutePriority = Annotated[int, Field(ge=1, le=2147483646)]
GoTuning = Annotated[int, Field(ge=-1)]
MaglevLimit = Annotated[int, Field(ge=1, le=3000)]

# Linux reserves route tables 253-255; Felix may use at most 65535 tables.
ROUTE_TABLES_MAX = 0xFFFF


class ProtoPort(CalicoModel):
    """A failsafe port: protocol, port and optional remote CIDR."""

    protocol: str = ""
    port: Port16 = 0
    net: str = ""

    _always_emit: ClassVar[frozenset[str]] = frozenset({"port"})

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.protocol not in ("TCP", "UDP", "SCTP"):
            fail("protocol must be 'TCP', 'UDP' or 'SCTP'", at="protocol", value=self.protocol)
        if self.net:
            try:
                parse_cidr(self.net)
            except ValueError as exc:
                fail(str(exc), at="net", value=self.net)
        return self


class HealthTimeoutOverride(CalicoModel):
    name: str
    timeout: Duration

    _always_emit: ClassVar[frozenset[str]] = frozenset({"name", "timeout"})

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not re.match(r"^[a-zA-Z0-9_ -]+$", self.name):
            fail(
                "name may only contain letters, digits, '_', ' ' and '-'",
                at="name",
                value=self.name,
            )
        if not self.timeout or duration_is_negative(self.timeout):
            fail("timeout must be a non-negative duration", at="timeout", value=self.timeout)
        return self


class RouteTableRange(CalicoModel):
    """Deprecated single range of route tables Felix may use (1-250)."""

    min: int
    max: int

    _always_emit: ClassVar[frozenset[str]] = frozenset({"min", "max"})

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not 1 <= self.min <= self.max <= 250:
            fail(
                "must be a range of route table indices within 1..250",
                value=f"{self.min}-{self.max}",
            )
        return self


class RouteTableIDRange(CalicoModel):
    """One range of route table IDs Felix may use."""

    min: int
    max: int

    _always_emit: ClassVar[frozenset[str]] = frozenset({"min", "max"})

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.min < 1:
            fail("min must be >= 1", at="min", value=self.min)
        if self.min > self.max:
            fail("min must not be greater than max", at="max", value=self.max)
        if self.max > 0xFFFFFFFF:
            fail("max index too high", at="max", value=self.max)
        return self


_CONNTRACK_TIMEOUT = r"^(([0-9]*(\.[0-9]*)?(ms|s|h|m|us)+)+|Auto)$"
ConntrackTimeout = Annotated[
    str, _matching(_CONNTRACK_TIMEOUT, "must be a duration (e.g. '30s') or 'Auto'")
]


class BPFConntrackTimeouts(CalicoModel):
    creation_grace_period: ConntrackTimeout | None = None
    tcp_syn_sent: ConntrackTimeout | None = Field(None, alias="tcpSynSent")
    tcp_established: ConntrackTimeout | None = Field(None, alias="tcpEstablished")
    tcp_fins_seen: ConntrackTimeout | None = Field(None, alias="tcpFinsSeen")
    tcp_reset_seen: ConntrackTimeout | None = Field(None, alias="tcpResetSeen")
    udp_timeout: ConntrackTimeout | None = Field(None, alias="udpTimeout")
    generic_timeout: ConntrackTimeout | None = None
    icmp_timeout: ConntrackTimeout | None = Field(None, alias="icmpTimeout")
