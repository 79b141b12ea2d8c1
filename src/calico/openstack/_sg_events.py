"""Security-group events from Neutron's callback registry, routed to the driver.

ML2 never tells mechanism drivers about security groups; Neutron publishes
them on ``neutron_lib.callbacks.registry`` instead (``securitygroups_db.py``):

==================  ============  ===============================================
resource            event         payload
==================  ============  ===============================================
security_group      AFTER_CREATE  ``states[-1]``: the group with its rules
security_group      AFTER_UPDATE  ``states[-1]``: the updated group (with rules)
security_group      AFTER_DELETE  ``resource_id``: the group's ID
security_group_rule AFTER_CREATE  ``states[-1]``: the rule (``security_group_id``)
security_group_rule AFTER_DELETE  ``metadata['security_group_id']``
==================  ============  ===============================================

A rule event re-reads the whole group through the driver's Neutron lookup,
so a burst of rule changes always ends with the group's latest rules.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from neutron_lib.callbacks import events, registry, resources

_log = logging.getLogger(__name__)


class SecurityGroupSink(Protocol):
    def security_group_updated(self, sg: Any) -> None: ...

    def security_group_deleted(self, sg_id: str) -> None: ...

    def security_group_rule_changed(self, sg_id: str) -> None: ...


class _Handlers:
    """The registry callbacks of one sink."""

    def __init__(self, sink: SecurityGroupSink) -> None:
        self.sink = sink

    def on_group(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        if event == events.AFTER_DELETE:
            self.sink.security_group_deleted(payload.resource_id)
        else:
            self.sink.security_group_updated(payload.latest_state)

    def on_rule(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        sg_id = (payload.metadata or {}).get("security_group_id")
        if sg_id is None and payload.latest_state:
            sg_id = payload.latest_state.get("security_group_id")
        if sg_id is None:
            _log.warning("security group rule event without a group: %s", payload)
            return
        self.sink.security_group_rule_changed(sg_id)


_GROUP_EVENTS = (events.AFTER_CREATE, events.AFTER_UPDATE, events.AFTER_DELETE)
_RULE_EVENTS = (events.AFTER_CREATE, events.AFTER_DELETE)


# The registry identifies a callback by its hash, and a bound method hashes by
# the identity of its object: unsubscribing needs the very handlers subscribed.
_subscribed: dict[int, _Handlers] = {}


def _subscriptions(handlers: _Handlers) -> list[tuple[Any, str, str]]:
    subs = [(handlers.on_group, resources.SECURITY_GROUP, e) for e in _GROUP_EVENTS]
    subs += [(handlers.on_rule, resources.SECURITY_GROUP_RULE, e) for e in _RULE_EVENTS]
    return subs


def subscribe(sink: SecurityGroupSink) -> None:
    """Route security-group events to ``sink`` (once, however often called)."""
    if id(sink) in _subscribed:
        return
    handlers = _subscribed[id(sink)] = _Handlers(sink)
    for callback, resource, event in _subscriptions(handlers):
        registry.subscribe(callback, resource, event)


def unsubscribe(sink: SecurityGroupSink) -> None:
    handlers = _subscribed.pop(id(sink), None)
    if handlers is None:
        return
    for callback, resource, event in _subscriptions(handlers):
        registry.unsubscribe(callback, resource, event)
