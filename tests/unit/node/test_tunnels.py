"""Tunnel addresses from IPAM, the VTEP MAC, the MTU file and the keeper loop."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from calico.client import Client
from calico.datastore import MemoryDatastore
from calico.ipam import IPAMClient
from calico.node.mtu import read_mtu_file
from calico.node.tunnels import (
    IPIP,
    VXLAN,
    TunnelAllocator,
    TunnelKeeper,
    enabled_encaps,
    random_vtep_mac,
    set_address,
    write_mtu_file,
)
from calico.resources import parse_resource

NODE = "host1"
POOL = "10.48.0.0/16"


@pytest.fixture
def client() -> Client:
    c = Client(MemoryDatastore())
    put(c, "Node", NODE, {"bgp": {"ipv4Address": "10.0.0.1/24"}}, labels={"rack": "a"})
    return c


def put(client: Client, kind: str, name: str, spec: dict[str, Any], **meta: Any) -> None:
    doc = {"apiVersion": "projectcalico.org/v3", "kind": kind,
           "metadata": {"name": name, **meta}, "spec": spec}  # fmt: skip
    client.apply(parse_resource(doc))


def pool(client: Client, name: str = "pool", cidr: str = POOL, **spec: Any) -> None:
    put(client, "IPPool", name, {"cidr": cidr, **spec})


def node_spec(client: Client) -> dict[str, Any]:
    return dict(client.get("Node", NODE).to_dict()["spec"])


def owner(client: Client, address: str) -> dict[str, str] | None:
    attrs = IPAMClient(client.datastore).get_assignment_attributes(address)
    return None if attrs is None else dict(attrs.active_owner_attrs or {})


def test_vxlan_address_allocated_from_ipam(client: Client) -> None:
    pool(client, vxlanMode="Always")
    TunnelAllocator(client, NODE, new_mac=lambda: "02:00:00:00:00:01").reconcile()
    spec = node_spec(client)
    address = spec["ipv4VXLANTunnelAddr"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(POOL)
    assert spec["vxlanTunnelMACAddr"] == "02:00:00:00:00:01"
    assert owner(client, address) == {"node": NODE, "type": "vxlanTunnelAddress"}
    ipam = IPAMClient(client.datastore)
    assert ipam.ips_by_handle(f"vxlan-tunnel-addr-{NODE}") == [address]
    assert spec["bgp"] == {"ipv4Address": "10.0.0.1/24"}  # untouched


def test_reconcile_is_stable(client: Client) -> None:
    pool(client, vxlanMode="CrossSubnet")
    allocator = TunnelAllocator(client, NODE)
    allocator.reconcile()
    first = node_spec(client)
    revision = client.datastore.current_revision()
    allocator.reconcile()
    assert node_spec(client) == first
    assert client.datastore.current_revision() == revision


def test_released_when_the_vxlan_pool_goes(client: Client) -> None:
    pool(client, vxlanMode="Always")
    allocator = TunnelAllocator(client, NODE)
    allocator.reconcile()
    mac = node_spec(client)["vxlanTunnelMACAddr"]
    address = node_spec(client)["ipv4VXLANTunnelAddr"]
    client.delete("IPPool", "pool")
    allocator.reconcile()
    spec = node_spec(client)
    assert "ipv4VXLANTunnelAddr" not in spec
    assert spec["vxlanTunnelMACAddr"] == mac  # the VTEP MAC is stable
    assert owner(client, address) is None
    assert IPAMClient(client.datastore).ips_by_handle(f"vxlan-tunnel-addr-{NODE}") == []


def test_switching_encapsulation_moves_the_address(client: Client) -> None:
    pool(client, vxlanMode="Always")
    allocator = TunnelAllocator(client, NODE)
    allocator.reconcile()
    pool(client, vxlanMode="Never", ipipMode="Always")
    allocator.reconcile()
    spec = node_spec(client)
    assert "ipv4VXLANTunnelAddr" not in spec
    ipip = spec["bgp"]["ipv4IPIPTunnelAddr"]
    assert owner(client, ipip) == {"node": NODE, "type": "ipipTunnelAddress"}
    pool(client, ipipMode="Never")
    allocator.reconcile()
    assert node_spec(client)["bgp"] == {"ipv4Address": "10.0.0.1/24"}


def test_only_pools_that_select_the_node_and_allow_tunnels(client: Client) -> None:
    pool(client, "other-rack", "10.48.0.0/16", vxlanMode="Always", nodeSelector="rack == 'b'")
    pool(client, "no-tunnels", "10.49.0.0/16", vxlanMode="Always", allowedUses=["Workload"])
    pool(client, "off", "10.50.0.0/16", vxlanMode="Always", disabled=True)
    TunnelAllocator(client, NODE).reconcile()
    assert "ipv4VXLANTunnelAddr" not in node_spec(client)
    pool(client, "this-rack", "10.51.0.0/16", vxlanMode="Always", nodeSelector="rack == 'a'")
    TunnelAllocator(client, NODE).reconcile()
    assert node_spec(client)["ipv4VXLANTunnelAddr"].startswith("10.51.")


def test_address_not_ours_is_replaced_not_released(client: Client) -> None:
    pool(client, vxlanMode="Always")
    ipam = IPAMClient(client.datastore)
    (workload,) = ipam.auto_assign(1, 0, "wl", {"node": NODE}, NODE)[0]
    workload_ip = workload.split("/")[0]
    doc = client.get("Node", NODE).to_dict()
    doc["spec"]["ipv4VXLANTunnelAddr"] = workload_ip  # e.g. a bad manual edit
    client.update(parse_resource(doc))
    TunnelAllocator(client, NODE).reconcile()
    assert node_spec(client)["ipv4VXLANTunnelAddr"] != workload_ip
    assert owner(client, workload_ip) == {"node": NODE}  # the workload keeps it


def test_address_released_behind_our_back_is_reassigned(client: Client) -> None:
    pool(client, vxlanMode="Always")
    allocator = TunnelAllocator(client, NODE)
    allocator.reconcile()
    IPAMClient(client.datastore).release_by_handle(f"vxlan-tunnel-addr-{NODE}")
    allocator.reconcile()
    address = node_spec(client)["ipv4VXLANTunnelAddr"]
    assert owner(client, address) == {"node": NODE, "type": "vxlanTunnelAddress"}


def test_random_vtep_mac_is_locally_administered_unicast() -> None:
    for _ in range(50):
        first = int(random_vtep_mac().split(":")[0], 16)
        assert first & 0x02, "locally administered"
        assert not first & 0x01, "unicast"


def test_set_address_removes_an_emptied_bgp_section() -> None:
    doc: dict[str, Any] = {"spec": {"bgp": {"ipv4IPIPTunnelAddr": "10.48.0.1"}}}
    set_address(doc, IPIP, "")
    assert doc == {"spec": {}}
    set_address(doc, VXLAN, "10.48.0.2")
    assert doc == {"spec": {"ipv4VXLANTunnelAddr": "10.48.0.2"}}


def test_mtu_file_follows_the_encapsulation(client: Client, tmp_path: Path) -> None:
    path = str(tmp_path / "mtu")
    links: Callable[[], list[tuple[str, int]]] = lambda: [("lo", 65536), ("eth0", 1500)]  # noqa: E731
    assert write_mtu_file(client, path, list_links=links) == 1500
    pool(client, vxlanMode="Always")
    assert write_mtu_file(client, path, list_links=links) == 1450
    assert read_mtu_file(path) == 1450
    pool(client, "v6", "fd00:1::/64", vxlanMode="Always")
    assert enabled_encaps([p.to_dict() for p in client.list("IPPool")]) == ["vxlan", "vxlan-v6"]
    assert write_mtu_file(client, path, list_links=links) == 1430


@pytest.fixture
def keeper_thread(client: Client) -> Iterator[tuple[threading.Event, list[int]]]:
    stop = threading.Event()
    passes: list[int] = []
    keeper = TunnelKeeper(TunnelAllocator(client, NODE), lambda: passes.append(1), debounce=0.01)
    thread = threading.Thread(target=keeper.run, args=(stop,))
    thread.start()
    yield stop, passes
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_keeper_follows_pool_changes(
    client: Client, keeper_thread: tuple[threading.Event, list[int]]
) -> None:
    _, passes = keeper_thread
    wait_for(lambda: bool(passes))
    pool(client, vxlanMode="Always")
    wait_for(lambda: "ipv4VXLANTunnelAddr" in node_spec(client))
    client.delete("IPPool", "pool")
    wait_for(lambda: "ipv4VXLANTunnelAddr" not in node_spec(client))


def test_keeper_follows_node_label_changes(
    client: Client, keeper_thread: tuple[threading.Event, list[int]]
) -> None:
    pool(client, vxlanMode="Always", nodeSelector="rack == 'b'")
    _, passes = keeper_thread
    wait_for(lambda: bool(passes))
    assert "ipv4VXLANTunnelAddr" not in node_spec(client)
    doc = client.get("Node", NODE).to_dict()
    doc["metadata"]["labels"] = {"rack": "b"}
    client.update(parse_resource(doc))
    wait_for(lambda: "ipv4VXLANTunnelAddr" in node_spec(client))
