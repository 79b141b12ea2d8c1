"""ADD, DEL and CHECK on one lab host, checked in the kernel and in the datastore."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from calico.lab import netns
from calico.lab.probe import probe

from .conftest import (
    NETWORK,
    Cluster,
    allocated,
    endpoints,
    handles,
    network_config,
    ns_of,
    stored,
)
from .runtime import Attachment, PluginError

pytestmark = pytest.mark.root


def ip_json(ns: str, *args: str) -> list[dict[str, Any]]:
    parsed: list[dict[str, Any]] = json.loads(netns.ip(ns, "-j", *args) or "[]")
    return parsed


def sysctl(ns: str, key: str) -> str:
    return netns.read_sysctls(ns, [key]).get(key, "")


def test_add_wires_the_container_the_calico_way(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    host = cluster.host("host1")
    att = cluster.container("a")
    result = cluster.runtime("host1").add(
        network_config(datastore, "host1", tmp_path, version="1.1.0"), att
    )
    cali = "cali" + att.container_id[:11]
    ip = result["ips"][0]["address"].removesuffix("/32")

    # The result (1.1.0): host interface, container interface, the /32 on it.
    container_mac = ip_json(ns_of(att), "link", "show", "eth0")[0]["address"]
    assert result == {
        "cniVersion": "1.1.0",
        "interfaces": [
            {"name": cali, "mac": "ee:ee:ee:ee:ee:ee"},
            {"name": "eth0", "mac": container_mac, "mtu": 1450, "sandbox": att.netns},
        ],
        "ips": [{"interface": 1, "address": f"{ip}/32", "gateway": "169.254.1.1"}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "169.254.1.1"}],
        "dns": {},
    }
    assert ip.startswith("10.244.")

    # Host side: fixed MAC, up, MTU, proxy ARP and friends, a /32 route.
    link = ip_json(host.netns, "link", "show", cali)[0]
    assert (link["address"], link["mtu"], "UP" in link["flags"]) == (
        "ee:ee:ee:ee:ee:ee",
        1450,
        True,
    )
    for key, value in {
        f"net.ipv4.conf.{cali}.proxy_arp": "1",
        f"net.ipv4.neigh.{cali}.proxy_delay": "0",
        f"net.ipv4.conf.{cali}.forwarding": "1",
        f"net.ipv4.conf.{cali}.route_localnet": "1",
        f"net.ipv6.conf.{cali}.accept_ra": "0",
    }.items():
        assert sysctl(host.netns, key) == value, key
    route = ip_json(host.netns, "route", "show", f"{ip}/32")
    assert route == [{"dst": ip, "dev": cali, "scope": "link", "flags": []}]

    # Container side: the /32, the link route to 169.254.1.1 and the default route.
    addrs = ip_json(ns_of(att), "addr", "show", "eth0")[0]
    assert addrs["mtu"] == 1450
    assert [(a["local"], a["prefixlen"]) for a in addrs["addr_info"] if a["family"] == "inet"] == [
        (ip, 32)
    ]
    routes = {(r["dst"], r.get("gateway"), r.get("scope")) for r in ip_json(ns_of(att), "route")}
    assert routes == {("default", "169.254.1.1", None), ("169.254.1.1", None, "link")}
    assert sysctl(ns_of(att), "net.ipv4.ip_forward") == "0"

    # The datastore: endpoint, IPAM handle with attributes, profile.
    name = f"host1-cni-{att.container_id}-eth0"
    wep = endpoints(datastore)[name]
    assert wep["metadata"]["namespace"] == "default"
    assert wep["metadata"]["labels"] == {
        "projectcalico.org/namespace": "default",
        "projectcalico.org/orchestrator": "cni",
    }
    assert wep["spec"] == {
        "orchestrator": "cni",
        "node": "host1",
        "containerID": att.container_id,
        "endpoint": "eth0",
        "ipNetworks": [f"{ip}/32"],
        "profiles": [NETWORK],
        "interfaceName": cali,
        "mac": container_mac,
    }
    assert allocated(datastore) == {ip: f"{NETWORK}.{att.container_id}"}
    (profile,) = stored(datastore, "/calico/resources/v3/projectcalico.org/profiles/").values()
    assert profile["spec"]["labelsToApply"] == {NETWORK: ""}

    # And it works: the host reaches it, it reaches the host.
    assert probe(host.netns, ip, protocol="icmp", timeout=2)
    assert probe(ns_of(att), host.ip, protocol="icmp", timeout=2)


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0"])
def test_result_in_the_requested_version(
    cluster: Cluster, datastore: Path, tmp_path: Path, version: str
) -> None:
    att = cluster.container("v")
    result = cluster.runtime("host1").add(
        network_config(datastore, "host1", tmp_path, version), att
    )
    assert result["cniVersion"] == version
    assert "mtu" not in result["interfaces"][1]
    has_version = version != "1.0.0"
    assert ("version" in result["ips"][0]) is has_version


def test_del_removes_everything_and_can_be_repeated(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    host = cluster.host("host1")
    runtime, conf = cluster.runtime("host1"), network_config(datastore, "host1", tmp_path)
    att = cluster.container("d")
    ip = runtime.add(conf, att)["ips"][0]["address"].removesuffix("/32")
    runtime.delete(conf, att)
    assert "cali" not in host.ip_cmd("-br", "link")
    assert ip not in host.ip_cmd("route")
    assert "eth0" not in netns.ip(ns_of(att), "-br", "link")
    assert endpoints(datastore) == {}
    assert handles(datastore) == set()
    assert allocated(datastore) == {}
    runtime.delete(conf, att)  # again: still success


def test_del_releases_the_address_when_the_netns_is_gone(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    runtime, conf = cluster.runtime("host1"), network_config(datastore, "host1", tmp_path)
    att = cluster.container("g")
    runtime.add(conf, att)
    netns.destroy(ns_of(att))
    runtime.delete(conf, att)
    assert endpoints(datastore) == {}
    assert allocated(datastore) == {}
    assert "cali" not in cluster.host("host1").ip_cmd("-br", "link")


def test_readd_reuses_the_endpoint(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    runtime, conf = cluster.runtime("host1"), network_config(datastore, "host1", tmp_path)
    att = cluster.container("r")
    first = runtime.add(conf, att)
    again = runtime.add(conf, att)
    assert again["ips"] == first["ips"]
    assert again["interfaces"][0] == first["interfaces"][0]
    assert len(allocated(datastore)) == 1
    # A second network on the same container appends its profile to the endpoint.
    other = {**conf, "name": "othernet"}
    runtime.add(other, att)
    (wep,) = endpoints(datastore).values()
    assert wep["spec"]["profiles"] == [NETWORK, "othernet"]


def test_check_verifies_the_kernel_state(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    host = cluster.host("host1")
    runtime, conf = cluster.runtime("host1"), network_config(datastore, "host1", tmp_path)
    att = cluster.container("c")
    ip = runtime.add(conf, att)["ips"][0]["address"].removesuffix("/32")
    runtime.check(conf, att)

    host.ip_cmd("route", "del", f"{ip}/32")
    with pytest.raises(PluginError) as info:
        runtime.check(conf, att)
    assert info.value.code == 103
    assert f"no host route {ip}/32" in info.value.details

    host.ip_cmd("route", "add", f"{ip}/32", "dev", "cali" + att.container_id[:11], "scope", "link")
    netns.ip(ns_of(att), "route", "del", "default")
    with pytest.raises(PluginError) as info:
        runtime.check(conf, att)
    assert "no route default via 169.254.1.1" in info.value.details


def test_check_fails_when_ipam_lost_the_address(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    runtime, conf = cluster.runtime("host1"), network_config(datastore, "host1", tmp_path)
    att = cluster.container("i")
    runtime.add(conf, att)
    ipam_conf = {**conf, "type": "calico-ipam", "cniVersion": conf["cniVersion"]}
    runtime.invoke("DEL", ipam_conf, att)  # release behind the plugin's back
    with pytest.raises(PluginError) as info:
        runtime.check(conf, att)
    assert "holds no address" in info.value.msg + info.value.details


K8S_ARGS = {"K8S_POD_NAMESPACE": "shop", "K8S_POD_NAME": "web-1", "IgnoreUnknown": "1"}
POD_METADATA = {
    "cni": {"labels": [{"key": "app", "value": "web"}]},
    "org.projectcalico": {
        "serviceAccount": "front",
        "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
    },
}


def k8s_conf(datastore: Path, tmp_path: Path) -> dict[str, Any]:
    return network_config(datastore, "host1", tmp_path, policy={"type": "k8s"}, args=POD_METADATA)


def test_k8s_pod_endpoint(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    runtime, conf = cluster.runtime("host1"), k8s_conf(datastore, tmp_path)
    att = cluster.container("pod", args=K8S_ARGS)
    result = runtime.add(conf, att)
    veth = "cali" + hashlib.sha1(b"shop.web-1").hexdigest()[:11]
    assert result["interfaces"][0]["name"] == veth
    wep = endpoints(datastore)["host1-k8s-web--1-eth0"]
    assert wep["metadata"]["namespace"] == "shop"
    assert wep["metadata"]["labels"] == {
        "app": "web",
        "projectcalico.org/namespace": "shop",
        "projectcalico.org/orchestrator": "k8s",
        "projectcalico.org/serviceaccount": "front",
    }
    assert wep["spec"]["profiles"] == ["kns.shop", "ksa.shop.front"]
    assert wep["spec"]["pod"] == "web-1"
    assert wep["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "hostPort": 0, "hostIP": ""}
    ]
    # With a policy type, no network profile is created.
    assert stored(datastore, "/calico/resources/v3/projectcalico.org/profiles/") == {}
    blocks = stored(datastore, "/calico/ipam/v2/assignment/")
    (block,) = blocks.values()
    attrs = [a["secondary"] for a in block["attributes"]]
    assert attrs[0]["namespace"] == "shop"
    assert attrs[0]["pod"] == "web-1"
    assert attrs[0]["node"] == "host1"


def test_k8s_new_sandbox_takes_over_and_old_del_leaves_it(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    runtime, conf = cluster.runtime("host1"), k8s_conf(datastore, tmp_path)
    old = cluster.container("old", args=K8S_ARGS)
    new = cluster.container("new", args=K8S_ARGS)
    runtime.add(conf, old)
    new_ip = runtime.add(conf, new)["ips"][0]["address"].removesuffix("/32")
    wep = endpoints(datastore)["host1-k8s-web--1-eth0"]
    assert wep["spec"]["containerID"] == new.container_id
    assert wep["spec"]["ipNetworks"] == [f"{new_ip}/32"]

    runtime.delete(conf, old)  # the old sandbox goes: its address, not the endpoint
    assert endpoints(datastore)["host1-k8s-web--1-eth0"]["spec"]["containerID"] == new.container_id
    assert allocated(datastore) == {new_ip: f"{NETWORK}.{new.container_id}"}
    assert probe(cluster.host("host1").netns, new_ip, protocol="icmp", timeout=2)

    runtime.delete(conf, new)
    assert endpoints(datastore) == {}
    assert allocated(datastore) == {}


def test_dual_stack(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    host = cluster.host("host1")
    conf = network_config(datastore, "host1", tmp_path, ipam={"assign_ipv6": "true"})
    att = cluster.container("ds")
    runtime = cluster.runtime("host1")
    result = runtime.add(conf, att)
    v4, v6 = (ip["address"] for ip in result["ips"])
    assert v4.endswith("/32")
    assert v6.startswith("fd00:244::")
    assert v6.endswith("/128")
    assert result["routes"] == [
        {"dst": "0.0.0.0/0", "gw": "169.254.1.1"},
        {"dst": "::/0", "gw": "fe80::ecee:eeff:feee:eeee"},
    ]
    v6_ip = v6.removesuffix("/128")
    routes6 = ip_json(ns_of(att), "-6", "route", "show", "default")
    assert routes6[0]["gateway"] == "fe80::ecee:eeff:feee:eeee"
    assert (
        ip_json(host.netns, "-6", "route", "show", v6)[0]["dev"] == result["interfaces"][0]["name"]
    )
    assert probe(host.netns, v6_ip, protocol="icmp", timeout=3)
    runtime.check(conf, att)
    runtime.delete(conf, att)
    assert allocated(datastore) == {}


def test_host_local_ipam(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    conf = network_config(datastore, "host1", tmp_path)
    data_dir = tmp_path / "host-local"
    conf["ipam"] = {"type": "host-local", "subnet": "10.245.0.0/24", "dataDir": str(data_dir)}
    runtime = cluster.runtime("host1")
    att = cluster.container("hl")
    result = runtime.add(conf, att)
    (ip,) = result["ips"]
    assert ip["address"].startswith("10.245.0.")
    assert ip["address"].endswith("/32")  # narrowed from host-local's /24
    assert ip["gateway"] == "169.254.1.1"
    assert probe(cluster.host("host1").netns, ip["address"][:-3], protocol="icmp", timeout=2)
    assert (data_dir / NETWORK / ip["address"][:-3]).exists()
    runtime.check(conf, att)
    runtime.delete(conf, att)
    assert not (data_dir / NETWORK / ip["address"][:-3]).exists()
    assert endpoints(datastore) == {}


def test_specific_address_from_args(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    conf = network_config(datastore, "host1", tmp_path, args={"cni": {"ips": ["10.244.99.7"]}})
    att = cluster.container("ip")
    result = cluster.runtime("host1").add(conf, att)
    assert result["ips"][0]["address"] == "10.244.99.7/32"
    cluster.runtime("host1").delete(conf, att)
    assert allocated(datastore) == {}


def test_a_directory_is_not_a_netns(cluster: Cluster, datastore: Path, tmp_path: Path) -> None:
    """CNI_NETNS must be a network namespace: refused before anything is allocated."""
    att = Attachment("abc", str(tmp_path))
    with pytest.raises(PluginError) as info:
        cluster.runtime("host1").add(network_config(datastore, "host1", tmp_path), att)
    assert (info.value.code, info.value.details) == (4, f"{tmp_path}: not a network namespace")
    assert allocated(datastore) == {}
