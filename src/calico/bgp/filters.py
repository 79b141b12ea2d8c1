"""The BIRD filter code of the config: which routes go to peers and to the kernel.

Calico's ``bird_aggr.cfg`` and ``bird_ipam.cfg`` templates plus the filter
strings ``bgp_processor.go`` builds, translated to BIRD 2.  The logic is
Calico's, statement for statement, with two changes BIRD 2 forces:

* BIRD 1 never exported connected (device) routes to the kernel; BIRD 2 does,
  and would add a second copy of every connected route with ``proto bird``.
  ``calico_kernel_programming`` therefore rejects ``RTS_DEVICE`` first.
* Calico's BIRD fork has ``krt_tunnel`` so BIRD can program IPIP routes via
  ``tunl0``; stock BIRD 2 has no such attribute.  IPIP pools are therefore
  always left to Felix (Calico's default since v3.33, ``programClusterRoutes:
  EnabledNoEncapOnly``); if the BGPConfiguration asks BIRD to own them we
  warn and still reject them from the kernel.

Route priority: Felix may give a workload route an elevated priority (a
kernel metric below ``ipv4NormalRoutePriority``, 1024), e.g. for a VM being
live-migrated.  Such a /32 escapes aggregation, travels as
``bgp_local_pref = 2^31-1 - metric`` and is installed by the receiver with
that metric and a BIRD preference that beats its own local route.  A kernel
route with metric 0 (what the CNI plugin and Felix write) is *normal*
priority: Linux omits RTA_PRIORITY for metric 0, so BIRD 1 saw ``krt_metric``
undefined, whereas BIRD 2 reports 0; the export filter treats 0 as unset.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from calico.bgp.model import Pool

_log = logging.getLogger(__name__)

BIRD_INT_MAX = 2147483647  # bgp_local_pref = BIRD_INT_MAX - kernel metric
OVERRIDE_PREFERENCE = 200  # beats the kernel protocol's own routes (preference 10)
# Felix's tunnel devices: routes learned from them are never sent to iBGP peers.
FELIX_TUNNEL_INTERFACES = ("*.cali", "*.calico", "tunl0")


@dataclass(frozen=True)
class ClusterRoutePolicy:
    """Which pools' cluster routes BIRD programs (``programClusterRoutes``)."""

    ipip: bool = False
    no_encap: bool = True

    @classmethod
    def from_setting(cls, value: str) -> ClusterRoutePolicy:
        table = {
            "Disabled": cls(False, False),
            "Enabled": cls(True, True),
            "EnabledIPIPOnly": cls(True, False),
            "EnabledNoEncapOnly": cls(False, True),
        }
        policy = table.get(value)
        if policy is None:
            _log.warning("Unknown programClusterRoutes %r; using EnabledNoEncapOnly", value)
            policy = cls()
        if policy.ipip:
            _log.warning(
                "programClusterRoutes=%s asks BIRD to program IPIP routes, which needs "
                "Calico's BIRD fork (krt_tunnel); leaving IPIP cluster routes to Felix",
                value,
            )
            policy = cls(False, policy.no_encap)
        return policy

    def programs(self, pool: Pool) -> bool:
        if pool.uses_vxlan:
            return False
        return self.ipip if pool.uses_ipip else self.no_encap


def calico_aggr(blocks: Iterable[ipaddress.IPv4Network], normal_priority: int) -> str:
    """Export each of our blocks as one route, and nothing inside it.

    A borrowed /32 lies outside our blocks, so it is not caught here and is
    exported on its own; longest-prefix match then beats the owner's block.
    """
    lines = ["# Aggregation of routes on this host; export the block, nothing beneath it.",
             "function calico_aggr()", "{"]  # fmt: skip
    for block in blocks:
        lines += [
            f"  # Block {block} is confirmed",
            f"  if ( net = {block} ) then {{ accept; }}",
            f"  if ( net ~ {block} && krt_metric < {normal_priority} ) then {{ accept; }}",
            f"  if ( net ~ {block} ) then {{ reject; }}",
        ]
    return "\n".join([*lines, "}"])


def reject_local_routes() -> str:
    return """\
function reject_local_routes()
{
  # Don't export local routes learned via BPF as they should never leave the node.
  if (defined(ifname)) then {
    if (ifname ~ "bpf*.cali") then { reject; }
  }
}"""


def export_to_bgp_peers(pools: Iterable[Pool], policy: ClusterRoutePolicy) -> str:
    """``calico_export_to_bgp_peers(internal_peer)``: what any peer may receive."""
    pools = list(pools)
    rejected = sorted(_pool_statement(p, "reject", "BGP export is disabled.")
                      for p in pools if p.disable_bgp_export)  # fmt: skip
    accepted = sorted(_pool_statement(p, "accept") for p in pools if not p.disable_bgp_export)
    tunnels = " || ".join(f'(ifname ~ "{pattern}")' for pattern in FELIX_TUNNEL_INTERFACES)
    return "\n".join(
        [
            "function calico_export_to_bgp_peers(bool internal_peer)",
            "{",
            "  # Filter code terminates when it calls `accept;` or `reject;`.",
            *rejected,
            "  if (internal_peer) then {",
            "    # Felix programs tunnel routes on every node: never pass them on over iBGP.",
            f"    if (defined(ifname)) then {{ if ({tunnels}) then {{ reject; }} }}",
            "  }",
            "  reject_local_routes();",
            "  calico_aggr();",
            *accepted,
            "}",
        ]
    )


def kernel_programming(
    pools: Iterable[Pool], policy: ClusterRoutePolicy, normal_priority: int
) -> str:
    """``filter calico_kernel_programming``: which routes BIRD writes into the kernel."""
    statements = sorted(_kernel_statement(p, policy) for p in pools)
    return "\n".join(
        [
            "filter calico_kernel_programming",
            "{",
            "  # The kernel has its connected routes already (BIRD 1 never exported them).",
            "  if (source = RTS_DEVICE) then { reject; }",
            "  if (defined(source) && (source = RTS_BGP) && !defined(krt_metric)) then {",
            f"    krt_metric = {normal_priority};",
            "    if (defined(bgp_local_pref)) then {",
            f"      krt_metric = {BIRD_INT_MAX} - bgp_local_pref;",
            "    }",
            f"    if (krt_metric < {normal_priority}) then {{",
            f"      preference = {OVERRIDE_PREFERENCE};",
            "    }",
            "  }",
            *statements,
            "  accept;  # Not in any pool: the operator's or another protocol's route.",
            "}",
        ]
    )


def peer_import_filter(normal_priority: int) -> list[str]:
    """Import everything a peer sends, as Calico does (it cannot know the upstream topology)."""
    return [
        f"if (defined(bgp_local_pref) && (bgp_local_pref > {BIRD_INT_MAX - normal_priority}))",
        f"  then preference = {OVERRIDE_PREFERENCE};",
        "accept;",
    ]


def peer_export_filter(internal: bool, normal_priority: int) -> list[str]:
    """Carry the route's priority in ``bgp_local_pref``, then Calico's export rules."""
    return [
        "if (defined(source) && source = RTS_BGP && defined(bgp_local_pref)) then {",
        f"  krt_metric = {BIRD_INT_MAX} - bgp_local_pref;",
        "} else {",
        "  # Metric 0 is the kernel's 'no metric' (BIRD 1 saw krt_metric undefined).",
        f"  if (!defined(krt_metric) || krt_metric = 0) then {{ krt_metric = {normal_priority}; }}",
        f"  bgp_local_pref = {BIRD_INT_MAX} - krt_metric;",
        "}",
        f"calico_export_to_bgp_peers({'true' if internal else 'false'});",
        "reject;",
    ]


def _kernel_statement(pool: Pool, policy: ClusterRoutePolicy) -> str:
    if pool.uses_vxlan:
        return _pool_statement(pool, "reject", "VXLAN routes are handled by Felix.")
    if policy.programs(pool):
        return _pool_statement(pool, "accept")
    return _pool_statement(pool, "reject", "Cluster routes are handled by Felix.")


def _pool_statement(pool: Pool, action: str, comment: str = "") -> str:
    statement = f"  if (net ~ {pool.cidr}) then {{ {action}; }}"
    return f"{statement} # {comment}" if comment else statement
