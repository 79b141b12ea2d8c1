"""Tunnel addresses and MTU: what this node needs for the encapsulations in use.

As calico/node's ``allocateip.go``: for each tunnel type, if an enabled pool
that selects this node (and allows ``Tunnel`` use) has that encapsulation,
the node gets one address from IPAM, under the handle
``<type>-tunnel-addr-<node>`` with attributes ``{node, type}``, written to its
Node resource; when no such pool remains, the address is released and
removed from the Node.  An address that IPAM no longer records as ours
(released, reused, or outside every tunnel pool) is replaced.

=========  =================================  ===============================
type       Node field                         handle
=========  =================================  ===============================
IPIP       ``spec.bgp.ipv4IPIPTunnelAddr``    ``ipip-tunnel-addr-<node>``
VXLAN      ``spec.ipv4VXLANTunnelAddr``       ``vxlan-tunnel-addr-<node>``
VXLAN v6   ``spec.ipv6VXLANTunnelAddr``       ``vxlan-v6-tunnel-addr-<node>``
=========  =================================  ===============================

A VXLAN tunnel also needs a VTEP MAC (``vxlanTunnelMACAddr``): a random
locally administered unicast address, written once and kept even when VXLAN
goes away, so that peers' FDB entries stay right across changes.  IPIP
allocation works even on a kernel without IPIP (this machine): the
datastore is the same, and felix reports the missing device.

The MTU file for the CNI plugin is the host MTU minus the largest overhead of
the encapsulations any enabled pool uses (cluster-wide, as Felix decides it:
traffic from every pool may reach this node's workloads).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from calico.client import Client
from calico.datastore.keys import kind_prefix, resource_key
from calico.errors import CalicoError, ConflictError, DatastoreError, NotFoundError
from calico.ipam import IPAMClient
from calico.node import mtu
from calico.resources import Resource, parse_resource
from calico.selector import parse as parse_selector

_log = logging.getLogger(__name__)

Document = dict[str, Any]
MacSource = Callable[[], str]
UPDATE_ATTEMPTS = 5
# Felix's default MTUIfacePattern: the host's physical uplinks.
DEFAULT_MTU_IFACE_PATTERN = r"^((en|wl|ww|sl|ib)[Pcopsvx].*|(eth|wlan|wwan).*)"
ENCAP_MODES = ("Always", "CrossSubnet")


@dataclass(frozen=True, slots=True)
class TunnelType:
    attr_type: str  # the IPAM allocation attribute "type"
    handle_prefix: str
    address_path: tuple[str, ...]  # where in Node.spec the address lives
    mode_field: str  # the IPPool field that enables it
    version: int
    encap: str  # key of mtu.OVERHEAD
    mac_field: str = ""  # VXLAN: the VTEP MAC field of Node.spec

    def handle(self, node: str) -> str:
        return f"{self.handle_prefix}{node}"


IPIP = TunnelType("ipipTunnelAddress", "ipip-tunnel-addr-", ("bgp", "ipv4IPIPTunnelAddr"),
                  "ipipMode", 4, "ipip")  # fmt: skip
VXLAN = TunnelType("vxlanTunnelAddress", "vxlan-tunnel-addr-", ("ipv4VXLANTunnelAddr",),
                   "vxlanMode", 4, "vxlan", "vxlanTunnelMACAddr")  # fmt: skip
VXLAN_V6 = TunnelType("vxlanV6TunnelAddress", "vxlan-v6-tunnel-addr-", ("ipv6VXLANTunnelAddr",),
                      "vxlanMode", 6, "vxlan-v6", "vxlanTunnelMACAddrV6")  # fmt: skip
TUNNEL_TYPES = (IPIP, VXLAN, VXLAN_V6)


def random_vtep_mac() -> str:
    """A random unicast MAC with the locally-administered bit set."""
    raw = bytearray(secrets.token_bytes(6))
    raw[0] = (raw[0] & 0xFC) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


# -- reading pools and Nodes -------------------------------------------------


def tunnel_pool_cidrs(
    pools: Sequence[Document], labels: dict[str, str], tt: TunnelType
) -> list[str]:
    """CIDRs of the enabled pools of ``tt``'s family and mode that select this node."""
    cidrs = []
    for pool in pools:
        spec = pool.get("spec") or {}
        uses = spec.get("allowedUses") or ["Workload", "Tunnel"]
        if spec.get("disabled") or spec.get(tt.mode_field) not in ENCAP_MODES:
            continue
        if ipaddress.ip_network(spec["cidr"]).version != tt.version or "Tunnel" not in uses:
            continue
        if parse_selector(spec.get("nodeSelector") or "all()").evaluate(labels):
            cidrs.append(spec["cidr"])
    return cidrs


def enabled_encaps(pools: Sequence[Document]) -> list[str]:
    """``mtu.OVERHEAD`` keys of the encapsulations any enabled pool uses."""
    found = []
    for tt in TUNNEL_TYPES:
        for pool in pools:
            spec = pool.get("spec") or {}
            version = ipaddress.ip_network(spec["cidr"]).version
            in_use = spec.get(tt.mode_field) in ENCAP_MODES and not spec.get("disabled")
            if in_use and version == tt.version and tt.encap not in found:
                found.append(tt.encap)
    return found


def get_address(node: Document, tt: TunnelType) -> str:
    value: Any = node.get("spec") or {}
    for part in tt.address_path:
        value = (value or {}).get(part)
    return str(value or "")


def set_address(node: Document, tt: TunnelType, address: str) -> None:
    """Set (or with "" remove) the address; a parent left empty is removed (an
    empty ``bgp`` section is invalid)."""
    spec = node.setdefault("spec", {})
    *parents, leaf = tt.address_path
    holder = spec
    for part in parents:
        holder = holder.setdefault(part, {})
    if address:
        holder[leaf] = address
    else:
        holder.pop(leaf, None)
    for part in parents:
        if not spec.get(part):
            spec.pop(part, None)


# -- the allocator -------------------------------------------------------------


class TunnelAllocator:
    """Keeps this node's tunnel addresses in step with the IP pools."""

    def __init__(
        self, client: Client, node_name: str, *, new_mac: MacSource = random_vtep_mac
    ) -> None:
        self.client = client
        self.ipam = IPAMClient(client.datastore)
        self.node_name = node_name
        self.new_mac = new_mac

    def reconcile(self) -> Resource:
        """One pass over every tunnel type; returns the (possibly updated) Node.

        The Node write is compare-and-swap; on a conflict the addresses this
        pass assigned are released and the pass starts again from fresh reads.
        """
        for _ in range(UPDATE_ATTEMPTS):
            node = self.client.get("Node", self.node_name)
            pools = [p.to_dict() for p in self.client.list("IPPool")]
            doc = node.to_dict()
            assigned: list[TunnelType] = []
            try:
                for tt in TUNNEL_TYPES:
                    # A loop, not a comprehension: on a conflict we need
                    # whatever was assigned before it.
                    if self._reconcile_one(doc, pools, tt):
                        assigned.append(tt)  # noqa: PERF401
                if doc == node.to_dict():
                    return node
                return self.client.update(parse_resource(doc))
            except (ConflictError, NotFoundError):
                for tt in assigned:
                    self.ipam.release_by_handle(tt.handle(self.node_name))
        raise DatastoreError(f"could not update Node {self.node_name}: it kept changing")

    def _reconcile_one(self, doc: Document, pools: list[Document], tt: TunnelType) -> bool:
        """Bring one tunnel type up to date in ``doc``; True if it assigned an address."""
        labels = dict((doc.get("metadata") or {}).get("labels") or {})
        cidrs = tunnel_pool_cidrs(pools, labels, tt)
        if not cidrs:
            self._remove(doc, tt)
            return False
        if tt.mac_field and not doc["spec"].get(tt.mac_field):
            doc["spec"][tt.mac_field] = self.new_mac()
        current = get_address(doc, tt)
        if current and self._still_ours(current, tt, cidrs):
            return False
        if not current or self._owner(current) is None:
            # Defensive, as allocateip.go: an allocation the Node lost track of.
            self.ipam.release_by_handle(tt.handle(self.node_name))
        attrs = {"node": self.node_name, "type": tt.attr_type}
        num4, num6 = (1, 0) if tt.version == 4 else (0, 1)
        v4, v6 = self.ipam.auto_assign(
            num4, num6, tt.handle(self.node_name), attrs, self.node_name,
            ipv4_pools=cidrs if tt.version == 4 else None,
            ipv6_pools=cidrs if tt.version == 6 else None,
            intended_use="Tunnel",
        )  # fmt: skip
        address = (v4 or v6)[0].split("/")[0]
        _log.info("Assigned %s %s to node %s", tt.attr_type, address, self.node_name)
        set_address(doc, tt, address)
        return True

    def _owner(self, address: str) -> dict[str, str] | None:
        """The allocation attributes of ``address``; None if IPAM has it free."""
        attrs = self.ipam.get_assignment_attributes(address)
        return None if attrs is None else dict(attrs.active_owner_attrs or {})

    def _still_ours(self, address: str, tt: TunnelType, cidrs: list[str]) -> bool:
        owner = self._owner(address)
        if owner is None or owner.get("type") != tt.attr_type:
            return False  # released or taken by someone else: assign a new one
        if owner.get("node") != self.node_name:
            return False
        ip = ipaddress.ip_address(address)
        if not any(ip in ipaddress.ip_network(c) for c in cidrs):
            # Ours but in a pool that no longer tunnels: give it back.
            self.ipam.release_by_handle(tt.handle(self.node_name))
            return False
        return True

    def _remove(self, doc: Document, tt: TunnelType) -> None:
        address = get_address(doc, tt)
        released = self.ipam.release_by_handle(tt.handle(self.node_name))
        if address or released:
            _log.info("Released %s %s of node %s", tt.attr_type, address, self.node_name)
        set_address(doc, tt, "")


def write_mtu_file(
    client: Client,
    path: str,
    pattern: str = DEFAULT_MTU_IFACE_PATTERN,
    list_links: mtu.LinkLister = mtu.list_link_mtus,
) -> int:
    """Write the workload MTU for the encapsulations in use; returns it."""
    pools = [p.to_dict() for p in client.list("IPPool")]
    value = mtu.workload_mtu(mtu.host_mtu(pattern, list_links), enabled_encaps(pools))
    if mtu.read_mtu_file(path) != value:
        mtu.write_mtu_file(value, path)
        _log.info("Wrote workload MTU %d to %s", value, path)
    return value


class TunnelKeeper:
    """Runs ``allocator.reconcile()`` and ``after()`` again whenever an IP pool
    or this node's Node resource changes (its labels pick the pools), and
    every ``resync_interval`` seconds in case a watch missed something."""

    def __init__(
        self,
        allocator: TunnelAllocator,
        after: Callable[[], object] = lambda: None,
        *,
        resync_interval: float = 60.0,
        debounce: float = 0.2,
        error_backoff: float = 2.0,
    ) -> None:
        self.allocator = allocator
        self.after = after
        self.resync_interval = resync_interval
        self.debounce = debounce
        self.error_backoff = error_backoff

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._follow(stop)
            except CalicoError as exc:
                # Compacted watch, datastore hiccup, pool exhausted: start over.
                _log.warning("Tunnel address check failed (%s); retrying", exc)
                stop.wait(self.error_backoff)
            except Exception:  # never let a surprise end the node's upkeep
                _log.exception("Unexpected error in the tunnel address check; retrying")
                stop.wait(self.error_backoff)

    def _follow(self, stop: threading.Event) -> None:
        store = self.allocator.client.datastore
        start = store.current_revision() + 1  # before the first pass: no gap
        node_key = resource_key("Node", self.allocator.node_name)
        with (
            store.watch(kind_prefix("IPPool"), start) as pools,
            store.watch(node_key, start) as node,
        ):
            self._pass()
            last = time.monotonic()
            while not stop.is_set():
                changed = bool(pools.get(0.5)) | bool(node.get(0))
                if changed:
                    stop.wait(self.debounce)  # let a burst of writes settle
                if changed or time.monotonic() - last >= self.resync_interval:
                    self._pass()
                    last = time.monotonic()

    def _pass(self) -> None:
        self.allocator.reconcile()
        self.after()
