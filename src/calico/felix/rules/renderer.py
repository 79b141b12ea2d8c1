"""The rule renderer: felix's dataplane messages → iptables chains.  Pure: no I/O.

Typical use by the dataplane (one :class:`~calico.felix.iptables.Table` per
table and IP version)::

    r = RuleRenderer(RendererConfig(workload_iface_prefixes=("cali", "tap")))
    for name in TABLES:
        table = tables[(name, 4)]
        table.set_chains(r.static_chains(name, 4))          # once, at start
        hooks = r.kernel_hooks(name, 4)
        for chain, rules in hooks.inserts.items():
            table.set_insert_rules(chain, rules)
        for chain, rules in hooks.appends.items():
            table.set_append_rules(chain, rules)
    filter4.set_chains(r.policy_to_chains(pid, policy, 4))   # on ActivePolicyUpdate
    raw4.set_chains(r.policy_to_chains(pid, policy, 4, "raw"))
    filter4.set_chains(r.workload_endpoint_chains(ep, 4))    # on WorkloadEndpointUpdate
    filter4.set_chains(r.workload_dispatch_chains(all_eps, 4))

:meth:`static_chains` returns a complete, loadable skeleton: besides the
static chains it includes the *initial* form of every chain they jump to that
is really dynamic (dispatch chains with no endpoints, empty ``cali-rpf-skip``,
floating-IP and cidr-block chains, ``cali-nat-outgoing`` per config).  Call it
once; later updates replace those chains by name.

Chains may be rendered for every table: the table driver only programs chains
reachable from its kernel hooks, so e.g. a policy chain handed to raw costs
nothing until an untracked host endpoint chain jumps to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from calico.felix.messages import (
    HostEndpoint,
    Policy,
    PolicyID,
    Profile,
    ProfileID,
    WorkloadEndpoint,
)
from calico.felix.rules import actions, dispatch, endpoints, failsafe, names, nat, policy, static
from calico.felix.rules.config import RendererConfig
from calico.felix.rules.types import Chain, IptRule, KernelHooks

TABLES = ("raw", "mangle", "nat", "filter")


class RuleRenderer:
    """Renders :mod:`calico.felix.messages` objects as :class:`Chain` lists."""

    def __init__(self, config: RendererConfig | None = None) -> None:
        self.config = config if config is not None else RendererConfig()

    # --- policy and profiles (filter table, and raw/mangle for untracked/pre-DNAT) ---

    def policy_to_chains(
        self, policy_id: PolicyID, pol: Policy, ip_version: int, table: str = "filter"
    ) -> list[Chain]:
        """``[cali-pi-<id>, cali-po-<id>]``, or ``[]`` for a staged policy.

        Render separately for raw and mangle (untracked / pre-DNAT policy):
        a deny there is DROP even when IptablesFilterDenyAction is REJECT.
        """
        return policy.policy_to_chains(self.config, policy_id, pol, ip_version, table)

    def profile_to_chains(
        self, profile_id: ProfileID, profile: Profile, ip_version: int, table: str = "filter"
    ) -> list[Chain]:
        """``[cali-pri-<name>, cali-pro-<name>]``."""
        return policy.profile_to_chains(self.config, profile_id, profile, ip_version, table)

    # --- endpoints -------------------------------------------------------------------

    def workload_endpoint_chains(self, endpoint: WorkloadEndpoint, ip_version: int) -> list[Chain]:
        """``[cali-tw-<iface>, cali-fw-<iface>]`` (filter).  Identical for both
        families; ``ip_version`` keeps every render call the same shape."""
        del ip_version
        return endpoints.workload_endpoint_chains(self.config, endpoint)

    def host_endpoint_chains(
        self, endpoint: HostEndpoint, ip_version: int, iface: str | None = None
    ) -> dict[str, list[Chain]]:
        """Chains per table name for a host endpoint bound to ``iface``
        (default ``endpoint.name``; ``*`` for the all-interfaces endpoint)."""
        del ip_version
        return endpoints.host_endpoint_chains(self.config, endpoint, iface or endpoint.name)

    def workload_dispatch_chains(
        self, workloads: Iterable[WorkloadEndpoint | str], ip_version: int
    ) -> list[Chain]:
        """``cali-from-wl-dispatch`` / ``cali-to-wl-dispatch`` trees (filter)."""
        del ip_version
        iface_names = [w if isinstance(w, str) else w.name for w in workloads]
        return dispatch.workload_dispatch_chains(self.config, iface_names)

    def host_dispatch_chains(
        self, host_endpoints: Mapping[str, HostEndpoint], ip_version: int
    ) -> dict[str, list[Chain]]:
        """Host dispatch chains per table; keys of ``host_endpoints`` are
        interface names, ``*`` the wildcard host endpoint."""
        del ip_version
        return dispatch.host_dispatch_chains(self.config, host_endpoints)

    def rpf_skip_chain(self, workloads: Iterable[WorkloadEndpoint], ip_version: int) -> Chain:
        """``cali-rpf-skip`` (raw) from the workloads' allowSpoofedSourcePrefixes."""
        return static.rpf_skip_chain(workloads, ip_version)

    # --- nat -----------------------------------------------------------------------

    def nat_outgoing_chain(self, active: bool, ip_version: int) -> Chain:
        return nat.nat_outgoing_chain(self.config, active, ip_version)

    def floating_ip_chains(
        self, workloads: Iterable[WorkloadEndpoint], ip_version: int
    ) -> list[Chain]:
        return nat.floating_ip_chains(workloads, ip_version)

    # --- static skeleton ---------------------------------------------------------------

    def static_chains(self, table: str, ip_version: int) -> list[Chain]:
        """The static chains of ``table`` plus initial forms of the dynamic
        chains they reference (see module docstring)."""
        cfg, v = self.config, ip_version
        if table == "filter":
            return [
                static.filter_forward_chain(cfg),
                static.filter_input_chain(cfg, v),
                static.workload_to_host_chain(cfg, v),
                failsafe.failsafe_in_chain(cfg, v, raw=False),
                static.filter_output_chain(cfg, v),
                failsafe.failsafe_out_chain(cfg, v, raw=False),
                Chain(names.CHAIN_CIDR_BLOCK),
                *dispatch.workload_dispatch_chains(cfg, []),
                *dispatch.host_dispatch_chains(cfg, {})["filter"],
            ]
        if table == "raw":
            return [
                failsafe.failsafe_in_chain(cfg, v, raw=True),
                failsafe.failsafe_out_chain(cfg, v, raw=True),
                static.raw_prerouting_chain(cfg, v),
                static.raw_output_chain(cfg, v),
                static.rpf_skip_chain([], v),
                *dispatch.host_dispatch_chains(cfg, {})["raw"],
            ]
        if table == "mangle":
            return [
                failsafe.failsafe_in_chain(cfg, v, raw=False),
                failsafe.failsafe_out_chain(cfg, v, raw=False),
                static.mangle_prerouting_chain(cfg),
                static.mangle_postrouting_chain(cfg),
                *dispatch.host_dispatch_chains(cfg, {})["mangle"],
            ]
        if table == "nat":
            return [
                nat.nat_prerouting_chain(cfg, v),
                nat.nat_postrouting_chain(cfg, v),
                nat.nat_output_chain(),
                nat.nat_outgoing_chain(cfg, cfg.nat_outgoing, v),
                *nat.floating_ip_chains([], v),
            ]
        raise ValueError(f"unknown iptables table {table!r}; expected one of {TABLES}")

    def kernel_hooks(self, table: str, ip_version: int) -> KernelHooks:
        """The jumps from kernel chains into ours (plus FORWARD's appended accept).

        nat POSTROUTING is appended, not inserted: kube-proxy's MASQUERADE mark
        must be consumed by its own chain before ours can masquerade.
        """
        del ip_version

        def to(chain: str) -> tuple[IptRule, ...]:
            return (IptRule(action=actions.jump(chain)),)

        if table == "raw":
            return KernelHooks(
                {"PREROUTING": to(names.CHAIN_RAW_PREROUTING), "OUTPUT": to(names.CHAIN_RAW_OUTPUT)}
            )
        if table == "mangle":
            return KernelHooks(
                {
                    "PREROUTING": to(names.CHAIN_MANGLE_PREROUTING),
                    "POSTROUTING": to(names.CHAIN_MANGLE_POSTROUTING),
                }
            )
        if table == "nat":
            return KernelHooks(
                {
                    "PREROUTING": to(names.CHAIN_NAT_PREROUTING),
                    "OUTPUT": to(names.CHAIN_NAT_OUTPUT),
                },
                {"POSTROUTING": to(names.CHAIN_NAT_POSTROUTING)},
            )
        if table == "filter":
            return KernelHooks(
                {
                    "FORWARD": to(names.CHAIN_FILTER_FORWARD),
                    "INPUT": to(names.CHAIN_FILTER_INPUT),
                    "OUTPUT": to(names.CHAIN_FILTER_OUTPUT),
                },
                {"FORWARD": static.filter_forward_append_rules(self.config)},
            )
        raise ValueError(f"unknown iptables table {table!r}; expected one of {TABLES}")
