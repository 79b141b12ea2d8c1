"""v3 ``Rule`` JSON -> ``ModelRule``, with Calico's namespace scoping of selectors.

A port of libcalico-go ``updateprocessors/rules.go`` (REFERENCE 2.2, 2.16):

* actions: Allow -> allow, Deny -> deny, Pass -> next-tier, Log -> log;
* protocols lower-cased (``TCP`` -> ``tcp``), numbers kept; a rule with
  protocol ICMP / ICMPv6 and no ipVersion is an IPv4 / IPv6 rule;
* ports: ints and ``"N:M"`` become port ranges, any other string is a named
  port (turned into an IP set later by the rule scanner);
* nets normalised to masked CIDRs (``10.0.0.1`` -> ``10.0.0.1/32``);
* entity selectors, for a rule of a policy in namespace ``ns``:

  - ``namespaceSelector`` gets its labels prefixed ``pcns.`` (namespace
    labels reach endpoints through the ``kns.<ns>`` profile), with ``all()``
    meaning ``has(projectcalico.org/namespace)`` and ``global()`` meaning
    ``!has(projectcalico.org/namespace)``;
  - without one, a namespaced policy's rule is limited to its own
    namespace, ``projectcalico.org/namespace == 'ns'``;
  - that namespace term is ANDed in *only if* the entity uses a selector,
    notSelector or namespaceSelector: a rule with only ``nets`` is not
    namespace-restricted;
  - ``serviceAccounts`` become ``pcsa.``-prefixed selectors and a
    ``projectcalico.org/serviceaccount in {...}`` term;
  - ``notSelector`` passes through unscoped.

Not supported by this dataplane: ``http`` matches are ignored (as Calico's
iptables dataplane does: they are for an L7 proxy); a rule using ``services``
is dropped with a warning, since service IP sets are not implemented.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from calico.errors import ValidationError
from calico.felix.calc.model import ModelRule
from calico.felix.messages import PortRange, Protocol
from calico.selector import parse

_log = logging.getLogger(__name__)

NAMESPACE_LABEL = "projectcalico.org/namespace"
SERVICE_ACCOUNT_LABEL = "projectcalico.org/serviceaccount"
_ACTIONS = {"Allow": "allow", "Deny": "deny", "Pass": "next-tier", "Log": "log"}
_PORT_RANGE = re.compile(r"\s*(\d+)\s*(?::\s*(\d+)\s*)?")

Entity = Mapping[str, Any]


def canonical(text: str, all_means: str | None = None) -> str:
    """The canonical form of selector text ("" stays ""), optionally with
    ``all()`` replaced by another selector."""
    if not text.strip():
        return ""
    selector = parse(text)
    if all_means is not None:
        selector = selector.replace_all_and_global(parse(all_means), None)
    return str(selector)


def prefixed(text: str, prefix: str) -> str:
    return str(parse(text).prefix_labels(prefix))


def cidr(text: str) -> str:
    """A masked CIDR; a bare address is a /32 or /128."""
    return str(ipaddress.ip_network(str(text).strip(), strict=False))


def rules(raw: Sequence[Mapping[str, Any]] | None, namespace: str) -> tuple[ModelRule, ...]:
    converted = []
    for index, rule in enumerate(raw or ()):
        if (rule.get("source") or {}).get("services") or (rule.get("destination") or {}).get(
            "services"
        ):
            _log.warning("Dropping rule %d: service matches are not supported", index)
            continue
        converted.append(rule_from_v3(rule, namespace))
    return tuple(converted)


def rule_from_v3(rule: Mapping[str, Any], namespace: str) -> ModelRule:
    action = _ACTIONS.get(rule.get("action", ""))
    if action is None:
        raise ValidationError(
            "must be Allow, Deny, Pass or Log", field="action", value=rule.get("action")
        )
    protocol = _protocol(rule.get("protocol"))
    src: Entity = rule.get("source") or {}
    dst: Entity = rule.get("destination") or {}
    src_ports, src_named = _ports(src.get("ports"))
    not_src_ports, not_src_named = _ports(src.get("notPorts"))
    dst_ports, dst_named = _ports(dst.get("ports"))
    not_dst_ports, not_dst_named = _ports(dst.get("notPorts"))
    icmp: Mapping[str, Any] = rule.get("icmp") or {}
    not_icmp: Mapping[str, Any] = rule.get("notICMP") or {}
    return ModelRule(
        action=action,
        ip_version=_ip_version(rule.get("ipVersion"), protocol),
        protocol=protocol,
        not_protocol=_protocol(rule.get("notProtocol")),
        src_net=_nets(src.get("nets")),
        not_src_net=_nets(src.get("notNets")),
        dst_net=_nets(dst.get("nets")),
        not_dst_net=_nets(dst.get("notNets")),
        src_ports=src_ports,
        not_src_ports=not_src_ports,
        dst_ports=dst_ports,
        not_dst_ports=not_dst_ports,
        src_named_ports=src_named,
        not_src_named_ports=not_src_named,
        dst_named_ports=dst_named,
        not_dst_named_ports=not_dst_named,
        icmp_type=icmp.get("type"),
        icmp_code=icmp.get("code"),
        not_icmp_type=not_icmp.get("type"),
        not_icmp_code=not_icmp.get("code"),
        src_selector=entity_selector(src, namespace),
        not_src_selector=canonical(src.get("notSelector") or ""),
        dst_selector=entity_selector(dst, namespace),
        not_dst_selector=canonical(dst.get("notSelector") or ""),
        annotations=tuple(sorted(((rule.get("metadata") or {}).get("annotations") or {}).items())),
    )


def entity_selector(entity: Entity, namespace: str) -> str:
    """Calico's ``GetEntityRuleSelector``: one selector for everything the
    entity's selector fields say, scoped to namespaces as described above."""
    ns_selector_text: str = entity.get("namespaceSelector") or ""
    if ns_selector_text:
        ns_term = str(
            parse(ns_selector_text)
            .prefix_labels("pcns.")
            .replace_all_and_global(
                parse(f"has({NAMESPACE_LABEL})"), parse(f"!has({NAMESPACE_LABEL})")
            )
        )
    elif namespace:
        ns_term = f"{NAMESPACE_LABEL} == '{namespace}'"
    else:
        ns_term = ""
    parts = [
        p
        for p in (_service_account_selector(entity.get("serviceAccounts")), entity.get("selector"))
        if p
    ]
    selector = (
        parts[0] if len(parts) == 1 else "".join(("(", ") && (".join(parts), ")")) if parts else ""
    )
    if ns_term and (selector or entity.get("notSelector") or ns_selector_text):
        selector = f"({ns_term}) && ({selector})" if selector else ns_term
    return canonical(selector)


def _service_account_selector(match: Mapping[str, Any] | None) -> str:
    if not match:
        return ""
    selector = prefixed(match["selector"], "pcsa.") if match.get("selector") else ""
    names = match.get("names") or ()
    if not names:
        return selector
    names_term = canonical(
        f"{SERVICE_ACCOUNT_LABEL} in {{ {', '.join(repr(str(n)) for n in names)} }}"
    )
    return f"({selector}) && ({names_term})" if selector else names_term


def _protocol(value: Any) -> Protocol | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError("must be a protocol name or number", field="protocol", value=value)
    if isinstance(value, int) or str(value).isdigit():
        number = int(value)
        if not 1 <= number <= 255:
            raise ValidationError("must be 1-255", field="protocol", value=value)
        return number
    return str(value).lower()


def _ip_version(value: Any, protocol: Protocol | None) -> int | None:
    if value is not None:
        return int(value)
    return {"icmp": 4, "icmpv6": 6}.get(protocol) if isinstance(protocol, str) else None


def _nets(raw: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(cidr(net) for net in raw or ())


def _ports(raw: Sequence[int | str] | None) -> tuple[tuple[PortRange, ...], tuple[str, ...]]:
    ranges: list[PortRange] = []
    named: list[str] = []
    for port in raw or ():
        if isinstance(port, bool):
            raise ValidationError("must be a port, a range or a name", field="ports", value=port)
        match = _PORT_RANGE.fullmatch(port) if isinstance(port, str) else None
        if isinstance(port, int) or match:
            first, last = (port, port) if isinstance(port, int) else _range(match)
            if not 0 <= first <= last <= 65535:
                raise ValidationError(
                    "port range must be within 0-65535, first <= last", field="ports", value=port
                )
            ranges.append(PortRange(first, last))
        else:
            named.append(str(port))
    return tuple(ranges), tuple(named)


def _range(match: re.Match[str] | None) -> tuple[int, int]:
    assert match is not None
    first = int(match[1])
    return first, int(match[2]) if match[2] else first
