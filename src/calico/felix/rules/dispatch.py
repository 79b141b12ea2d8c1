"""Dispatch chains: interface name → endpoint chain (Calico's ``felix/rules/dispatch.go``).

``cali-from-wl-dispatch`` sends a packet arriving on workload interface X to
``cali-fw-X`` (``--goto``, so the endpoint chain's RETURN goes straight back
to the base chain) and ``cali-to-wl-dispatch`` one leaving on X to
``cali-tw-X``.  Host endpoints have four such chains (from/to host endpoint,
from/to hep forward), in filter, mangle and raw.

Hundreds of endpoints in one flat list would make the last ones slow to
reach, so names are sorted, their common prefix found, and binned by the next
character: a bin with one name is a rule in the root chain; a bin with several
becomes ``-i <prefix><c>+ --goto <root>-<c>`` plus a child chain listing them.

What happens to a packet no rule matched is the security decision here:

* workload dispatch chains end with DROP "Unknown interface": a veth the CNI
  plugin created before felix learned of its endpoint must not be open;
* host dispatch chains end with nothing (the interface is not policed), or
  a goto to the wildcard (``*``) host endpoint's chain if there is one.
  Host→workload traffic skips the wildcard HEP's egress policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from calico.felix.messages import HostEndpoint
from calico.felix.rules import actions, names
from calico.felix.rules.config import RendererConfig
from calico.felix.rules.matches import Match
from calico.felix.rules.types import Chain, IptRule

_MatchFor = Callable[[str], Match]


def workload_dispatch_chains(cfg: RendererConfig, iface_names: Iterable[str]) -> list[Chain]:
    """From/to workload dispatch trees; unknown interfaces are denied."""
    end = (IptRule(action=actions.deny(cfg.filter_deny_action), comments=("Unknown interface",)),)
    return _dispatch_pair(
        iface_names,
        (names.WORKLOAD_FROM_ENDPOINT_PREFIX, names.CHAIN_FROM_WORKLOAD_DISPATCH, end),
        (names.WORKLOAD_TO_ENDPOINT_PREFIX, names.CHAIN_TO_WORKLOAD_DISPATCH, end),
    )


def host_dispatch_chains(
    cfg: RendererConfig, endpoints: Mapping[str, HostEndpoint]
) -> dict[str, list[Chain]]:
    """Host endpoint dispatch chains per table (every table a key).

    ``endpoints`` is keyed by interface name; ``*`` is the wildcard host
    endpoint, the default for interfaces without their own endpoint.
    Pre-DNAT (mangle) and untracked (raw) dispatch only list endpoints that
    have such policy.
    """
    normal = sorted(i for i in endpoints if i != "*")
    default = "*" if "*" in endpoints else ""
    pre_dnat = sorted(i for i in normal if endpoints[i].pre_dnat_tiers)
    pre_dnat_default = default if default and endpoints["*"].pre_dnat_tiers else ""
    untracked = [i for i in normal if endpoints[i].untracked_tiers]
    return {
        "raw": _host_chains(cfg, untracked, "", ingress=True, egress=True),
        "mangle": (
            _host_chains(cfg, pre_dnat, pre_dnat_default, ingress=True, egress=False)
            + _host_chains(cfg, normal, default, ingress=False, egress=True)
        ),
        "nat": [],
        "filter": _host_chains(cfg, normal, default, ingress=True, egress=True, forward=True),
    }


def _host_chains(
    cfg: RendererConfig,
    iface_names: Sequence[str],
    default_iface: str,
    *,
    ingress: bool,
    egress: bool,
    forward: bool = False,
) -> list[Chain]:
    # In filter (the call that also renders forward chains) cali-OUTPUT has already
    # returned host→workload packets; elsewhere the dispatch chain must skip them.
    from_end, to_end = _host_end_rules(cfg, default_iface, skip_workloads=not forward)
    chains = _dispatch_pair(
        iface_names,
        (names.HOST_FROM_ENDPOINT_PREFIX, names.CHAIN_FROM_HOST_ENDPOINT, from_end)
        if ingress
        else None,
        (names.HOST_TO_ENDPOINT_PREFIX, names.CHAIN_TO_HOST_ENDPOINT, to_end) if egress else None,
    )
    if forward:
        from_end, to_end = _host_end_rules(cfg, default_iface, skip_workloads=False, forward=True)
        chains += _dispatch_pair(
            iface_names,
            (names.HOST_FROM_ENDPOINT_FORWARD_PREFIX, names.CHAIN_FROM_HEP_FORWARD, from_end),
            (names.HOST_TO_ENDPOINT_FORWARD_PREFIX, names.CHAIN_TO_HEP_FORWARD, to_end),
        )
    return chains


def _host_end_rules(
    cfg: RendererConfig, default_iface: str, *, skip_workloads: bool, forward: bool = False
) -> tuple[tuple[IptRule, ...], tuple[IptRule, ...]]:
    """End rules of the from/to host dispatch chains: fall through, or the ``*`` HEP."""
    if not default_iface:
        return (), ()
    from_pfx, to_pfx = (
        (names.HOST_FROM_ENDPOINT_FORWARD_PREFIX, names.HOST_TO_ENDPOINT_FORWARD_PREFIX)
        if forward
        else (names.HOST_FROM_ENDPOINT_PREFIX, names.HOST_TO_ENDPOINT_PREFIX)
    )
    from_end = (IptRule(action=actions.goto(names.endpoint_chain_name(from_pfx, default_iface))),)
    to_end: tuple[IptRule, ...] = ()
    if skip_workloads:
        # Never apply the wildcard HEP's normal egress policy to host→workload traffic.
        to_end = tuple(
            IptRule(
                Match().out_interface(f"{prefix}+"),
                actions.RETURN,
                ("Skip egress WHEP policy for traffic to local workload",),
            )
            for prefix in cfg.workload_iface_prefixes
        )
    to_end += (IptRule(action=actions.goto(names.endpoint_chain_name(to_pfx, default_iface))),)
    return from_end, to_end


_Side = tuple[str, str, tuple[IptRule, ...]] | None  # (endpoint prefix, root chain, end rules)


def _dispatch_pair(iface_names: Iterable[str], from_side: _Side, to_side: _Side) -> list[Chain]:
    names_sorted = sorted(set(iface_names))
    if any(not n for n in names_sorted):
        raise ValueError("endpoint interface name is empty")
    chains: list[Chain] = []
    if from_side is not None:
        chains += dispatch_tree(names_sorted, *from_side, Match().in_interface)
    if to_side is not None:
        chains += dispatch_tree(names_sorted, *to_side, Match().out_interface)
    return chains


def dispatch_tree(
    iface_names: Sequence[str],
    endpoint_prefix: str,
    root: str,
    end_rules: tuple[IptRule, ...],
    match_iface: _MatchFor,
) -> list[Chain]:
    """Child chains then the root chain, for sorted, de-duplicated names."""
    common = _common_prefix(iface_names)
    bins: dict[str, list[str]] = {}
    for name in iface_names:
        bins.setdefault(name[: len(common) + 1], []).append(name)

    def to_endpoint(name: str) -> IptRule:
        chain = names.endpoint_chain_name(endpoint_prefix, name)
        return IptRule(match_iface(name), actions.goto(chain))

    children: list[Chain] = []
    root_rules: list[IptRule] = []
    for prefix, members in bins.items():
        if len(members) == 1:
            root_rules.append(to_endpoint(members[0]))
            continue
        child = f"{root}-{prefix[len(common) :]}"
        root_rules.append(IptRule(match_iface(f"{prefix}+"), actions.goto(child)))
        # The root used a goto, so the child must repeat the end rules.
        children.append(Chain(child, (*map(to_endpoint, members), *end_rules)))
    return [*children, Chain(root, (*root_rules, *end_rules))]


def _common_prefix(words: Sequence[str]) -> str:
    if not words:
        return ""
    first, last = min(words), max(words)  # the lexical extremes bound every prefix
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]
