"""The internal dataplane: messages in, kernel programmed, in a fixed order.

Calico's ``InternalDataplane``.  One thread (:mod:`.loop`) owns every
manager and driver.  It hands each message from the calc graph to every
manager (which only records it) and -- once the calc graph has said InSync
-- applies (:mod:`.schedule` decides when).

One apply, in dependency order (REFERENCE 5.7)::

    read interfaces (if they changed)  ->  managers' deferred work
    -> IP sets: create/update          (rules must never name a missing set)
    -> sysctls, VXLAN/IPIP devices, FDB/neighbours, routes
    -> iptables: raw, mangle, nat, filter (one transaction each)
    -> IP sets: delete                 (only once no rule uses them)

Invariants this loop keeps:

* **Nothing touches the kernel before InSync.**  Until then the managers'
  view is partial, and the first apply *sweeps*: every ``cali`` chain, set,
  route or VXLAN entry that is not wanted is removed, which would wipe a
  running node's state if done early.
* **Fail closed.**  Route and sysctl problems are retried with back-off and
  make felix "not ready", but never stop the iptables step.  A failing
  iptables step (or any unexpected error) that persists for
  ``max_iptables_failures`` applies in a row is fatal: felix exits non-zero
  and leaves the last rules it wrote in place, rather than run on without
  enforcing new policy.  So is a kernel that cannot do what the pools ask
  (no IPIP).
* **Restart loses nothing.**  Stopping never removes kernel state; a new
  felix computes the same desired state and finds nothing to change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from calico.errors import DataplaneError, KernelUnsupportedError
from calico.felix.dataplane.config import DataplaneConfig
from calico.felix.dataplane.endpoint_mgr import EndpointManager
from calico.felix.dataplane.hostep_mgr import HostEndpointManager
from calico.felix.dataplane.ifaceconf import InterfaceConfigurator
from calico.felix.dataplane.ipip_mgr import IPIPManager
from calico.felix.dataplane.ipsets_mgr import IPSetsManager
from calico.felix.dataplane.manager import Interfaces, Manager
from calico.felix.dataplane.masq_mgr import MasqManager
from calico.felix.dataplane.netlink import Netlink
from calico.felix.dataplane.policy_mgr import PolicyManager
from calico.felix.dataplane.procsys import ProcSys
from calico.felix.dataplane.routetable import RouteTable
from calico.felix.dataplane.schedule import ApplySchedule
from calico.felix.dataplane.tables import IptablesTables
from calico.felix.dataplane.vxlan_mgr import VXLANManager
from calico.felix.ipsets import IPSets
from calico.felix.iptables import CommandRunner
from calico.felix.messages import DataplaneMessage, HostEndpointID, InSync, WorkloadEndpointID
from calico.felix.rules import RuleRenderer
from calico.felix.rules.nat import nat_postrouting_chain

log = logging.getLogger(__name__)

EndpointKey = WorkloadEndpointID | HostEndpointID


@dataclass(frozen=True, slots=True)
class ApplyReport:
    seconds: float
    ok: bool
    endpoints: int
    policies: int
    ipsets: int


class FatalDataplaneError(DataplaneError):
    """The dataplane cannot be kept correct; felix must stop (fail closed)."""


def _ignore(*_: object) -> None:
    pass


class InternalDataplane:
    def __init__(
        self,
        config: DataplaneConfig,
        *,
        runner: CommandRunner,
        netlink: Netlink,
        procsys: ProcSys,
        clock: Callable[[], float] = time.monotonic,
        on_apply: Callable[[ApplyReport], None] = _ignore,
        on_endpoint_statuses: Callable[[Mapping[EndpointKey, str]], None] = _ignore,
        on_fatal: Callable[[BaseException], None] = _ignore,
    ) -> None:
        self.config = config
        self._netlink, self._clock = netlink, clock
        self._on_apply, self._on_statuses, self._on_fatal = on_apply, on_endpoint_statuses, on_fatal
        self.renderer = RuleRenderer(config.renderer_config())
        self.tables = IptablesTables(
            self.renderer,
            runner,
            config.ip_versions,
            backend=config.iptables_backend,
            insert_mode=config.chain_insert_mode,
        )
        self.ipsets = {v: IPSets(v, runner) for v in config.ip_versions}
        self.route_tables = {
            v: RouteTable(
                netlink,
                v,
                workload_prefixes=config.workload_iface_prefixes,
                device_route_protocol=config.device_route_protocol,
                remove_external_routes=config.remove_external_routes,
                grace=config.route_cleanup_grace,
                clock=clock,
            )
            for v in config.ip_versions
        }
        self._ifaces = InterfaceConfigurator(procsys, ipv6=6 in config.ip_versions)
        self._build_managers()
        self._schedule = ApplySchedule(
            config.min_apply_interval,
            {
                "iptables": config.iptables_refresh_interval,
                "ipsets": config.ipsets_refresh_interval,
                "routes": config.route_refresh_interval,
            },
        )
        self._interfaces = Interfaces()
        self.in_sync = False
        self.stopped = False
        self.applied_once = False
        self.last_apply_ok = False
        self.last_tick = clock()
        self._dirty = self._links_dirty = True
        self._failures = 0
        self._statuses: dict[EndpointKey, str] | None = None

    def _build_managers(self) -> None:
        cfg, r, t = self.config, self.renderer, self.tables
        self.ipsets_mgr = IPSetsManager(self.ipsets)
        self.policy_mgr = PolicyManager(r, t)
        self.endpoint_mgr = EndpointManager(
            r, t, self.route_tables, self._ifaces, device_route_protocol=cfg.device_route_protocol
        )
        self.hostep_mgr = HostEndpointManager(r, t)
        self.masq_mgr = MasqManager(r, t, self.ipsets)
        self.vxlan_mgr = VXLANManager(
            self._netlink,
            self.route_tables[4],
            self.ipsets[4],
            hostname=cfg.hostname,
            enabled=cfg.encap.vxlan,
            vni=cfg.vxlan_vni,
            port=cfg.vxlan_port,
            mtu=cfg.vxlan_mtu,
            on_tunnel_address=self._vxlan_address,
        )
        self.ipip_mgr = IPIPManager(
            self._netlink,
            self.route_tables[4],
            self.ipsets[4],
            hostname=cfg.hostname,
            enabled=cfg.encap.ipip,
            tunnel_address=cfg.ipip_tunnel_address,
            mtu=cfg.ipip_mtu,
        )
        self.managers: list[Manager] = [
            self.ipsets_mgr,
            self.policy_mgr,
            self.endpoint_mgr,
            self.hostep_mgr,
            self.masq_mgr,
            self.vxlan_mgr,
            self.ipip_mgr,
        ]

    @property
    def ready(self) -> bool:
        return self.in_sync and self.last_apply_ok

    # --- inputs and one step (:class:`.loop.DataplaneLoop` calls these on its thread) ---------

    def on_messages(self, messages: Sequence[DataplaneMessage]) -> None:
        for msg in messages:
            if isinstance(msg, InSync):
                if not self.in_sync:
                    log.info("Datastore in sync: the dataplane may now be programmed")
                self.in_sync = True
                continue
            for manager in self.managers:
                manager.on_update(msg)
        self._dirty = True

    def on_links_changed(self) -> None:
        """A link or address changed: re-read the interfaces at the next apply."""
        self._links_dirty = self._dirty = True

    def tick(self) -> float:
        """Run due refreshes and apply if it is time; returns when to call again."""
        now = self.last_tick = self._clock()
        if not self.in_sync or self.stopped:
            return now + 1.0
        for name in self._schedule.due_refreshes(now):
            self._refresh(name)
        grace = [d for t in self.route_tables.values() if (d := t.next_deadline()) is not None]
        if any(d <= now for d in grace):
            self._dirty = True
        if self._dirty and self._schedule.may_apply(now):
            self._try_apply()
        return self._schedule.next_wakeup(self._clock(), self._dirty, grace)

    def _refresh(self, name: str) -> None:
        log.debug("Periodic %s refresh", name)
        if name == "iptables":
            self.tables.invalidate()
        elif name == "ipsets":
            for ipsets in self.ipsets.values():
                ipsets.resync()
        elif name == "routes":
            for table in self.route_tables.values():
                table.resync()
            self.vxlan_mgr.resync()
            self._links_dirty = True
        self._dirty = True

    def _try_apply(self) -> None:
        start = self._clock()
        if not self.applied_once:
            self._schedule.start(start)
        ok = False
        try:
            self._apply()
            ok = True
        except (KernelUnsupportedError, FatalDataplaneError) as exc:
            self.fatal(exc)
        except DataplaneError as exc:
            if not self.stopped:
                log.warning("Dataplane apply incomplete, will retry: %s", exc)
        except Exception as exc:  # a bug: count it like an iptables failure
            log.exception("Unexpected error applying the dataplane")
            self._count_failure(exc)
        end = self._clock()
        self.last_apply_ok, self._dirty = ok, not ok
        self._schedule.applied(end, ok)
        self._on_apply(ApplyReport(end - start, ok, *self._counts()))

    def _counts(self) -> tuple[int, int, int]:
        endpoints = self.endpoint_mgr.endpoint_count + self.hostep_mgr.endpoint_count
        return endpoints, self.policy_mgr.policy_count, self.ipsets_mgr.active_count

    def fatal(self, exc: BaseException) -> None:
        """Give up: no more applies; felix is told to exit."""
        log.critical("Dataplane failure, stopping felix: %s", exc)
        self.stopped = True
        self._on_fatal(exc)

    def _count_failure(self, exc: Exception) -> None:
        self._failures += 1
        if self._failures >= self.config.max_iptables_failures:
            self.fatal(
                FatalDataplaneError(f"{self._failures} dataplane applies failed in a row: {exc}")
            )

    # --- the apply --------------------------------------------------------------------------

    def _apply(self) -> None:
        if self._links_dirty:
            self._read_interfaces()
        for manager in self.managers:
            manager.complete_deferred_work()
        self._counted(self._apply_ipset_updates)
        problems: list[str] = []
        self._step(problems, self.endpoint_mgr.apply_kernel)
        self._step(problems, self.vxlan_mgr.apply_kernel)
        self._step(problems, self.ipip_mgr.apply_kernel)
        if self.vxlan_mgr.links_changed or self.ipip_mgr.links_changed:
            self.vxlan_mgr.links_changed = self.ipip_mgr.links_changed = False
            self._read_interfaces()  # routes via a device created just now
        for table in self.route_tables.values():
            self._step(problems, partial(table.apply, self._interfaces.links))
        self._counted(self.tables.apply)
        self._failures = 0  # policy is programmed: whatever failed before has recovered
        for ipsets in self.ipsets.values():
            self._step(problems, ipsets.apply_deletions)
        if not self.applied_once:
            self._ifaces.configure_global()
            self.applied_once = True
        self._report_statuses()
        if problems:
            raise DataplaneError("; ".join(problems))

    def _apply_ipset_updates(self) -> None:
        for ipsets in self.ipsets.values():
            ipsets.apply_updates()

    def _counted(self, step: Callable[[], object]) -> None:
        """Run a step that policy enforcement depends on (IP set updates, iptables):
        its failures count towards giving up (the count resets once iptables is done)."""
        try:
            step()
        except DataplaneError as exc:
            self._count_failure(exc)
            raise

    @staticmethod
    def _step(problems: list[str], step: Callable[[], object]) -> None:
        try:
            step()
        except DataplaneError as exc:
            problems.append(str(exc))

    def _read_interfaces(self) -> None:
        self._interfaces = Interfaces.build(self._netlink.links(), self._netlink.addresses())
        for manager in self.managers:
            manager.on_interfaces(self._interfaces)
        self._links_dirty = False

    def _report_statuses(self) -> None:
        statuses: dict[EndpointKey, str] = {}
        statuses.update(self.endpoint_mgr.statuses().items())
        statuses.update(self.hostep_mgr.statuses().items())
        if statuses != self._statuses:
            self._statuses = statuses
            self._on_statuses(dict(statuses))

    def _vxlan_address(self, address: str) -> None:
        """This node's VXLAN tunnel address changed: fix the nat source rule."""
        self.renderer.config = replace(self.renderer.config, vxlan_tunnel_address=address)
        for version in self.config.ip_versions:
            chain = nat_postrouting_chain(self.renderer.config, version)
            self.tables.get("nat", version).set_chains([chain])
