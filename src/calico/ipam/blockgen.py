"""The order in which a host walks a pool's blocks (libcalico-go ``randomBlockGenerator``).

Every host starts at a pseudo-random block index seeded by the FNV-32 hash of
its hostname and then walks the pool block by block, wrapping round, visiting
each block exactly once.  So one host always probes the same blocks in the
same order (two workloads starting together on a host do not claim two
blocks), while different hosts start in different places (they rarely race
for the same block).

Calico draws the start index from Go's ``math/rand``; we draw it from
Python's ``random.Random`` with the same FNV-32 seed.  The start differs from
Go's, but every property above holds, and it is what the upstream tests
(``randomblock_test.go``) check.

For pools of /32 (or /128) blocks a host gains nothing from a stable order,
so, as upstream, the seed is the clock: that spreads hosts and processes
across the single-address blocks and cuts the reads needed to find a free one.
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable, Iterable, Iterator

from calico.errors import IPAMError
from calico.ipam._types import IPAddress, IPNetwork

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def fnv32(data: bytes) -> int:
    """FNV-1 32-bit hash (Go's ``hash/fnv.New32``: multiply, then xor)."""
    h = _FNV32_OFFSET
    for byte in data:
        h = (h * _FNV32_PRIME) & 0xFFFFFFFF
        h ^= byte
    return h


def num_blocks(pool: IPNetwork, block_size: int) -> int:
    if block_size < pool.prefixlen or block_size > pool.max_prefixlen:
        raise IPAMError(f"block size /{block_size} does not fit pool {pool}")
    return 1 << (block_size - pool.prefixlen)


def nth_block(pool: IPNetwork, block_size: int, index: int) -> IPNetwork:
    step = 1 << (pool.max_prefixlen - block_size)
    base = pool.network_address + index * step
    return ipaddress.ip_network(f"{base}/{block_size}")


def block_cidr_for(ip: IPAddress, block_size: int) -> IPNetwork:
    """The block of ``block_size`` that holds ``ip``."""
    return ipaddress.ip_network(f"{ip}/{block_size}", strict=False)


def blocks_in(cidr: IPNetwork, block_size: int) -> Iterator[IPNetwork]:
    """Every block of ``block_size`` inside ``cidr``, in address order."""
    if cidr.prefixlen > block_size:
        raise IPAMError(f"CIDR {cidr} is smaller than a /{block_size} block")
    return cidr.subnets(new_prefix=block_size)


def start_index(pool: IPNetwork, block_size: int, hostname: str) -> int:
    """Where ``hostname`` starts walking ``pool``."""
    seed = time.time_ns() if block_size == pool.max_prefixlen else fnv32(hostname.encode())
    return random.Random(seed).randrange(num_blocks(pool, block_size))


def random_block_generator(pool: IPNetwork, block_size: int, hostname: str) -> Iterator[IPNetwork]:
    """Every block of ``pool`` once, starting at the host's start index."""
    count = num_blocks(pool, block_size)
    start = start_index(pool, block_size, hostname)
    for step in range(count):
        yield nth_block(pool, block_size, (start + step) % count)


def walk_order(pool: IPNetwork, block_size: int, hostname: str) -> Callable[[IPNetwork], int]:
    """A sort key putting blocks of ``pool`` in the host's walk order.

    Borrowing only looks at blocks that exist, and walking a large pool
    (an IPv6 /64 has 2**58 blocks) block by block to find them would never end;
    sorting the existing ones by this key visits them in the same order.
    """
    count = num_blocks(pool, block_size)
    start = start_index(pool, block_size, hostname)
    step = 1 << (pool.max_prefixlen - block_size)
    base = int(pool.network_address)

    def key(block: IPNetwork) -> int:
        return ((int(block.network_address) - base) // step - start) % count

    return key


def in_walk_order(
    blocks: Iterable[IPNetwork], pool: IPNetwork, block_size: int, hostname: str
) -> list[IPNetwork]:
    """The blocks of ``blocks`` that lie in ``pool``, in the host's walk order."""
    inside = [b for b in blocks if b.version == pool.version and b.network_address in pool]
    return sorted(inside, key=walk_order(pool, block_size, hostname))
