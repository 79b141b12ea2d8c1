"""What IPAM reads from the v3 resources: pools, nodes, reservations and its config.

Values under ``/calico/resources/v3/projectcalico.org/...`` are full v3 JSON
with Calico's defaults applied by the writer; we still default the fields IPAM
depends on, so a hand-written or older object cannot make allocation fail.

IPAM configuration
~~~~~~~~~~~~~~~~~~
The v3 ``IPAMConfiguration`` named ``default`` is the single source of truth
(``calicoctl apply`` and ``calicoctl ipam configure`` both write it).  When it
does not exist we read Calico's legacy etcd key ``/calico/ipam/v2/config``
(where libcalico-go's etcd IPAM keeps it), then fall back to the defaults.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calico.datastore import Datastore
from calico.datastore.keys import kind_prefix, resource_key
from calico.errors import ValidationError
from calico.ipam._types import IPAddress, IPNetwork
from calico.ipam.keys import IPAM_CONFIG_KEY
from calico.ipam.reserved import Reservations, parse_reserved_cidrs
from calico.ipam.store import retry
from calico.selector import parse as parse_selector

_log = logging.getLogger(__name__)

USE_WORKLOAD = "Workload"
USE_TUNNEL = "Tunnel"
USE_LOADBALANCER = "LoadBalancer"
DEFAULT_MAX_BLOCKS_PER_HOST = 20  # libcalico-go's safeguard when the config says 0
IPAM_CONFIG_NAME = "default"

Document = dict[str, Any]


# -- pools -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IPPool:
    name: str
    cidr: IPNetwork
    block_size: int
    disabled: bool = False
    node_selector: str = "all()"
    allowed_uses: tuple[str, ...] = (USE_WORKLOAD, USE_TUNNEL)
    assignment_mode: str = "Automatic"

    @classmethod
    def from_resource(cls, doc: Document) -> IPPool:
        spec = doc.get("spec") or {}
        cidr = ipaddress.ip_network(spec["cidr"])
        return cls(
            name=(doc.get("metadata") or {}).get("name", str(cidr)),
            cidr=cidr,
            block_size=int(spec.get("blockSize") or (26 if cidr.version == 4 else 122)),
            disabled=bool(spec.get("disabled", False)),
            node_selector=spec.get("nodeSelector") or "all()",
            allowed_uses=tuple(spec.get("allowedUses") or (USE_WORKLOAD, USE_TUNNEL)),
            assignment_mode=spec.get("assignmentMode") or "Automatic",
        )

    def contains(self, ip: IPAddress) -> bool:
        return ip.version == self.cidr.version and ip in self.cidr

    def selects_node(self, labels: dict[str, str]) -> bool:
        """Whether ``nodeSelector`` matches the node's labels (SelectorError if bad)."""
        return parse_selector(self.node_selector).evaluate(labels)


def list_pools(ds: Datastore, version: int | None = None) -> list[IPPool]:
    """All IP pools (enabled or not), in name order."""
    items, _ = ds.list(kind_prefix("IPPool"))
    pools: list[IPPool] = []
    for kv in items:
        try:
            pool = IPPool.from_resource(json.loads(kv.value))
        except (ValueError, KeyError, TypeError) as exc:
            _log.warning("Ignoring malformed IPPool %s: %s", kv.key, exc)
            continue
        if version is None or pool.cidr.version == version:
            pools.append(pool)
    return pools


def pool_for_ip(pools: list[IPPool], ip: IPAddress) -> IPPool | None:
    return next((p for p in pools if p.contains(ip)), None)


# -- nodes -------------------------------------------------------------------


def get_node(ds: Datastore, name: str) -> Document | None:
    kv = ds.get(resource_key("Node", name))
    return None if kv is None else dict(json.loads(kv.value))


def list_nodes(ds: Datastore) -> dict[str, Document]:
    items, _ = ds.list(kind_prefix("Node"))
    nodes: dict[str, Document] = {}
    for kv in items:
        doc = json.loads(kv.value)
        nodes[(doc.get("metadata") or {}).get("name") or kv.key.rsplit("/", 1)[1]] = doc
    return nodes


def node_labels(node: Document) -> dict[str, str]:
    return dict((node.get("metadata") or {}).get("labels") or {})


def node_tunnel_addresses(node: Document) -> list[str]:
    """Addresses IPAM gave the node itself (IPIP, VXLAN, WireGuard), as written."""
    spec = node.get("spec") or {}
    found = [
        (spec.get("bgp") or {}).get("ipv4IPIPTunnelAddr"),
        spec.get("ipv4VXLANTunnelAddr"),
        spec.get("ipv6VXLANTunnelAddr"),
        (spec.get("wireguard") or {}).get("interfaceIPv4Address"),
        (spec.get("wireguard") or {}).get("interfaceIPv6Address"),
    ]
    return [a for a in found if a]


# -- reservations ------------------------------------------------------------


def read_reservations(ds: Datastore) -> Reservations:
    items, _ = ds.list(kind_prefix("IPReservation"))
    cidrs: list[IPNetwork] = []
    for kv in items:
        spec = json.loads(kv.value).get("spec") or {}
        cidrs.extend(parse_reserved_cidrs(spec.get("reservedCIDRs") or []))
    return Reservations(cidrs)


# -- IPAM configuration ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IPAMConfig:
    strict_affinity: bool = False
    auto_allocate_blocks: bool = True
    max_blocks_per_host: int = 0
    ip_cooldown_seconds: int = 0

    def validate(self) -> None:
        """The combinations libcalico-go's SetIPAMConfig refuses."""
        if not self.strict_affinity and not self.auto_allocate_blocks:
            raise ValidationError(
                "cannot disable 'StrictAffinity' and 'AutoAllocateBlocks' at the same time",
                field="spec.autoAllocateBlocks",
                value=False,
            )
        if self.max_blocks_per_host < 0:
            raise ValidationError(
                "must not be negative",
                field="spec.maxBlocksPerHost",
                value=self.max_blocks_per_host,
            )
        if self.max_blocks_per_host > 0 and not self.strict_affinity:
            raise ValidationError(
                "MaxBlocksPerHost requires StrictAffinity to be enabled",
                field="spec.maxBlocksPerHost",
                value=self.max_blocks_per_host,
            )
        if not 0 <= self.ip_cooldown_seconds <= 1200:
            raise ValidationError(
                "must be between 0 and 1200",
                field="spec.ipCooldownSeconds",
                value=self.ip_cooldown_seconds,
            )


def read_ipam_config(ds: Datastore) -> IPAMConfig:
    kv = ds.get(resource_key("IPAMConfiguration", IPAM_CONFIG_NAME))
    if kv is not None:
        spec = json.loads(kv.value).get("spec") or {}
        return IPAMConfig(
            strict_affinity=bool(spec.get("strictAffinity", False)),
            auto_allocate_blocks=bool(spec.get("autoAllocateBlocks", True)),
            max_blocks_per_host=int(spec.get("maxBlocksPerHost") or 0),
            ip_cooldown_seconds=int(spec.get("ipCooldownSeconds") or 0),
        )
    legacy = ds.get(IPAM_CONFIG_KEY)
    if legacy is not None:
        data = json.loads(legacy.value)
        return IPAMConfig(
            strict_affinity=bool(data.get("strict_affinity", False)),
            auto_allocate_blocks=bool(data.get("auto_allocate_blocks", False)),
            max_blocks_per_host=int(data.get("maxBlocksPerHost") or 0),
            ip_cooldown_seconds=int(data.get("ipCooldownSeconds") or 0),
        )
    return IPAMConfig()


def write_ipam_config(ds: Datastore, config: IPAMConfig) -> None:
    """Create or update ``IPAMConfiguration/default`` (compare-and-swap)."""
    config.validate()
    key = resource_key("IPAMConfiguration", IPAM_CONFIG_NAME)
    spec = {
        "strictAffinity": config.strict_affinity,
        "autoAllocateBlocks": config.auto_allocate_blocks,
        "maxBlocksPerHost": config.max_blocks_per_host,
        "ipCooldownSeconds": config.ip_cooldown_seconds,
    }

    def attempt() -> None:
        kv = ds.get(key)
        if kv is None:  # a concurrent create makes this raise, and retry re-reads
            ds.create(key, json.dumps(_new_ipam_config_document(spec), separators=(",", ":")))
            return
        doc = json.loads(kv.value)
        doc["spec"] = {**(doc.get("spec") or {}), **spec}
        ds.update(key, json.dumps(doc, separators=(",", ":")), kv.mod_revision)

    retry("write IPAM configuration", attempt)


def _new_ipam_config_document(spec: Document) -> Document:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPAMConfiguration",
        "metadata": {
            "name": IPAM_CONFIG_NAME,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": spec,
    }
