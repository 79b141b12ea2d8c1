"""IP pool, Node, IPAM block and FelixConfiguration conversion for ``calico.felix.convert``.

These feed routing and encapsulation (pools, nodes, blocks) and restarts
(configuration), not policy.
"""

from __future__ import annotations

import ipaddress

from calico.datastore.keys import ResourceKey
from calico.felix._convert_base import Spec, spec_of
from calico.felix.calc.model import BlockModel, ConfigModel, NodeModel, PoolModel


def pool(rkey: ResourceKey, obj: Spec) -> PoolModel:
    spec = spec_of(obj)
    return PoolModel(
        name=rkey.name,
        cidr=str(ipaddress.ip_network(spec["cidr"])),
        ipip_mode=spec.get("ipipMode") or "Never",
        vxlan_mode=spec.get("vxlanMode") or "Never",
        nat_outgoing=bool(spec.get("natOutgoing")),
        disabled=bool(spec.get("disabled")),
        load_balancer_only=list(spec.get("allowedUses") or ()) == ["LoadBalancer"],
    )


def node(rkey: ResourceKey, obj: Spec) -> NodeModel:
    spec = spec_of(obj)
    address = (spec.get("bgp") or {}).get("ipv4Address") or ""
    if address:
        ipaddress.ip_interface(address)  # validate: a bad address is an invalid Node
    return NodeModel(
        name=rkey.name,
        ipv4_address=address,
        ipv4_vxlan_tunnel_addr=spec.get("ipv4VXLANTunnelAddr") or "",
        vxlan_tunnel_mac=spec.get("vxlanTunnelMACAddr") or "",
    )


def block(rkey: ResourceKey, obj: Spec) -> BlockModel | None:
    """An IPAM block (raw IPAM JSON, not a v3 object): its affinity, and the
    addresses in it that another node borrowed (those need routes there)."""
    if obj.get("deleted"):
        return None
    network = ipaddress.ip_network(obj["cidr"])
    affinity: str = obj.get("affinity") or ""
    host = affinity[len("host:") :] if affinity.startswith("host:") else ""
    attributes = obj.get("attributes") or []
    borrowed = []
    for ordinal, index in enumerate(obj.get("allocations") or ()):
        if index is None:
            continue
        node_name = (attributes[index].get("secondary") or {}).get("node") or ""
        if node_name and node_name != host:
            borrowed.append((f"{network[ordinal]}/{network.max_prefixlen}", node_name))
    return BlockModel(str(network), host, tuple(borrowed))


def felix_config(rkey: ResourceKey, obj: Spec) -> ConfigModel:
    return ConfigModel(rkey.name, dict(spec_of(obj)))
