"""VXLAN, CrossSubnet and Always, with felix programming every route (REFERENCE 7.5, 7.6).

The two-subnet lab puts host1 and host2 on one subnet and host3 on the other,
behind a router that carries no workload routes. With the pool's vxlanMode
CrossSubnet, traffic between host1 and host2 is routed natively (``via <peer>
dev eth0``) and only traffic that crosses the router is encapsulated
(``via <peer VTEP> dev vxlan.calico onlink``, with an FDB entry sending the
VTEP's MAC to the peer's fabric address and a permanent ARP entry for the
VTEP). With Always, even same-subnet traffic goes through vxlan.calico.
The device's TX counter proves which way the probe's packets actually went.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from calico.lab import netns
from calico.lab.hosts import Host
from calico.lab.probe import probe
from calico.lab.workload import Workload

from ._routing import RoutingLab
from .conftest import MakeLab

pytestmark = pytest.mark.root

VXLAN = "vxlan.calico"
VNI = 4096
PORT = 4789


def ip_json(host: Host, *args: str) -> list[dict[str, Any]]:
    return list(json.loads(host.ip_cmd("-j", *args) or "[]"))


def vxlan_tx_packets(host: Host) -> int:
    [link] = ip_json(host, "-s", "link", "show", VXLAN)
    return int(link["stats64"]["tx"]["packets"])


def fdb(host: Host) -> dict[str, str]:
    """vxlan.calico's forwarding entries: MAC -> remote fabric address."""
    out = host.run(["bridge", "-j", "fdb", "show", "dev", VXLAN]).stdout
    return {e["mac"]: e["dst"] for e in json.loads(out or "[]") if "dst" in e}


def vtep(lab: RoutingLab, host: Host) -> tuple[str, str]:
    """The host's VTEP address and MAC, as calico-node registered them."""
    spec = lab.resource("Node", host.name)["spec"]
    return spec["ipv4VXLANTunnelAddr"], spec["vxlanTunnelMACAddr"]


def check_device(lab: RoutingLab, host: Host) -> None:
    [link] = ip_json(host, "-d", "link", "show", VXLAN)
    info = link["linkinfo"]
    assert info["info_kind"] == "vxlan", link
    assert (info["info_data"]["id"], info["info_data"]["port"]) == (VNI, PORT), info
    assert info["info_data"]["local"] == host.ip, info
    address, mac = vtep(lab, host)
    assert link["address"] == mac, link
    [addresses] = ip_json(host, "-4", "addr", "show", VXLAN)
    assert [a["local"] for a in addresses["addr_info"]] == [address], addresses


def check_tunnelled(lab: RoutingLab, src: Host, dst: Host) -> None:
    """Blocks of ``dst`` go through ``src``'s vxlan.calico to ``dst``'s VTEP."""
    address, mac = vtep(lab, dst)
    for block in lab.blocks(dst):
        assert lab.routes(src, block) == [f"{block} via {address} dev {VXLAN} proto 80 onlink"]
    assert fdb(src).get(mac) == dst.ip, fdb(src)
    neighbours = {n["dst"]: n for n in ip_json(src, "neigh", "show", "dev", VXLAN)}
    assert neighbours[address]["lladdr"] == mac, neighbours
    assert "PERMANENT" in neighbours[address]["state"], neighbours


def check_native(lab: RoutingLab, src: Host, dst: Host) -> None:
    for block in lab.blocks(dst):
        assert lab.routes(src, block) == [f"{block} via {dst.ip} dev eth0 proto 80"]


def goes_through_vxlan(src_wl: Workload, src: Host, dst_wl: Workload) -> bool:
    """Probe once and tell whether ``src``'s vxlan.calico sent packets meanwhile."""
    before = vxlan_tx_packets(src)
    assert probe(src_wl.netns, dst_wl.ip, 80, timeout=2.0), f"{src_wl.name} -> {dst_wl.name}"
    return vxlan_tx_packets(src) > before


def add_workloads(lab: RoutingLab) -> dict[str, Workload]:
    for host in lab.hosts:
        lab.add_workload(host.name, f"w{host.name.removeprefix('host')}")
    lab.wait_reachable()
    return lab.workloads


def test_cross_subnet(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=3, subnets=2, encap="vxlan")
    h1, h2, h3 = lab.hosts
    assert (h1.subnet, h2.subnet, h3.subnet) == (0, 0, 1)
    assert lab.resource("IPPool", "default-ipv4-ippool")["spec"]["vxlanMode"] == "CrossSubnet"
    wl = add_workloads(lab)  # every pair reachable, across the router too
    # VXLAN needs no BGP: calico-node runs felix alone.
    assert set(lab.node_status_file(h1)["children"]) == {"calico-felix"}
    gateway = lab.lab.fabric.gateway_netns
    assert "10.244." not in netns.ip(gateway, "route", "show")  # the router knows no workload

    for host in lab.hosts:
        check_device(lab, host)
    check_native(lab, h1, h2)
    check_native(lab, h2, h1)
    for a, b in ((h1, h3), (h2, h3), (h3, h1), (h3, h2)):
        check_tunnelled(lab, a, b)

    assert f"via {h2.ip} dev eth0 " in lab.route_get(h1, wl["w2"].ip)
    assert f"dev {VXLAN} " in lab.route_get(h1, wl["w3"].ip)
    assert f"dev {VXLAN} " in lab.route_get(h3, wl["w2"].ip)
    assert not goes_through_vxlan(wl["w1"], h1, wl["w2"])
    assert goes_through_vxlan(wl["w1"], h1, wl["w3"])
    assert goes_through_vxlan(wl["w3"], h3, wl["w1"])


def test_always(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=2, subnets=1, encap="vxlan")
    h1, h2 = lab.hosts
    assert lab.resource("IPPool", "default-ipv4-ippool")["spec"]["vxlanMode"] == "Always"
    wl = add_workloads(lab)
    for host in lab.hosts:
        check_device(lab, host)
    check_tunnelled(lab, h1, h2)
    check_tunnelled(lab, h2, h1)
    assert f"dev {VXLAN} " in lab.route_get(h1, wl["w2"].ip)
    assert goes_through_vxlan(wl["w1"], h1, wl["w2"])
    assert goes_through_vxlan(wl["w2"], h2, wl["w1"])
