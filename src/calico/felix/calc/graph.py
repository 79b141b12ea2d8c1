"""The calculation graph: datastore KVs in, dataplane messages out.

Pure, synchronous, single-threaded and free of I/O: ``on_update`` /
``on_in_sync`` change state and queue output, ``flush`` returns the queued
messages in dependency order.  The output depends only on the current
datastore contents, never on the order the KVs arrived in (the property the
order-independence tests check).  The wiring, after Calico's
``NewCalculationGraph``::

    KV --convert--+--> policies, profiles ----------> ActiveRulesCalculator
                  +--> local endpoints -------------> ActiveRulesCalculator, PolicyResolver
                  +--> all endpoints, network sets,
                  |    profile labels --------------> IPSetMemberIndex
                  +--> tiers, policy order ---------> PolicyResolver
                  +--> pools, nodes, IPAM blocks ---> RouteResolver, HostResolver
                  +--> FelixConfiguration ----------> config

    ActiveRulesCalculator --active policies/profiles--> RuleScanner
                          --(policy, endpoint) matches--> PolicyResolver
    RuleScanner --active IP sets--> IPSetMemberIndex    --members-----+
                --dataplane rules-----------------------------------> EventSequencer
    PolicyResolver --endpoints with ordered tiers (on flush)---------> EventSequencer
    RouteResolver, HostResolver --routes, VTEPs, hosts, pools--------> EventSequencer
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from calico.felix.calc.active_rules import ActiveRulesCalculator
from calico.felix.calc.hosts import HostResolver
from calico.felix.calc.ipset_members import IPSetMemberIndex
from calico.felix.calc.model import (
    BlockModel,
    ConfigModel,
    EndpointID,
    EndpointModel,
    NetworkSetID,
    NetworkSetModel,
    NodeModel,
    PolicyModel,
    PoolModel,
    ProfileModel,
    TierModel,
    WorkloadEndpointKey,
)
from calico.felix.calc.policy_resolver import PolicyResolver
from calico.felix.calc.routes import RouteResolver
from calico.felix.calc.rule_scanner import IPSetSpec, RuleScanner
from calico.felix.calc.sequencer import EventSequencer
from calico.felix.convert import NamedID, convert_kv
from calico.felix.messages import DataplaneMessage, HostEndpointID, PolicyID
from calico.selector import parse

M = TypeVar("M")


class CalcGraph:
    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self.sequencer = EventSequencer()
        buffer = self.sequencer.ipsets
        self._members = IPSetMemberIndex(buffer.on_member_added, buffer.on_member_removed)
        self._scanner = RuleScanner(self, self.sequencer)
        self._resolver = PolicyResolver(self.sequencer.on_endpoint)
        self._active = ActiveRulesCalculator(self._scanner, self._resolver)
        self._routes = RouteResolver(hostname, self.sequencer)
        self._hosts = HostResolver(self.sequencer)
        self._local: set[EndpointID] = set()
        self._config_specs: dict[str, Mapping[str, Any]] = {}
        self._sent_config: dict[str, str] | None = None
        self._in_sync = False

    # -- the syncer's interface ------------------------------------------------

    def on_update(self, key: str, value: Mapping[str, Any] | None) -> None:
        """One datastore KV: its latest value, or None if it is gone."""
        converted = convert_kv(key, value)
        if converted is None:
            return
        ident, model = converted.id, converted.model
        if isinstance(ident, PolicyID):
            self._on_policy(ident, _expect(model, PolicyModel))
        elif isinstance(ident, WorkloadEndpointKey | HostEndpointID):
            self._on_endpoint(ident, _expect(model, EndpointModel))
        elif isinstance(ident, NetworkSetID):
            self._on_network_set(ident, _expect(model, NetworkSetModel))
        else:
            self._on_named(ident, model)

    def on_in_sync(self) -> None:
        """The first complete snapshot has been delivered."""
        if self._in_sync:
            return
        self._in_sync = True
        # Selectors filed before the endpoints arrived: file them again.
        self._active.rebalance()
        self._members.rebalance()
        self._send_config()
        self.sequencer.on_in_sync()

    def flush(self) -> list[DataplaneMessage]:
        """Everything that changed since the last flush, in dependency order."""
        self._resolver.flush()
        return self.sequencer.flush()

    # -- the rule scanner's IP set callbacks -------------------------------------

    def on_ipset_active(self, spec: IPSetSpec) -> None:
        self.sequencer.ipsets.on_ipset_added(spec.id, spec.type)
        self._members.update_ipset(spec.id, parse(spec.selector), spec.named_port, spec.protocol)

    def on_ipset_inactive(self, spec: IPSetSpec) -> None:
        self._members.delete_ipset(spec.id)
        self.sequencer.ipsets.on_ipset_removed(spec.id)

    # -- dispatch -----------------------------------------------------------------

    def _on_policy(self, policy_id: PolicyID, policy: PolicyModel | None) -> None:
        self._resolver.on_policy(policy_id, policy)
        self._active.on_policy(policy_id, policy)

    def _on_endpoint(self, endpoint_id: EndpointID, endpoint: EndpointModel | None) -> None:
        if endpoint is None:
            self._members.delete_item(endpoint_id)
        else:
            self._members.update_endpoint(endpoint)
        # Only local endpoints decide which policies are active; an endpoint
        # that moves to another node leaves this host's set.
        if endpoint is not None and endpoint.node == self.hostname:
            self._local.add(endpoint_id)
        elif endpoint_id in self._local:
            self._local.discard(endpoint_id)
            endpoint = None
        else:
            return
        self._resolver.on_local_endpoint(endpoint_id, endpoint)
        self._active.on_local_endpoint(endpoint_id, endpoint)

    def _on_network_set(self, set_id: NetworkSetID, netset: NetworkSetModel | None) -> None:
        if netset is None:
            self._members.delete_item(set_id)
        else:
            self._members.update_network_set(netset)

    def _on_named(self, ident: NamedID, model: object) -> None:
        kind, name = ident.kind, ident.name
        if kind == "Tier":
            self._resolver.on_tier(name, _expect(model, TierModel))
        elif kind == "Profile":
            self._on_profile(name, _expect(model, ProfileModel))
        elif kind == "IPPool":
            pool = _expect(model, PoolModel)
            self._routes.on_pool(name, pool)
            self._hosts.on_pool(name, pool)
        elif kind == "Node":
            node = _expect(model, NodeModel)
            self._routes.on_node(name, node)
            self._hosts.on_node(name, node)
        elif kind == "IPAMBlock":
            self._routes.on_block(name, _expect(model, BlockModel))
        elif kind == "FelixConfiguration":
            self._on_config(name, _expect(model, ConfigModel))

    def _on_profile(self, name: str, profile: ProfileModel | None) -> None:
        if profile is None:
            self._members.delete_parent(name)
        else:
            self._members.update_parent(name, profile.labels)
        self._active.on_profile(name, profile)

    # -- configuration ---------------------------------------------------------------

    def _on_config(self, name: str, config: ConfigModel | None) -> None:
        if name not in ("default", f"node.{self.hostname}"):
            return
        if config is None:
            self._config_specs.pop(name, None)
        else:
            self._config_specs[name] = config.spec
        self._send_config()

    def _send_config(self) -> None:
        """ConfigUpdate with the datastore's felix config: the ``default``
        FelixConfiguration's spec overlaid with ``node.<hostname>``'s, keyed by
        v3 field name, each value JSON-encoded (``json.loads`` gives it back
        typed).  Sent at InSync, then whenever it changes."""
        if not self._in_sync:
            return
        merged: dict[str, Any] = dict(self._config_specs.get("default", {}))
        merged.update(self._config_specs.get(f"node.{self.hostname}", {}))
        encoded = {field: json.dumps(value, sort_keys=True) for field, value in merged.items()}
        if encoded != self._sent_config:
            self._sent_config = encoded
            self.sequencer.on_config(encoded)


def _expect(model: object, cls: type[M]) -> M | None:
    """The model as the type its key promises (None stays None)."""
    if model is None:
        return None
    assert isinstance(model, cls), f"expected {cls.__name__}, got {type(model).__name__}"
    return model
