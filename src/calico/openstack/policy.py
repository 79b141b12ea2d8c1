"""Security groups as Calico NetworkPolicies (networking-calico ``policy.py``).

Security group S becomes the NetworkPolicy ``ossg.default.<S id>`` in the
region's namespace, selecting ``has(sg.projectcalico.org/openstack-<S id>)``
(the label every member port's endpoint carries).  Each rule of S becomes
one ``Allow`` rule, ingress rules in ``ingress`` and egress rules in
``egress``.  Nothing else is needed for Neutron's semantics: a port may
send or receive what one of its groups allows, and Calico's default deny
at the end of the tier drops the rest.

Rule translation (``_neutron_rule_to_etcd_rule``):

- ``ethertype`` IPv4/IPv6 -> ``ipVersion`` 4/6;
- ``protocol``: None, -1, 0 or ``any`` -> no protocol (all);
  ``icmp`` -> ICMP or ICMPv6 by ethertype; ``ipv6-icmp`` (and the legacy
  ``icmpv6``) -> ICMPv6; names Calico knows -> Calico's spelling (``TCP``);
  other names -> their IANA number (``esp`` -> 50); numbers stay numbers;
- ICMP: ``port_range_min`` is the type, ``port_range_max`` the code, -1 or
  None meaning any;
- other protocols: ``[min]`` when min == max, else ``["min:max"]``;
- ``remote_group_id`` -> ``selector: has(sg...<id>)``; ``remote_ip_prefix``
  -> ``nets``;
- ingress: the remote side goes in ``source`` and the ports in
  ``destination``; egress: both go in ``destination``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import pydantic
from neutron_lib import constants as n_const

from calico.openstack import labels as lbl
from calico.resources import API_VERSION, NetworkPolicy, Rule, parse_resource

SGRule = Mapping[str, Any]
_log = logging.getLogger(__name__)

POLICY_NAME_PREFIX = "ossg.default."
_ETHERTYPE_VERSION = {"IPv4": 4, "IPv6": 6}
_ANY_PROTOCOL = (None, -1, 0, "any", "-1", "0")
# Neutron names that Calico spells differently (Calico's names are case-exact).
_CALICO_NAMES = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP", "udplite": "UDPLite"}
_ICMP_NAMES = ("icmp", "ipv6-icmp", "icmpv6")


def policy_name(sg_id: str) -> str:
    return POLICY_NAME_PREFIX + sg_id


def network_policy(sg_id: str, rules: Iterable[SGRule], namespace: str) -> NetworkPolicy:
    """The NetworkPolicy for security group ``sg_id``.

    ``rules`` may include other groups' rules (as a bulk Neutron query
    returns them); only those whose ``security_group_id`` is ``sg_id`` count.
    """
    doc = {
        "apiVersion": API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": {"name": policy_name(sg_id), "namespace": namespace},
        "spec": policy_spec(sg_id, rules),
    }
    policy = parse_resource(doc)
    assert isinstance(policy, NetworkPolicy)
    return policy


def policy_spec(sg_id: str, rules: Iterable[SGRule]) -> dict[str, Any]:
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = []
    for rule in rules:
        if rule.get("security_group_id", sg_id) != sg_id:
            continue
        target = ingress if rule.get("direction", "ingress") == "ingress" else egress
        translated = calico_rule(rule)
        if _is_valid(translated, sg_id):
            target.append(translated)
    return {"ingress": ingress, "egress": egress, "selector": lbl.sg_selector(sg_id)}


def _is_valid(rule: dict[str, Any], sg_id: str) -> bool:
    """Whether Calico accepts ``rule``; a rejected one is logged and left out.

    Neutron accepts a few combinations Calico cannot express (ports with
    DCCP, say).  Leaving an Allow rule out only ever allows less, so the
    group's other rules still go in rather than the whole policy failing.
    """
    try:
        Rule.model_validate(rule, by_alias=True, by_name=False)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = f"{where}: {first['msg']}" if where else first["msg"]
        _log.warning("security group %s: rule %s left out: %s", sg_id, rule, reason)
        return False
    return True


def calico_rule(rule: SGRule) -> dict[str, Any]:
    """One Neutron security-group rule as one Calico ``Allow`` rule (dict form)."""
    ethertype = rule.get("ethertype") or "IPv4"
    ingress = rule.get("direction", "ingress") == "ingress"
    result: dict[str, Any] = {"action": "Allow", "ipVersion": _ETHERTYPE_VERSION[ethertype]}
    protocol = calico_protocol(rule.get("protocol"), ethertype)
    if protocol is not None:
        result["protocol"] = protocol

    remote: dict[str, Any] = {}
    if rule.get("remote_group_id"):
        remote["selector"] = lbl.sg_selector(rule["remote_group_id"])
    if rule.get("remote_ip_prefix"):
        remote["nets"] = [rule["remote_ip_prefix"]]

    if rule.get("protocol") in _ICMP_NAMES:
        icmp = _icmp_fields(rule)
        if icmp:
            result["icmp"] = icmp
    else:
        ports = _ports(rule.get("port_range_min"), rule.get("port_range_max"))
        if ports is not None:
            if ingress:
                result["destination"] = {"ports": ports}
            else:
                remote["ports"] = ports

    if remote:
        result["source" if ingress else "destination"] = remote
    return result


def calico_protocol(protocol: Any, ethertype: str) -> int | str | None:
    """Calico's protocol for a Neutron one; None means "any protocol"."""
    if protocol in _ANY_PROTOCOL:
        return None
    if isinstance(protocol, int):
        return protocol
    text = str(protocol)
    if text.isascii() and text.isdigit():
        return int(text)
    if text == "icmp":
        return "ICMP" if ethertype == "IPv4" else "ICMPv6"
    if text in ("ipv6-icmp", "icmpv6"):
        return "ICMPv6"
    if text in _CALICO_NAMES:
        return _CALICO_NAMES[text]
    number = n_const.IP_PROTOCOL_MAP.get(text)
    if number is not None:
        return int(number)
    # Unknown to Neutron as well: pass it on and let validation name it.
    return text.upper()


def _icmp_fields(rule: SGRule) -> dict[str, int]:
    icmp: dict[str, int] = {}
    for key, neutron_key in (("type", "port_range_min"), ("code", "port_range_max")):
        value = rule.get(neutron_key)
        if value is not None and value != -1:
            icmp[key] = int(value)
    return icmp


def _ports(low: int | None, high: int | None) -> list[int | str] | None:
    if low is None or low == -1:
        return None
    if high is None or low == high:
        return [int(low)]
    return [f"{low}:{high}"]
