"""Per-host block walk order (libcalico-go ``randomblock_test.go`` and more)."""

from __future__ import annotations

import ipaddress

import pytest

from calico.errors import IPAMError
from calico.ipam.blockgen import (
    block_cidr_for,
    blocks_in,
    fnv32,
    in_walk_order,
    random_block_generator,
    start_index,
)


@pytest.mark.parametrize(
    ("cidr", "block_size"),
    [
        ("10.10.0.0/24", 26),  # IPv4, default block size
        ("fd80:24e2:f998:72d6::/120", 122),  # IPv6, default block size
        ("10.10.0.0/16", 20),  # IPv4, largest blocks
        ("fd80:24e2:f998:72d6::/114", 116),  # IPv6, largest blocks
        ("10.10.0.0/24", 32),  # IPv4, smallest blocks
        ("fd80:24e2:f998:72d6::/120", 128),  # IPv6, smallest blocks
    ],
)
def test_visits_every_block_of_the_pool_once(cidr: str, block_size: int) -> None:
    pool = ipaddress.ip_network(cidr)
    blocks = list(random_block_generator(pool, block_size, "testHost"))
    assert len(blocks) == pool.num_addresses // 2 ** (pool.max_prefixlen - block_size)
    assert len(set(blocks)) == len(blocks)
    for block in blocks:
        assert block.prefixlen == block_size
        assert block.network_address in pool
        assert block.broadcast_address in pool


def test_fnv32_is_go_fnv1_32() -> None:
    # Reference values of FNV-1 (not FNV-1a), as Go's hash/fnv.New32 computes.
    assert fnv32(b"") == 0x811C9DC5
    assert fnv32(b"a") == 0x050C5D7E
    assert fnv32(b"foobar") == 0x31F0B262


def test_same_host_same_order_and_hosts_diverge() -> None:
    pool = ipaddress.ip_network("10.0.0.0/16")
    first = list(random_block_generator(pool, 26, "node-a"))
    assert list(random_block_generator(pool, 26, "node-a")) == first
    starts = {start_index(pool, 26, f"node-{n}") for n in range(20)}
    assert len(starts) > 15


def test_walk_wraps_round_from_the_start_index() -> None:
    pool = ipaddress.ip_network("10.0.0.0/24")
    start = start_index(pool, 26, "host")
    order = [
        int(b.network_address) - int(pool.network_address)
        for b in random_block_generator(pool, 26, "host")
    ]
    assert order == [((start + i) % 4) * 64 for i in range(4)]


def test_existing_blocks_sorted_in_walk_order() -> None:
    pool = ipaddress.ip_network("10.0.0.0/22")
    walk = list(random_block_generator(pool, 26, "host"))
    existing = [walk[7], walk[2], walk[11], ipaddress.ip_network("192.168.0.0/26")]
    assert in_walk_order(existing, pool, 26, "host") == [walk[2], walk[7], walk[11]]


def test_block_helpers() -> None:
    assert block_cidr_for(ipaddress.ip_address("10.0.0.77"), 26) == ipaddress.ip_network(
        "10.0.0.64/26"
    )
    assert [str(b) for b in blocks_in(ipaddress.ip_network("10.0.0.0/25"), 26)] == [
        "10.0.0.0/26",
        "10.0.0.64/26",
    ]
    with pytest.raises(IPAMError):
        list(blocks_in(ipaddress.ip_network("10.0.0.0/28"), 26))
    with pytest.raises(IPAMError):
        list(random_block_generator(ipaddress.ip_network("10.0.0.0/28"), 26, "h"))
