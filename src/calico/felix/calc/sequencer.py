"""The event sequencer: coalesce calc-graph output, flush it in a safe order.

Calico's ``EventSequencer``.  The calc graph reports changes as they happen;
this buffer keeps at most one pending update per object (the latest), which
both removes churn and bounds memory by the number of objects, whatever the
rate of datastore changes (Calico's back-pressure mechanism).  ``flush()``
then emits them in dependency order (REFERENCE 1.6), so that the dataplane
never sees a reference to something it has not been given, nor loses
something still referenced:

1. config;
2. additions and updates: IP sets (full membership), then membership deltas,
   then policies, profiles, endpoints;
3. removals in the reverse order: endpoints, profiles, policies, IP sets;
4. route removals, VTEP removals, VTEP additions, route additions (a route
   via a VXLAN tunnel never exists without its VTEP);
5. host metadata and IP pools;
6. InSync, once, after the first flush that follows it.

Within a group, messages go out sorted by key, so a flush is deterministic.
An update identical to what the dataplane already has is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

from calico.felix.calc._ipset_buffer import IPSetBuffer
from calico.felix.messages import (
    ActivePolicyRemove,
    ActivePolicyUpdate,
    ActiveProfileRemove,
    ActiveProfileUpdate,
    ConfigUpdate,
    DataplaneMessage,
    HostEndpointID,
    HostEndpointRemove,
    HostEndpointUpdate,
    HostMetadataRemove,
    HostMetadataUpdate,
    InSync,
    IPAMPoolRemove,
    IPAMPoolUpdate,
    Policy,
    PolicyID,
    Profile,
    ProfileID,
    RouteRemove,
    RouteUpdate,
    VXLANTunnelEndpointRemove,
    VXLANTunnelEndpointUpdate,
    WorkloadEndpointID,
    WorkloadEndpointRemove,
    WorkloadEndpointUpdate,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

EndpointMessage = (
    WorkloadEndpointUpdate | WorkloadEndpointRemove | HostEndpointUpdate | HostEndpointRemove
)


class _Pending(Generic[K, V]):
    """Latest pending value (or removal) per key, and what was last sent."""

    def __init__(
        self,
        make_update: Callable[[K, V], DataplaneMessage],
        make_remove: Callable[[K], DataplaneMessage],
    ):
        self._make_update = make_update
        self._make_remove = make_remove
        self._updates: dict[K, V] = {}
        self._removes: set[K] = set()
        self._sent: dict[K, V] = {}

    def update(self, key: K, value: V) -> None:
        self._removes.discard(key)
        self._updates[key] = value

    def remove(self, key: K) -> None:
        self._updates.pop(key, None)
        if key in self._sent:
            self._removes.add(key)

    def flush_updates(self, out: list[DataplaneMessage]) -> None:
        for key in sorted(self._updates, key=repr):
            value = self._updates[key]
            if self._sent.get(key, _UNSENT) != value:
                self._sent[key] = value
                out.append(self._make_update(key, value))
        self._updates.clear()

    def flush_removes(self, out: list[DataplaneMessage]) -> None:
        for key in sorted(self._removes, key=repr):
            del self._sent[key]
            out.append(self._make_remove(key))
        self._removes.clear()


_UNSENT = object()


class EventSequencer:
    def __init__(self) -> None:
        self._config: Mapping[str, str] | None = None
        self._in_sync_pending = False
        self._ipsets = IPSetBuffer()
        self._policies: _Pending[PolicyID, Policy] = _Pending(
            ActivePolicyUpdate, ActivePolicyRemove
        )
        self._profiles: _Pending[ProfileID, Profile] = _Pending(
            ActiveProfileUpdate, ActiveProfileRemove
        )
        self._weps: _Pending[WorkloadEndpointID, WorkloadEndpointUpdate] = _Pending(
            lambda _, update: update, WorkloadEndpointRemove
        )
        self._heps: _Pending[HostEndpointID, HostEndpointUpdate] = _Pending(
            lambda _, update: update, HostEndpointRemove
        )
        self._routes: _Pending[str, RouteUpdate] = _Pending(lambda _, update: update, RouteRemove)
        self._vteps: _Pending[str, VXLANTunnelEndpointUpdate] = _Pending(
            lambda _, update: update, VXLANTunnelEndpointRemove
        )
        self._hosts: _Pending[str, HostMetadataUpdate] = _Pending(
            lambda _, update: update, HostMetadataRemove
        )
        self._pools: _Pending[str, IPAMPoolUpdate] = _Pending(
            lambda _, update: update, IPAMPoolRemove
        )

    # -- inputs from the calc graph -------------------------------------------

    def on_config(self, config: Mapping[str, str]) -> None:
        self._config = config

    def on_in_sync(self) -> None:
        self._in_sync_pending = True

    @property
    def ipsets(self) -> IPSetBuffer:
        """IP set additions, removals and member deltas."""
        return self._ipsets

    def on_policy_active(self, policy_id: PolicyID, policy: Policy) -> None:
        self._policies.update(policy_id, policy)

    def on_policy_inactive(self, policy_id: PolicyID) -> None:
        self._policies.remove(policy_id)

    def on_profile_active(self, profile_id: ProfileID, profile: Profile) -> None:
        self._profiles.update(profile_id, profile)

    def on_profile_inactive(self, profile_id: ProfileID) -> None:
        self._profiles.remove(profile_id)

    def on_endpoint(self, message: EndpointMessage) -> None:
        match message:
            case WorkloadEndpointUpdate(endpoint_id):
                self._weps.update(endpoint_id, message)
            case WorkloadEndpointRemove(endpoint_id):
                self._weps.remove(endpoint_id)
            case HostEndpointUpdate(endpoint_id):
                self._heps.update(endpoint_id, message)
            case HostEndpointRemove(endpoint_id):
                self._heps.remove(endpoint_id)

    def on_route_update(self, update: RouteUpdate) -> None:
        self._routes.update(update.dst, update)

    def on_route_remove(self, dst: str) -> None:
        self._routes.remove(dst)

    def on_vtep_update(self, update: VXLANTunnelEndpointUpdate) -> None:
        self._vteps.update(update.node, update)

    def on_vtep_remove(self, node: str) -> None:
        self._vteps.remove(node)

    def on_host_update(self, update: HostMetadataUpdate) -> None:
        self._hosts.update(update.hostname, update)

    def on_host_remove(self, hostname: str) -> None:
        self._hosts.remove(hostname)

    def on_pool_update(self, update: IPAMPoolUpdate) -> None:
        self._pools.update(update.id, update)

    def on_pool_remove(self, pool_id: str) -> None:
        self._pools.remove(pool_id)

    # -- output ----------------------------------------------------------------

    def flush(self) -> list[DataplaneMessage]:
        out: list[DataplaneMessage] = []
        if self._config is not None:
            out.append(ConfigUpdate(self._config))
            self._config = None
        self._ipsets.flush_updates(out)
        for group in (self._policies, self._profiles, self._weps, self._heps):
            group.flush_updates(out)
        for group in (self._heps, self._weps, self._profiles, self._policies):
            group.flush_removes(out)
        self._ipsets.flush_removes(out)
        self._routes.flush_removes(out)
        self._vteps.flush_removes(out)
        self._vteps.flush_updates(out)
        self._routes.flush_updates(out)
        self._hosts.flush_removes(out)
        self._hosts.flush_updates(out)
        self._pools.flush_removes(out)
        self._pools.flush_updates(out)
        if self._in_sync_pending:
            out.append(InSync())
            self._in_sync_pending = False
        return out
