"""Cluster routes from IPAM blocks, pools and nodes (Calico's ``L3RouteResolver``).

Every host gets a route per IPAM block in the cluster, pointing at the block's
affine node: remote blocks are how traffic reaches other hosts' workloads
when felix (rather than BIRD) programs routes (VXLAN, IPIP), and local blocks
let the dataplane add a blackhole for the unused part of its own blocks.  An
address allocated from a block to some *other* node ("borrowed") gets its own
/32 (/128) route to that node, which wins by longest-prefix match.

Each route carries what the dataplane needs to program it:

* ``ip_pool_type``, ``nat_outgoing``: from the IP pool containing the route;
* ``dst_node_ip``: the node's ``spec.bgp.ipv4Address`` (IPv4 routes only);
* ``same_subnet``: the pool is CrossSubnet and the destination node's IP is
  inside this node's own subnet (its ipv4Address CIDR), so the route goes
  out natively rather than encapsulated (REFERENCE 7.6).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Protocol

from calico.felix.calc.model import BlockModel, NodeModel, PoolModel
from calico.felix.messages import EncapType, RouteType, RouteUpdate

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RouteCallbacks(Protocol):
    def on_route_update(self, update: RouteUpdate) -> None: ...

    def on_route_remove(self, dst: str) -> None: ...


class RouteResolver:
    def __init__(self, hostname: str, output: RouteCallbacks):
        self._hostname = hostname
        self._output = output
        self._blocks: dict[str, BlockModel] = {}  # block key -> block
        self._pools: dict[str, tuple[IPNetwork, PoolModel]] = {}
        self._nodes: dict[str, NodeModel] = {}
        # Who claims each destination: dst -> {block key: (node, borrowed)}.
        self._claims: dict[str, dict[str, tuple[str, bool]]] = {}
        self._dsts_by_node: dict[str, set[str]] = {}
        self._sent: dict[str, RouteUpdate] = {}

    def on_block(self, key: str, block: BlockModel | None) -> None:
        old = self._blocks.pop(key, None)
        if block is not None:
            self._blocks[key] = block
        old_claims, new_claims = _block_claims(old), _block_claims(block)
        for dst, _ in old_claims:
            self._unclaim(dst, key)
        for dst, claim in new_claims:
            self._claim(dst, key, claim)
        self._resolve({dst for dst, _ in old_claims + new_claims})

    def on_pool(self, name: str, pool: PoolModel | None) -> None:
        if pool is None:
            self._pools.pop(name, None)
        else:
            self._pools[name] = (ipaddress.ip_network(pool.cidr), pool)
        self._resolve(list(self._claims))  # pools are few and rarely change

    def on_node(self, name: str, node: NodeModel | None) -> None:
        if self._nodes.get(name) == node:
            return
        if node is None:
            self._nodes.pop(name, None)
        else:
            self._nodes[name] = node
        # Our own subnet decides same_subnet for every route.
        mine = name == self._hostname
        self._resolve(list(self._claims) if mine else list(self._dsts_by_node.get(name, ())))

    # -- internals ----------------------------------------------------------

    def _claim(self, dst: str, key: str, claim: tuple[str, bool]) -> None:
        self._claims.setdefault(dst, {})[key] = claim
        self._dsts_by_node.setdefault(claim[0], set()).add(dst)

    def _unclaim(self, dst: str, key: str) -> None:
        claims = self._claims[dst]
        node = claims.pop(key)[0]
        if not claims:
            del self._claims[dst]
        if not any(n == node for n, _ in claims.values()):
            dsts = self._dsts_by_node[node]
            dsts.discard(dst)
            if not dsts:
                del self._dsts_by_node[node]

    def _resolve(self, dsts: Iterable[str]) -> None:
        for dst in dsts:
            route = self._route(dst)
            if route is None:
                if self._sent.pop(dst, None) is not None:
                    self._output.on_route_remove(dst)
            elif self._sent.get(dst) != route:
                self._sent[dst] = route
                self._output.on_route_update(route)

    def _route(self, dst: str) -> RouteUpdate | None:
        claims = self._claims.get(dst)
        if not claims:
            return None
        # Two blocks claiming one destination is transient; pick one stably.
        node, borrowed = claims[min(claims)]
        network = ipaddress.ip_network(dst)
        pool = self._pool_for(network)
        local = node == self._hostname
        node_ip = self._node_ip(node) if network.version == 4 else ""
        return RouteUpdate(
            dst=dst,
            types=frozenset({RouteType.LOCAL_WORKLOAD if local else RouteType.REMOTE_WORKLOAD}),
            ip_pool_type=_pool_type(pool),
            dst_node_name=node,
            dst_node_ip=node_ip,
            same_subnet=_cross_subnet(pool) and self._in_my_subnet(node_ip),
            nat_outgoing=pool is not None and pool.nat_outgoing,
            local_workload=local and borrowed,
            borrowed=borrowed,
        )

    def _pool_for(self, network: IPNetwork) -> PoolModel | None:
        for pool_net, pool in self._pools.values():
            if pool_net.version == network.version and network.subnet_of(pool_net):  # type: ignore[arg-type]
                return pool
        return None

    def _node_ip(self, name: str) -> str:
        node = self._nodes.get(name)
        if node is None or not node.ipv4_address:
            return ""
        return str(ipaddress.ip_interface(node.ipv4_address).ip)

    def _in_my_subnet(self, node_ip: str) -> bool:
        me = self._nodes.get(self._hostname)
        if not node_ip or me is None or not me.ipv4_address:
            return False
        return ipaddress.ip_address(node_ip) in ipaddress.ip_interface(me.ipv4_address).network


def _block_claims(block: BlockModel | None) -> list[tuple[str, tuple[str, bool]]]:
    if block is None:
        return []
    claims = [(block.cidr, (block.host, False))] if block.host else []
    # An address is only "borrowed" from a block that some node owns.
    claims.extend((cidr, (node, bool(block.host))) for cidr, node in block.borrowed)
    return claims


def _pool_type(pool: PoolModel | None) -> EncapType:
    if pool is None or pool.load_balancer_only:
        return EncapType.NONE
    if pool.vxlan_mode != "Never":
        return EncapType.VXLAN
    if pool.ipip_mode != "Never":
        return EncapType.IPIP
    return EncapType.NONE


def _cross_subnet(pool: PoolModel | None) -> bool:
    return pool is not None and "CrossSubnet" in (pool.ipip_mode, pool.vxlan_mode)
