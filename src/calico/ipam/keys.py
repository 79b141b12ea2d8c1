"""Calico's etcd key layout for IPAM objects (libcalico-go ``model/block.go``,
``block_affinity.go``, ``ipam_handle.go``, ``ipam_config.go``).

::

    /calico/ipam/v2/assignment/ipv4/block/10.65.0.0-26          AllocationBlock
    /calico/ipam/v2/host/<node>/ipv4/block/10.65.0.0-26         affinity {state, deleted}
    /calico/ipam/v2/handle/<handle id>                           {block: {cidr: n}, deleted}
    /calico/ipam/v2/config                                       legacy IPAM config

CIDRs in keys replace ``/`` with ``-``.  The ``host`` segment of an affinity
key is really the affinity *type*: ``host`` for nodes, ``virtual`` for the
load-balancer pseudo-host.  Using Calico's exact keys means Calico's own
calicoctl can read an etcd that we wrote, and vice versa.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from calico.errors import ValidationError
from calico.ipam._types import IPNetwork

IPAM_PREFIX = "/calico/ipam/v2/"
ASSIGNMENT_PREFIX = IPAM_PREFIX + "assignment/"
HANDLE_PREFIX = IPAM_PREFIX + "handle/"
IPAM_CONFIG_KEY = IPAM_PREFIX + "config"

AFFINITY_TYPE_HOST = "host"
AFFINITY_TYPE_VIRTUAL = "virtual"
_AFFINITY_TYPES = (AFFINITY_TYPE_HOST, AFFINITY_TYPE_VIRTUAL)


def cidr_segment(cidr: IPNetwork) -> str:
    """``10.65.0.0/26`` -> ``10.65.0.0-26`` (the form used inside keys)."""
    return str(cidr).replace("/", "-", 1)


def parse_cidr_segment(segment: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(segment.replace("-", "/", 1), strict=True)
    except ValueError:
        return None


def _check_name(what: str, name: str) -> str:
    # A '/' would silently move the key into another subtree.
    if not name or "/" in name:
        raise ValidationError(
            f"{what} must be non-empty and contain no '/'", field=what, value=name
        )
    return name


# -- blocks ------------------------------------------------------------------


def block_prefix(version: int | None = None) -> str:
    """Prefix listing all blocks, or the blocks of one IP version."""
    return ASSIGNMENT_PREFIX if version is None else f"{ASSIGNMENT_PREFIX}ipv{version}/block/"


def block_key(cidr: IPNetwork) -> str:
    return f"{block_prefix(cidr.version)}{cidr_segment(cidr)}"


def parse_block_key(key: str) -> IPNetwork | None:
    if not key.startswith(ASSIGNMENT_PREFIX):
        return None
    parts = key[len(ASSIGNMENT_PREFIX) :].split("/")
    if len(parts) != 3 or parts[0] not in ("ipv4", "ipv6") or parts[1] != "block":
        return None
    return parse_cidr_segment(parts[2])


# -- affinities --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AffinityKey:
    """Identifies one block affinity: ``<type>:<host>`` owns ``cidr``."""

    host: str
    cidr: IPNetwork
    affinity_type: str = AFFINITY_TYPE_HOST

    @property
    def key(self) -> str:
        prefix = host_affinity_prefix(self.host, self.cidr.version, self.affinity_type)
        return prefix + cidr_segment(self.cidr)


def host_prefix(host: str, affinity_type: str = AFFINITY_TYPE_HOST) -> str:
    """Everything IPAM keeps for one host (all versions)."""
    return f"{IPAM_PREFIX}{affinity_type}/{_check_name('host', host)}/"


def host_affinity_prefix(host: str, version: int, affinity_type: str = AFFINITY_TYPE_HOST) -> str:
    return f"{host_prefix(host, affinity_type)}ipv{version}/block/"


def affinity_key(host: str, cidr: IPNetwork, affinity_type: str = AFFINITY_TYPE_HOST) -> str:
    return AffinityKey(host, cidr, affinity_type).key


def parse_affinity_key(key: str) -> AffinityKey | None:
    if not key.startswith(IPAM_PREFIX):
        return None
    parts = key[len(IPAM_PREFIX) :].split("/")
    if len(parts) != 5 or parts[0] not in _AFFINITY_TYPES:
        return None
    if parts[2] not in ("ipv4", "ipv6") or parts[3] != "block":
        return None
    cidr = parse_cidr_segment(parts[4])
    return None if cidr is None else AffinityKey(parts[1], cidr, parts[0])


# -- handles -----------------------------------------------------------------


def handle_key(handle_id: str) -> str:
    return HANDLE_PREFIX + _check_name("handle_id", handle_id)


def parse_handle_key(key: str) -> str | None:
    if not key.startswith(HANDLE_PREFIX):
        return None
    rest = key[len(HANDLE_PREFIX) :]
    return rest if rest and "/" not in rest else None
