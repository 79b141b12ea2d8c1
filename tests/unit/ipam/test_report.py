"""calicoctl ipam text output: show, show --ip, --show-borrowed, --show-configuration,
release --ip, configure."""

from __future__ import annotations

import pytest

from calico.datastore import MemoryDatastore
from calico.errors import IPAMError, ValidationError
from calico.ipam import IPAMClient
from calico.ipam.report import (
    configure_ipam,
    release_ip,
    render_table,
    show_borrowed,
    show_configuration,
    show_ip,
    show_utilization,
)
from tests.unit.ipam._cluster import add_node, add_pool, add_reservation


@pytest.fixture
def cluster(ds: MemoryDatastore, ipam: IPAMClient) -> IPAMClient:
    """10.65.0.0/24: node1 holds 10.65.0.0-2 in 10.65.0.0/26, node2 borrows .3."""
    add_pool(ds, "default-ipv4-ippool", "10.65.0.0/24")
    add_node(ds, "node1")
    add_node(ds, "node2")
    add_reservation(ds, "r", "10.65.0.250/31")
    ipam.claim_affinity("10.65.0.0/26", "node1")
    for n in range(3):
        ipam.assign_ip(
            f"10.65.0.{n}", "web", {"node": "node1", "pod": "web", "namespace": "default"}, "node1"
        )
    ipam.assign_ip("10.65.0.3", "db", {"node": "node2", "pod": "db", "namespace": "prod"}, "node2")
    return ipam


def test_render_table_is_go_pretty_default_style() -> None:
    text = render_table(("NAME", "N"), [["a", "1"], ["bbb", "22"]], right_aligned={1})
    assert text == (
        "+------+----+\n| NAME | N  |\n+------+----+\n| a    |  1 |\n| bbb  | 22 |\n+------+----+"
    )


def test_show_utilization(cluster: IPAMClient) -> None:
    assert show_utilization(cluster) == (
        "+----------+--------------+-----------+------------+--------------+-----------+\n"
        "| GROUPING | CIDR         | IPS TOTAL | IPS IN USE | IPS RESERVED | IPS FREE  |\n"
        "+----------+--------------+-----------+------------+--------------+-----------+\n"
        "| IP Pool  | 10.65.0.0/24 |       256 |     4 (2%) |       2 (1%) | 250 (98%) |\n"
        "+----------+--------------+-----------+------------+--------------+-----------+"
    )


def test_show_blocks(cluster: IPAMClient) -> None:
    lines = show_utilization(cluster, show_blocks=True).splitlines()
    assert (
        lines[4]
        == "| Block    | 10.65.0.0/26 |        64 |     4 (6%) |       0 (0%) |  60 (94%) |"
    )
    assert len(lines) == 6


def test_large_numbers_use_go_g_format(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    add_pool(ds, "big", "10.0.0.0/8")
    row = show_utilization(ipam).splitlines()[3]
    assert "1.6777e+07" in row
    assert "1.6777e+07 (100%)" in row


def test_show_ip(cluster: IPAMClient) -> None:
    assert show_ip(cluster, "10.65.0.3") == (
        "IP 10.65.0.3 is in use\n"
        "Handle ID: db\n"
        "Active Owner Attributes:\n"
        "  namespace: prod\n"
        "  node: node2\n"
        "  pod: db"
    )
    assert show_ip(cluster, "10.65.0.77") == "10.65.0.77 is not assigned"


def test_show_ip_without_attributes(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    add_pool(ds, "p", "10.0.0.0/24")
    ipam.assign_ip("10.0.0.9", None, None, "node1")
    assert show_ip(ipam, "10.0.0.9") == (
        "IP 10.0.0.9 is in use\nHandle ID: <none>\nNo Active Owner attributes defined"
    )


def test_show_borrowed(cluster: IPAMClient) -> None:
    assert show_borrowed(cluster) == (
        "+-----------+----------------+--------------+-------------+------+--------------+\n"
        "| IP        | BORROWING-NODE | BLOCK        | BLOCK OWNER | TYPE | ALLOCATED-TO |\n"
        "+-----------+----------------+--------------+-------------+------+--------------+\n"
        "| 10.65.0.3 | node2          | 10.65.0.0/26 | node1       | pod  | prod/db      |\n"
        "+-----------+----------------+--------------+-------------+------+--------------+"
    )


def test_show_borrowed_counts_unclassified(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    add_pool(ds, "p", "10.0.0.0/24")
    ipam.assign_ip("10.0.0.9", "h", None, "node1")
    assert show_borrowed(ipam).endswith(
        "\n\nNote: found 1 IP allocations without an explicit node association. "
        "Unable to determine if they are borrowed."
    )


def test_show_configuration(ipam: IPAMClient) -> None:
    ipam.set_ipam_config(strict_affinity=True, max_blocks_per_host=5)
    assert show_configuration(ipam) == (
        "+--------------------+-------+\n"
        "| PROPERTY           | VALUE |\n"
        "+--------------------+-------+\n"
        "| StrictAffinity     | true  |\n"
        "| AutoAllocateBlocks | true  |\n"
        "| MaxBlocksPerHost   | 5     |\n"
        "| IPCooldownSeconds  | 0     |\n"
        "+--------------------+-------+"
    )


def test_release_ip(cluster: IPAMClient) -> None:
    assert release_ip(cluster, "10.65.0.3") == "Successfully released IP address 10.65.0.3"
    assert cluster.ips_by_handle("db") == []
    with pytest.raises(IPAMError, match=r"^IP address 10.65.0.3 is not assigned$"):
        release_ip(cluster, "10.65.0.3")
    with pytest.raises(IPAMError, match="invalid IP"):
        release_ip(cluster, "10.65.0.300")


def test_configure(ipam: IPAMClient) -> None:
    assert configure_ipam(ipam, strict_affinity=True, max_blocks_per_host=4) == (
        "Successfully set StrictAffinity to: true\nSuccessfully set MaxBlocksPerHost to: 4"
    )
    assert ipam.get_ipam_config().max_blocks_per_host == 4
    with pytest.raises(IPAMError, match="at least one"):
        configure_ipam(ipam)
    with pytest.raises(ValidationError, match="requires StrictAffinity"):
        configure_ipam(ipam, strict_affinity=False)
