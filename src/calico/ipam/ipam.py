"""IPAMClient: the public face of block-based IPAM (libcalico-go ``ipam.Interface``).

Every method works straight on a :class:`~calico.datastore.Datastore`; many
processes on many hosts may call them at once on one datastore.  Correctness
comes from compare-and-swap writes retried from fresh reads, never from locks
(see ``store`` and ``affinity``).

Addresses come back *block-masked*, as Calico returns them: ``10.65.0.5/26``
means address 10.65.0.5 from block 10.65.0.0/26; callers narrow to /32.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from typing import TypeVar

from calico.datastore import Datastore
from calico.errors import ConflictError, IPAMError, NoAddressesError, ValidationError
from calico.ipam import affinity as aff_ops
from calico.ipam import release as release_ops
from calico.ipam import store
from calico.ipam._types import IPAddress, IPNetwork, parse_ip
from calico.ipam.assign import AssignRequest, FamilyAssigner
from calico.ipam.block import AllocationAttribute, ReleaseOptions
from calico.ipam.blockgen import block_cidr_for, blocks_in
from calico.ipam.keys import AFFINITY_TYPE_HOST, AFFINITY_TYPE_VIRTUAL, AffinityKey
from calico.ipam.pools import (
    USE_LOADBALANCER,
    USE_WORKLOAD,
    IPAMConfig,
    IPPool,
    list_pools,
    pool_for_ip,
    read_ipam_config,
    write_ipam_config,
)
from calico.ipam.utilization import PoolUtilization, get_utilization

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class IPAMClient:
    def __init__(self, datastore: Datastore) -> None:
        self.datastore = datastore

    # -- assignment ---------------------------------------------------------

    def auto_assign(
        self,
        num4: int,
        num6: int,
        handle_id: str | None,
        attrs: Mapping[str, str] | None,
        hostname: str,
        ipv4_pools: Sequence[str] | None = None,
        ipv6_pools: Sequence[str] | None = None,
        max_blocks_per_host: int | None = None,
        intended_use: str = USE_WORKLOAD,
    ) -> tuple[list[str], list[str]]:
        """Assign ``num4`` IPv4 and ``num6`` IPv6 addresses to ``hostname``.

        All or nothing: if either family cannot be fully served, whatever was
        assigned is released again and NoAddressesError says why.
        """
        assigners: dict[int, FamilyAssigner] = {}
        try:
            for version, num, pools in ((4, num4, ipv4_pools), (6, num6, ipv6_pools)):
                if num <= 0:
                    continue
                request = AssignRequest(
                    num=num,
                    version=version,
                    handle_id=handle_id,
                    attrs=dict(attrs) if attrs else None,
                    hostname=hostname,
                    pools=_requested_pools(pools or (), version),
                    max_blocks_per_host=max_blocks_per_host or 0,
                    intended_use=intended_use,
                )
                assigner = assigners[version] = FamilyAssigner(self.datastore, request)
                assigner.run()
                if assigner.remaining > 0:
                    raise NoAddressesError(assigner.shortfall())
        except Exception:
            self._give_back([ip for a in assigners.values() for ip, _ in a.ips], handle_id)
            raise
        return _masked(assigners.get(4)), _masked(assigners.get(6))

    def _give_back(self, ips: list[IPAddress], handle: str | None) -> None:
        if not ips:
            return
        try:
            self.release_ips([ReleaseOptions(str(ip), handle) for ip in ips])
        except Exception as exc:  # the original error matters more
            _log.error("Failed to give back partially assigned %s: %s", ips, exc)

    def assign_ip(
        self,
        ip: str,
        handle_id: str | None,
        attrs: Mapping[str, str] | None,
        hostname: str,
        intended_use: str = USE_WORKLOAD,
    ) -> None:
        """Assign one specific address, claiming its block for ``hostname`` if
        nobody has it.  IPAMError if it is taken or outside every enabled pool."""
        address = parse_ip(ip)
        enabled = [p for p in list_pools(self.datastore, address.version) if not p.disabled]
        pool = pool_for_ip(enabled, address)
        if pool is None:
            raise IPAMError(f"The provided IP address {address} is not in a configured pool")
        if intended_use and intended_use not in pool.allowed_uses:
            raise IPAMError(
                f"IP address {address} is in IP pool {pool.name!r}, which is not allowed for "
                f"use {intended_use!r} (allowedUses: {list(pool.allowed_uses)})"
            )
        config = read_ipam_config(self.datastore)
        cidr = block_cidr_for(address, pool.block_size)
        atype = AFFINITY_TYPE_VIRTUAL if intended_use == USE_LOADBALANCER else AFFINITY_TYPE_HOST
        key = AffinityKey(hostname, cidr, atype)

        def attempt() -> None:
            kv = store.get_block(self.datastore, cidr, config.ip_cooldown_seconds)
            if kv is None:
                try:
                    pending = aff_ops.get_pending_affinity(self.datastore, key)
                    kv = aff_ops.claim_affine_block(self.datastore, pending)
                except aff_ops.BlockClaimConflict:
                    raise ConflictError(f"block {cidr} was claimed meanwhile") from None
            block = kv.block
            if config.strict_affinity and block.affinity != aff_ops.affinity_of(key):
                raise IPAMError(
                    f"cannot assign {address}: block {cidr} has affinity {block.affinity} "
                    "and strict affinity is enabled"
                )
            block.assign(address, handle_id, dict(attrs) if attrs else None)
            if handle_id is not None:
                store.increment_handle(self.datastore, handle_id, cidr, 1)
            try:
                store.update_block(self.datastore, kv)
            except Exception:
                if handle_id is not None:
                    store.decrement_handle(self.datastore, handle_id, cidr, 1)
                raise

        store.retry(f"assign {address}", attempt)

    # -- release ------------------------------------------------------------

    def release_ips(self, options: Sequence[ReleaseOptions]) -> list[str]:
        """Release addresses; returns the ones that were not allocated."""
        return release_ops.release_ips(self.datastore, options)

    def release_by_handle(self, handle_id: str) -> int:
        """Release every address of a handle; returns how many (0 if none)."""
        return release_ops.release_by_handle(self.datastore, handle_id)

    # -- queries ------------------------------------------------------------

    def ips_by_handle(self, handle_id: str) -> list[str]:
        """The addresses ``handle_id`` holds (plain addresses, no prefix)."""
        handle = store.get_handle(self.datastore, handle_id)
        if handle is None:
            return []
        cooldown = read_ipam_config(self.datastore).ip_cooldown_seconds
        found: list[str] = []
        for text in handle.blocks:
            kv = store.get_block(self.datastore, ipaddress.ip_network(text), cooldown)
            if kv is not None:
                found.extend(str(ip) for ip in kv.block.ips_by_handle(handle_id))
        return found

    def get_assignment_attributes(self, ip: str) -> AllocationAttribute | None:
        """Who holds ``ip``, or None if it is free (or cooling down)."""
        address = parse_ip(ip)
        cidr = self._block_of(address)
        if cidr is None:
            return None
        kv = store.get_block(
            self.datastore, cidr, read_ipam_config(self.datastore).ip_cooldown_seconds
        )
        return None if kv is None else kv.block.attributes_for(address)

    def _block_of(self, address: IPAddress) -> IPNetwork | None:
        pool = pool_for_ip(list_pools(self.datastore, address.version), address)
        if pool is not None:
            return block_cidr_for(address, pool.block_size)
        blocks = store.list_blocks(self.datastore, address.version)
        return next((kv.block.cidr for kv in blocks if address in kv.block.cidr), None)

    def get_utilization(self, pools: Sequence[str] = ()) -> list[PoolUtilization]:
        return get_utilization(self.datastore, pools)

    # -- affinities ---------------------------------------------------------

    def claim_affinity(self, cidr: str, host: str) -> tuple[list[str], list[str]]:
        """Claim every block of ``cidr`` for ``host``; returns (claimed, owned by others)."""
        network, pool = self._pool_range(cidr)
        claimed: list[str] = []
        failed: list[str] = []
        for block_cidr in blocks_in(network, pool.block_size):
            key = AffinityKey(host, block_cidr)

            def attempt(key: AffinityKey = key) -> None:
                pending = aff_ops.get_pending_affinity(self.datastore, key)
                aff_ops.claim_affine_block(self.datastore, pending)

            try:
                store.retry(f"claim {block_cidr}", attempt)
                claimed.append(str(block_cidr))
            except aff_ops.BlockClaimConflict:
                failed.append(str(block_cidr))
        return claimed, failed

    def release_affinity(self, cidr: str, host: str, must_be_empty: bool = False) -> None:
        """Release ``host``'s affinity for every block of ``cidr`` it owns."""
        network, pool = self._pool_range(cidr)
        for block_cidr in blocks_in(network, pool.block_size):
            aff_ops.release_quietly(
                self.datastore, AffinityKey(host, block_cidr), require_empty=must_be_empty
            )

    def release_host_affinities(self, host: str, must_be_empty: bool = False) -> None:
        """Release all of ``host``'s block affinities (both IP versions)."""
        for version in (4, 6):
            for aff in store.host_affinities(self.datastore, host, version):
                aff_ops.release_quietly(self.datastore, aff.key, require_empty=must_be_empty)

    def remove_ipam_host(self, host: str) -> None:
        """Forget a host: release its affinities and remove its IPAM keys.

        Its addresses stay allocated (their blocks lose their owner); releasing
        them is the job of whoever knows they are unused (``ipam check``).
        """
        self.release_host_affinities(host)
        aff_ops.remove_host_keys(self.datastore, host, AFFINITY_TYPE_HOST)

    def _pool_range(self, cidr: str) -> tuple[IPNetwork, IPPool]:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ValidationError("invalid CIDR", field="cidr", value=cidr) from None
        enabled = [p for p in list_pools(self.datastore, network.version) if not p.disabled]
        pool = pool_for_ip(enabled, network.network_address)
        if pool is None:
            raise IPAMError(f"The requested CIDR ({network}) is not within any configured pools.")
        if network.prefixlen > pool.block_size:
            raise IPAMError(f"The requested CIDR ({network}) is smaller than the minimum.")
        return network, pool

    # -- configuration ------------------------------------------------------

    def get_ipam_config(self) -> IPAMConfig:
        return read_ipam_config(self.datastore)

    def set_ipam_config(
        self,
        *,
        strict_affinity: bool | None = None,
        max_blocks_per_host: int | None = None,
        auto_allocate_blocks: bool | None = None,
        ip_cooldown_seconds: int | None = None,
    ) -> IPAMConfig:
        """Change the given settings (others keep their value); returns the result."""
        current = read_ipam_config(self.datastore)
        updated = IPAMConfig(
            strict_affinity=_pick(strict_affinity, current.strict_affinity),
            auto_allocate_blocks=_pick(auto_allocate_blocks, current.auto_allocate_blocks),
            max_blocks_per_host=_pick(max_blocks_per_host, current.max_blocks_per_host),
            ip_cooldown_seconds=_pick(ip_cooldown_seconds, current.ip_cooldown_seconds),
        )
        if updated != current:
            write_ipam_config(self.datastore, updated)
        return updated


def _pick(new: _T | None, old: _T) -> _T:
    return old if new is None else new


def _masked(assigner: FamilyAssigner | None) -> list[str]:
    return [] if assigner is None else [f"{ip}/{cidr.prefixlen}" for ip, cidr in assigner.ips]


def _requested_pools(pools: Sequence[str], version: int) -> tuple[str, ...]:
    """Normalise requested pools: CIDRs to canonical text (checked against the
    IP version), anything else taken as a pool name."""
    normalised: list[str] = []
    for text in pools:
        try:
            network = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            normalised.append(text.strip())
            continue
        if network.version != version:
            raise ValidationError(
                f"the IPv{version} pool list contains an IPv{network.version} pool",
                field=f"ipv{version}_pools",
                value=text,
            )
        normalised.append(str(network))
    return tuple(normalised)
