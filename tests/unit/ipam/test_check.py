"""``ipam check``: every kind of problem it reports, its text and its JSON report."""

from __future__ import annotations

import json

from calico.datastore import MemoryDatastore
from calico.ipam import IPAMClient
from calico.ipam import keys as ipam_keys
from calico.ipam.check import check_ipam
from calico.ipam.report import render_check
from tests.unit.ipam._cluster import add_node, add_pool, add_workload, block_of, stored_block


def healthy(ds: MemoryDatastore, ipam: IPAMClient) -> list[str]:
    """Two workloads and a node tunnel address, all consistent."""
    add_pool(ds, "pool", "10.0.0.0/24")
    add_node(ds, "node1")
    ips = []
    for name in ("a", "b"):
        v4, _ = ipam.auto_assign(1, 0, f"net.{name}", {"node": "node1", "pod": name}, "node1")
        address = v4[0].split("/")[0]
        add_workload(ds, name, "node1", f"{address}/32")
        ips.append(address)
    v4, _ = ipam.auto_assign(
        1, 0, "ipip-tunnel-addr-node1", {"node": "node1"}, "node1", intended_use="Tunnel"
    )
    add_node(ds, "node1", bgp={"ipv4IPIPTunnelAddr": v4[0].split("/")[0]})
    return ips


def test_consistent_cluster_has_no_problems(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    healthy(ds, ipam)
    report = check_ipam(ds)
    assert report.problems == 0
    assert report.num_allocations == 3
    assert report.num_workload_ips == 2
    assert report.num_node_ips == 1
    text = render_check(report)
    assert "Found 1 IPAM blocks." in text
    assert "Found 1 node tunnel IPs." in text
    assert "Found 2 workload IPs." in text
    assert "Workloads and nodes are using 3 IPs." in text
    assert text.endswith("Check complete; found 0 problems.")


def test_leaked_ip(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    ips = healthy(ds, ipam)
    ds.delete("/calico/resources/v3/projectcalico.org/workloadendpoints/default/a")
    report = check_ipam(ds)
    assert report.leaked_ips == [ips[0]]
    assert report.problems == 1
    text = render_check(report, show_problem_ips=True)
    assert f"  {ips[0]} leaked; attrs Main:net.a Extra:node=node1,pod=a" in text
    assert "Found 1 IPs that are allocated in IPAM but not actually in use." in text
    assert text.endswith("Check complete; found 1 problems.")


def test_ip_in_cooldown_is_not_a_leak(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    healthy(ds, ipam)
    ipam.set_ipam_config(ip_cooldown_seconds=600)
    ds.delete("/calico/resources/v3/projectcalico.org/workloadendpoints/default/a")
    ipam.release_by_handle("net.a")
    report = check_ipam(ds)
    # The released address is still recorded, in cooldown: that is the case
    # under test (a release that freed it at once would prove nothing).
    cooling = [a for allocs in report.allocations.values() for a in allocs if a.cooling_down]
    assert len(cooling) == 1, report.allocations
    assert report.problems == 0


def test_in_use_ips_without_allocation(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    healthy(ds, ipam)
    add_workload(ds, "rogue", "node1", "10.0.0.200/32", "192.168.5.5/32")
    report = check_ipam(ds)
    assert report.in_use_unallocated_ips == ["10.0.0.200"]
    assert report.non_calico_ips == ["192.168.5.5"]
    text = render_check(report, show_problem_ips=True)
    assert (
        "  10.0.0.200 in use by Workload(default/rogue) and in active IPAM pool but has no IPAM "
        "allocation." in text
    )
    assert "  192.168.5.5 in use by Workload(default/rogue) is not in any active IP pool." in text
    assert report.problems == 2


def test_handle_problems(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    healthy(ds, ipam)
    ds.put(
        ipam_keys.handle_key("orphan"), json.dumps({"block": {"10.0.0.0/26": 1}, "deleted": False})
    )
    ds.delete(ipam_keys.handle_key("net.b"))
    report = check_ipam(ds)
    assert report.leaked_handles == ["orphan"]
    assert report.missing_handles == ["net.b"]
    text = render_check(report, show_all_ips=True, show_problem_ips=True)
    assert "  orphan doesn't have any active IPs." in text
    assert "  net.b is in use in a block but doesn't exist." in text
    assert "Found 1 handles with no matching IPs (and 2 handles with matches)." in text
    leaked = json.loads(report.to_json("v1"))["leakedHandles"]
    assert [h["ID"] for h in leaked] == ["orphan"]


def test_block_of_a_missing_node(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    healthy(ds, ipam)
    ds.delete("/calico/resources/v3/projectcalico.org/nodes/node1")
    report = check_ipam(ds)
    [cidr] = report.orphaned_blocks
    assert report.problems == 2  # the block, and the tunnel address now used by nobody
    assert f"  IPAMBlock {cidr} is affine to a missing node." in render_check(report)


def test_invalid_block(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    cidr = block_of(healthy(ds, ipam)[0], 26)
    block = stored_block(ds, cidr)
    assert block is not None
    block.unallocated.append(block.unallocated[0])
    ds.put(ipam_keys.block_key(block.cidr), block.to_json())
    report = check_ipam(ds)
    assert list(report.invalid_blocks) == [cidr]
    assert "appears more than once in unallocated" in render_check(report)


def test_json_report(ds: MemoryDatastore, ipam: IPAMClient) -> None:
    ips = healthy(ds, ipam)
    ds.delete("/calico/resources/v3/projectcalico.org/workloadendpoints/default/a")
    data = json.loads(check_ipam(ds).to_json("v3.99"))
    assert data["version"] == "v3.99"
    leaked = data["allocations"][ips[0]][0]
    assert leaked["inUse"] is False
    assert leaked["handle"] == "net.a"
    assert leaked["pod"] == "a"
    assert isinstance(leaked["sequenceNumber"], int)
    used = data["allocations"][ips[1]][0]
    assert used["inUse"] is True
    assert used["owners"] == ["Workload(default/b)"]
