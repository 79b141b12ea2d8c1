"""Two hosts sharing one datastore, and many containers at once on one host."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from calico.lab.probe import probe, probe_result

from .conftest import Cluster, allocated, endpoints, handles, network_config, stored

pytestmark = pytest.mark.root


def test_containers_on_two_hosts_reach_each_other(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    h1, h2 = cluster.host("host1"), cluster.host("host2")
    conf1 = network_config(datastore, "host1", tmp_path)
    conf2 = network_config(datastore, "host2", tmp_path)
    a, b = cluster.container("a"), cluster.container("b")
    rt1, rt2 = cluster.runtime("host1"), cluster.runtime("host2")
    result_a, result_b = rt1.add(conf1, a), rt2.add(conf2, b)
    ip_a, ip_b = cluster.serve(a, "host1", result_a), cluster.serve(b, "host2", result_b)
    assert ip_a != ip_b

    # Each address comes from a block with affinity to its own host.
    affinities = stored(datastore, "/calico/ipam/v2/host/")
    blocks = {
        key.split("/")[5]: ipaddress.ip_network(key.rsplit("/", 1)[1].replace("-", "/"))
        for key in affinities
    }
    assert ipaddress.ip_address(ip_a) in blocks["host1"]
    assert ipaddress.ip_address(ip_b) in blocks["host2"]

    # What BGP would do: each host routes the other's block via that host.
    h1.add_route(str(blocks["host2"]), h2.ip)
    h2.add_route(str(blocks["host1"]), h1.ip)
    try:
        for src, dst in ((a, ip_b), (b, ip_a)):
            result = probe_result(Path(src.netns).name, dst, 80, "tcp", timeout=2)
            assert result.reachable, result
        assert probe(Path(a.netns).name, ip_b, 81, "udp", timeout=2)
        assert probe(Path(b.netns).name, ip_a, protocol="icmp", timeout=2)
    finally:
        h1.ip_cmd("route", "del", str(blocks["host2"]))
        h2.ip_cmd("route", "del", str(blocks["host1"]))

    rt1.delete(conf1, a)
    rt2.delete(conf2, b)
    assert endpoints(datastore) == {}
    assert handles(datastore) == set()
    assert allocated(datastore) == {}


def test_fifty_parallel_adds(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    host = cluster.host("host1")
    conf = network_config(datastore, "host1", tmp_path, log_level="warning")
    runtime = cluster.runtime("host1")
    containers = [cluster.container(f"p{i}") for i in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda att: runtime.add(conf, att), containers))
    ips = [r["ips"][0]["address"].removesuffix("/32") for r in results]
    assert len(set(ips)) == 50
    assert set(allocated(datastore)) == set(ips)
    assert len(endpoints(datastore)) == 50
    unreachable = [ip for ip in ips if not probe(host.netns, ip, protocol="icmp", timeout=2)]
    assert unreachable == []

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(lambda att: runtime.delete(conf, att), containers))
    assert allocated(datastore) == {}
    assert endpoints(datastore) == {}
    assert "cali" not in host.ip_cmd("-br", "link")
