"""Cluster-wide facts passed through to the dataplane: pools, hosts, VTEPs.

* IP pools -> ``IPAMPoolUpdate`` (NAT-outgoing, encapsulation, and IPIP/VXLAN
  source checks need to know every pool);
* nodes -> ``HostMetadataUpdate`` with ``spec.bgp.ipv4Address`` (the set of
  host IPs that may send IPIP/VXLAN);
* nodes with a VXLAN tunnel address -> ``VXLANTunnelEndpointUpdate``
  (Calico's ``VXLANResolver``): the tunnel address, the MAC (generated from
  the node name if ``vxlanTunnelMACAddr`` is unset, exactly as Calico does, so
  every host derives the same one) and the parent device IP, which is the
  node's own IPv4 address.  A VTEP needs both addresses to exist.

Each output is sent only when it changes.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Protocol

from calico.felix.calc.model import NodeModel, PoolModel
from calico.felix.messages import (
    HostMetadataUpdate,
    IPAMPool,
    IPAMPoolUpdate,
    VXLANTunnelEndpointUpdate,
)


class HostCallbacks(Protocol):
    def on_pool_update(self, update: IPAMPoolUpdate) -> None: ...

    def on_pool_remove(self, pool_id: str) -> None: ...

    def on_host_update(self, update: HostMetadataUpdate) -> None: ...

    def on_host_remove(self, hostname: str) -> None: ...

    def on_vtep_update(self, update: VXLANTunnelEndpointUpdate) -> None: ...

    def on_vtep_remove(self, node: str) -> None: ...


def vtep_mac(node_name: str) -> str:
    """Calico's generated VTEP MAC: ``0x66`` ('f') then 5 bytes of SHA-1(node name)."""
    raw = b"f" + hashlib.sha1(node_name.encode()).digest()[:5]
    return ":".join(f"{byte:02x}" for byte in raw)


class HostResolver:
    def __init__(self, output: HostCallbacks):
        self._output = output
        self._pools: dict[str, IPAMPoolUpdate] = {}
        self._hosts: dict[str, HostMetadataUpdate] = {}
        self._vteps: dict[str, VXLANTunnelEndpointUpdate] = {}

    def on_pool(self, name: str, pool: PoolModel | None) -> None:
        update = None
        if pool is not None:
            fields = IPAMPool(
                pool.cidr, pool.nat_outgoing, pool.ipip_mode, pool.vxlan_mode, pool.disabled
            )
            update = IPAMPoolUpdate(name, fields)
        if self._pools.get(name) == update:
            return
        if update is None:
            del self._pools[name]
            self._output.on_pool_remove(name)
        else:
            self._pools[name] = update
            self._output.on_pool_update(update)

    def on_node(self, name: str, node: NodeModel | None) -> None:
        self._update_host(name, node)
        self._update_vtep(name, node)

    def _update_host(self, name: str, node: NodeModel | None) -> None:
        update = HostMetadataUpdate(name, node.ipv4_address) if node and node.ipv4_address else None
        if self._hosts.get(name) == update:
            return
        if update is None:
            del self._hosts[name]
            self._output.on_host_remove(name)
        else:
            self._hosts[name] = update
            self._output.on_host_update(update)

    def _update_vtep(self, name: str, node: NodeModel | None) -> None:
        update = None
        if node is not None and node.ipv4_address and node.ipv4_vxlan_tunnel_addr:
            update = VXLANTunnelEndpointUpdate(
                node=name,
                mac=node.vxlan_tunnel_mac or vtep_mac(name),
                ipv4_addr=node.ipv4_vxlan_tunnel_addr,
                parent_device_ip=str(ipaddress.ip_interface(node.ipv4_address).ip),
            )
        if self._vteps.get(name) == update:
            return
        if update is None:
            del self._vteps[name]
            self._output.on_vtep_remove(name)
        else:
            self._vteps[name] = update
            self._output.on_vtep_update(update)
