"""calico-node start-up: env, Node, pools, cluster defaults, and the command itself."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from calico import __version__
from calico.client import Client
from calico.datastore import MemoryDatastore, SqliteDatastore
from calico.datastore.keys import resource_key
from calico.errors import CompactedError, ConfigError
from calico.ipam.keys import IPAM_CONFIG_KEY
from calico.node.main import compact_periodically, node_name
from calico.node.main import main as node_main
from calico.node.mtu import host_mtu, read_mtu_file
from calico.node.startup import (
    DefaultPool,
    NodeEnv,
    choose_ipv4,
    ensure_cluster_information,
    run_startup,
)
from calico.node.tunnels import DEFAULT_MTU_IFACE_PATTERN
from calico.resources import parse_resource

HOST_CIDR = "10.0.0.5/24"


def fixed(cidr: str = HOST_CIDR) -> Any:
    calls: list[tuple[str, int]] = []

    def detect(method: str, version: int) -> str:
        calls.append((method, version))
        return cidr

    detect.calls = calls  # type: ignore[attr-defined]
    return detect


def failing(method: str, version: int) -> str:
    raise ConfigError(f"IP_AUTODETECTION_METHOD={method}: no IPv4 address found")


@pytest.fixture
def client() -> Client:
    return Client(MemoryDatastore())


def spec(client: Client, kind: str, name: str) -> dict[str, Any]:
    return dict(client.get(kind, name).to_dict()["spec"])


def put(client: Client, kind: str, name: str, spec: dict[str, Any], **meta: Any) -> None:
    doc = {"apiVersion": "projectcalico.org/v3", "kind": kind,
           "metadata": {"name": name, **meta}, "spec": spec}  # fmt: skip
    client.create(parse_resource(doc))


# -- environment ------------------------------------------------------------------


def test_env_defaults() -> None:
    env = NodeEnv.from_env({})
    assert env.ip == ""
    assert env.ip_autodetection_method == "first-found"
    assert env.backend == "bird"
    assert env.runs_bgp
    assert env.networking
    assert env.default_pools == (
        DefaultPool("default-ipv4-ippool", "192.168.0.0/16", 26, nat_outgoing=True),
    )


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"IP": "10.1.2.3"}, "ip", "10.1.2.3"),
        ({"IP": "10.1.2.3/16"}, "ip", "10.1.2.3/16"),
        ({"IP": "autodetect"}, "ip", "autodetect"),
        ({"IP": "none"}, "ip", "none"),
        ({"AS": "64513"}, "as_number", 64513),
        ({"AS": "1.10"}, "as_number", 65546),
        ({"CALICO_RR_CLUSTER_ID": "1.0.0.1"}, "rr_cluster_id", "1.0.0.1"),
        ({"CALICO_NETWORKING_BACKEND": "vxlan"}, "runs_bgp", False),
        ({"CALICO_NETWORKING_BACKEND": "none"}, "networking", False),
        ({"NO_DEFAULT_POOLS": "true"}, "default_pools", ()),
        ({"CALICO_IPV4POOL_CIDR": "none"}, "default_pools", ()),
    ],
)
def test_env_values(env: dict[str, str], field: str, expected: object) -> None:
    assert getattr(NodeEnv.from_env(env), field) == expected


@pytest.mark.parametrize(
    ("env", "ipip", "vxlan"),
    [
        ({"CALICO_IPV4POOL_IPIP": "Always"}, "Always", "Never"),
        ({"CALICO_IPV4POOL_IPIP": "cross-subnet"}, "CrossSubnet", "Never"),
        ({"CALICO_IPV4POOL_VXLAN": "crosssubnet"}, "Never", "CrossSubnet"),
        ({"CALICO_IPV4POOL_VXLAN": "always", "CALICO_IPV4POOL_IPIP": "off"}, "Never", "Always"),
        ({"CALICO_IPV4POOL_VXLAN": "never"}, "Never", "Never"),
    ],
)
def test_env_encapsulation(env: dict[str, str], ipip: str, vxlan: str) -> None:
    (pool,) = NodeEnv.from_env(env).default_pools
    assert (pool.ipip_mode, pool.vxlan_mode) == (ipip, vxlan)


def test_env_pool_details() -> None:
    env = {
        "CALICO_IPV4POOL_CIDR": "10.48.0.1/16",  # host bits are masked, as Calico does
        "CALICO_IPV4POOL_BLOCK_SIZE": "28",
        "CALICO_IPV4POOL_NAT_OUTGOING": "false",
        "CALICO_IPV4POOL_NODE_SELECTOR": "rack == 'a'",
        "CALICO_IPV6POOL_CIDR": "fd00:10::/64",
    }
    v4, v6 = NodeEnv.from_env(env).default_pools
    assert v4 == DefaultPool("default-ipv4-ippool", "10.48.0.0/16", 28, node_selector="rack == 'a'")
    assert v6 == DefaultPool("default-ipv6-ippool", "fd00:10::/64", 122)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IP": "10.0.0"}, "IP=10.0.0: not an IPv4 address"),
        ({"IP": "fd00::1"}, "IP=fd00::1: not an IPv4 address"),
        ({"AS": "abc"}, "AS=abc: not an AS number"),
        ({"AS": "0"}, "AS=0: not an AS number"),
        ({"AS": "70000.1"}, "AS=70000.1: not an AS number"),
        ({"CALICO_RR_CLUSTER_ID": "x"}, "CALICO_RR_CLUSTER_ID=x: not an IPv4"),
        ({"CALICO_NETWORKING_BACKEND": "gobgp"}, "CALICO_NETWORKING_BACKEND=gobgp: must be"),
        ({"CALICO_IPV4POOL_CIDR": "10.0.0.0/33"}, "CALICO_IPV4POOL_CIDR=10.0.0.0/33: not an"),
        ({"CALICO_IPV4POOL_CIDR": "fd00::/64"}, "CALICO_IPV4POOL_CIDR=fd00::/64: not an IPv4"),
        ({"CALICO_IPV4POOL_CIDR": "10.0.0.1"}, "CALICO_IPV4POOL_CIDR=10.0.0.1: not an IPv4"),
        ({"CALICO_IPV4POOL_BLOCK_SIZE": "x"}, "CALICO_IPV4POOL_BLOCK_SIZE=x: not a number"),
        ({"CALICO_IPV4POOL_BLOCK_SIZE": "19"}, "blockSize must be between 20 and 32"),
        ({"CALICO_IPV4POOL_CIDR": "10.0.0.0/28"}, "smaller than one block"),
        ({"CALICO_IPV4POOL_CIDR": "169.254.0.0/16"}, "link-local"),
        ({"CALICO_IPV4POOL_IPIP": "sometimes"}, "CALICO_IPV4POOL_IPIP=sometimes: must be one"),
        ({"CALICO_IPV4POOL_VXLAN": "yes"}, "CALICO_IPV4POOL_VXLAN=yes: must be one"),
        (
            {"CALICO_IPV4POOL_IPIP": "Always", "CALICO_IPV4POOL_VXLAN": "Always"},
            "CALICO_IPV4POOL_IPIP and CALICO_IPV4POOL_VXLAN cannot both be enabled",
        ),
        ({"CALICO_IPV4POOL_NAT_OUTGOING": "maybe"}, "CALICO_IPV4POOL_NAT_OUTGOING=maybe: not a"),
        ({"CALICO_IPV4POOL_NODE_SELECTOR": "a ==="}, "CALICO_IPV4POOL_NODE_SELECTOR=a ===:"),
        ({"NO_DEFAULT_POOLS": "true", "CALICO_IPV4POOL_CIDR": "10.0.0.0/16"}, "NO_DEFAULT_POOLS"),
        ({"CALICO_IPV6POOL_CIDR": "10.0.0.0/16"}, "CALICO_IPV6POOL_CIDR=10.0.0.0/16: not an IPv6"),
    ],
)
def test_env_errors_are_one_line_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        NodeEnv.from_env(env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# -- choosing the address -------------------------------------------------------


def test_choose_ipv4_rules() -> None:
    env = NodeEnv.from_env
    assert choose_ipv4(env({}), "", fixed()) == HOST_CIDR
    assert choose_ipv4(env({}), "10.9.9.9/24", fixed()) == "10.9.9.9/24"  # unset keeps
    assert choose_ipv4(env({"IP": "autodetect"}), "10.9.9.9/24", fixed()) == HOST_CIDR
    assert choose_ipv4(env({"IP": "autodetect"}), "10.9.9.9/24", failing) == "10.9.9.9/24"
    assert choose_ipv4(env({"IP": "none"}), "10.9.9.9/24", fixed()) == "10.9.9.9/24"
    assert choose_ipv4(env({"IP": "10.1.1.1/16"}), "", fixed()) == "10.1.1.1/16"
    with pytest.raises(ConfigError, match="no IPv4 address found"):
        choose_ipv4(env({}), "", failing)


def test_explicit_address_takes_its_interface_prefix() -> None:
    detect = fixed("10.0.0.7/24")
    assert choose_ipv4(NodeEnv.from_env({"IP": "10.0.0.7"}), "", detect) == "10.0.0.7/24"
    assert detect.calls == [("cidr=10.0.0.7/32", 4)]
    # Not on any interface: Calico warns and uses a /32.
    assert choose_ipv4(NodeEnv.from_env({"IP": "10.0.0.7"}), "", failing) == "10.0.0.7/32"


# -- the Node --------------------------------------------------------------------


def test_registers_node_with_detected_address(client: Client) -> None:
    env = NodeEnv.from_env({"AS": "64513", "CALICO_RR_CLUSTER_ID": "1.0.0.1"})
    node = run_startup(client, "host1", env, fixed())
    assert node.name == "host1"
    assert spec(client, "Node", "host1") == {
        "bgp": {"ipv4Address": HOST_CIDR, "asNumber": 64513, "routeReflectorClusterID": "1.0.0.1"}
    }


def test_update_keeps_labels_and_other_fields(client: Client) -> None:
    put(client, "Node", "host1", {"bgp": {"ipv4Address": "10.9.9.9/24"},
        "ipv4VXLANTunnelAddr": "192.168.0.1"}, labels={"rack": "a"})  # fmt: skip
    run_startup(client, "host1", NodeEnv.from_env({"IP": "autodetect"}), fixed())
    node = client.get("Node", "host1").to_dict()
    assert node["metadata"]["labels"] == {"rack": "a"}
    assert node["spec"] == {"bgp": {"ipv4Address": HOST_CIDR}, "ipv4VXLANTunnelAddr": "192.168.0.1"}


def test_rerun_is_idempotent(client: Client) -> None:
    env = NodeEnv.from_env({})
    run_startup(client, "host1", env, fixed())
    before = client.datastore.current_revision()
    run_startup(client, "host1", env, fixed())
    assert client.datastore.current_revision() == before  # nothing written


def test_node_write_retries_on_a_concurrent_change(client: Client) -> None:
    put(client, "Node", "host1", {"bgp": {"ipv4Address": "10.9.9.9/24"}})

    def detect_while_someone_labels_the_node(method: str, version: int) -> str:
        doc = client.get("Node", "host1").to_dict()
        doc["metadata"]["labels"] = {"late": "yes"}
        client.update(parse_resource(doc))
        return HOST_CIDR

    env = NodeEnv.from_env({"IP": "autodetect"})
    run_startup(client, "host1", env, detect_while_someone_labels_the_node)
    node = client.get("Node", "host1").to_dict()
    assert node["metadata"]["labels"] == {"late": "yes"}
    assert node["spec"]["bgp"]["ipv4Address"] == HOST_CIDR


def test_warns_when_another_node_has_the_address(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    put(client, "Node", "other", {"bgp": {"ipv4Address": "10.0.0.5/16"}})
    with caplog.at_level(logging.WARNING):
        run_startup(client, "host1", NodeEnv.from_env({}), fixed())
    assert "'other' is already using the IPv4 address 10.0.0.5" in caplog.text
    assert spec(client, "Node", "host1")["bgp"]["ipv4Address"] == HOST_CIDR


def test_policy_only_node_has_no_bgp(client: Client) -> None:
    env = NodeEnv.from_env({"CALICO_NETWORKING_BACKEND": "none", "AS": "65000"})
    run_startup(client, "host1", env, failing)  # no detection needed
    assert spec(client, "Node", "host1") == {}


def test_no_address_at_all_is_an_error(client: Client) -> None:
    with pytest.raises(ConfigError, match="no IPv4 address found"):
        run_startup(client, "host1", NodeEnv.from_env({}), failing)
    with pytest.raises(ConfigError, match="no IPv4 address configured or detected"):
        run_startup(client, "host1", NodeEnv.from_env({"IP": "none"}), failing)


# -- pools ---------------------------------------------------------------------------


def test_default_pool_created_when_none_exists(client: Client) -> None:
    env = NodeEnv.from_env({"CALICO_IPV4POOL_VXLAN": "Always"})
    run_startup(client, "host1", env, fixed())
    pool = spec(client, "IPPool", "default-ipv4-ippool")
    assert pool["cidr"] == "192.168.0.0/16"
    assert pool["blockSize"] == 26
    assert pool["natOutgoing"] is True
    assert (pool["vxlanMode"], pool["ipipMode"]) == ("Always", "Never")
    assert pool["nodeSelector"] == "all()"


def test_no_default_pool_when_a_pool_exists(client: Client) -> None:
    put(client, "IPPool", "mine", {"cidr": "10.48.0.0/16"})
    run_startup(client, "host1", NodeEnv.from_env({}), fixed())
    assert [p.name for p in client.list("IPPool")] == ["mine"]


def test_pools_are_per_family_as_in_calico(client: Client) -> None:
    put(client, "IPPool", "v6", {"cidr": "fd00:1::/64"})
    run_startup(client, "host1", NodeEnv.from_env({"CALICO_IPV6POOL_CIDR": "fd00:2::/64"}), fixed())
    assert sorted(p.name for p in client.list("IPPool")) == ["default-ipv4-ippool", "v6"]


def test_no_default_pools(client: Client) -> None:
    run_startup(client, "host1", NodeEnv.from_env({"NO_DEFAULT_POOLS": "true"}), fixed())
    assert client.list("IPPool") == []


# -- cluster defaults ---------------------------------------------------------------


def test_cluster_defaults_created(client: Client) -> None:
    run_startup(client, "host1", NodeEnv.from_env({"CLUSTER_TYPE": "lab"}), fixed())
    info = spec(client, "ClusterInformation", "default")
    assert len(info["clusterGUID"]) == 32
    assert info["calicoVersion"] == __version__
    assert info["datastoreReady"] is True
    assert info["clusterType"] == "lab"
    assert spec(client, "FelixConfiguration", "default")["logSeverityScreen"] == "Info"
    felix_node = spec(client, "FelixConfiguration", "node.host1")
    assert felix_node["defaultEndpointToHostAction"] == "Return"
    assert client.get("BGPConfiguration", "default").name == "default"
    assert spec(client, "IPAMConfiguration", "default")["autoAllocateBlocks"] is True
    assert spec(client, "Tier", "default")["order"] == 1_000_000


def test_cluster_information_kept_across_runs(client: Client) -> None:
    put(client, "ClusterInformation", "default",
        {"clusterGUID": "abc", "calicoVersion": "v3.0", "datastoreReady": False,
         "clusterType": "k8s"})  # fmt: skip
    ensure_cluster_information(client, "lab,k8s")
    info = spec(client, "ClusterInformation", "default")
    assert info == {"clusterGUID": "abc", "calicoVersion": __version__,
                    "datastoreReady": False, "clusterType": "k8s,lab"}  # fmt: skip


def test_existing_configuration_is_not_touched(client: Client) -> None:
    put(client, "FelixConfiguration", "default", {"logSeverityScreen": "Debug"})
    client.datastore.put(IPAM_CONFIG_KEY, json.dumps({"strict_affinity": True}))
    run_startup(client, "host1", NodeEnv.from_env({}), fixed())
    assert spec(client, "FelixConfiguration", "default")["logSeverityScreen"] == "Debug"
    # The legacy IPAM config key stays the source of truth.
    assert client.datastore.get(resource_key("IPAMConfiguration", "default")) is None


# -- the calico-node command (start-up only) ------------------------------------------


@pytest.fixture
def node_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("NODENAME", "IP", "AS", "CALICO_NETWORKING_BACKEND", "NO_DEFAULT_POOLS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATASTORE_TYPE", "sqlite")
    monkeypatch.setenv("CALICO_SQLITE_PATH", str(tmp_path / "calico.db"))
    monkeypatch.setenv("IP", HOST_CIDR)  # explicit: no detection in the test's namespace
    return tmp_path


def test_startup_only_registers_and_writes_files(
    node_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = node_env / "state"
    monkeypatch.setenv("CALICO_IPV4POOL_VXLAN", "Always")
    assert node_main(["--startup-only", "--name", "host1", "--state-dir", str(state)]) == 0
    assert (state / "nodename").read_text() == "host1\n"
    expected = host_mtu(DEFAULT_MTU_IFACE_PATTERN) - 50  # VXLAN's overhead
    assert read_mtu_file(str(state / "mtu")) == expected
    with SqliteDatastore(str(node_env / "calico.db")) as store:
        node = Client(store).get("Node", "host1").to_dict()
    assert node["spec"]["bgp"]["ipv4Address"] == HOST_CIDR
    assert node["spec"]["ipv4VXLANTunnelAddr"].startswith("192.168.")


def test_bad_environment_is_one_line_and_exit_1(
    node_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALICO_IPV4POOL_IPIP", "sometimes")
    assert node_main(["--startup-only", "--name", "host1", "--state-dir", str(node_env)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "calico-node: CALICO_IPV4POOL_IPIP=sometimes: must be one of never, always, cross-subnet\n"
    )
    assert not (node_env / "calico.db").exists()  # nothing written


def test_node_name_precedence(tmp_path: Path) -> None:
    assert node_name("flag", {"NODENAME": "env"}, tmp_path) == "flag"
    assert node_name(None, {"NODENAME": "env", "HOSTNAME": "h"}, tmp_path) == "env"
    (tmp_path / "nodename").write_text("from-file\n")
    assert node_name(None, {"HOSTNAME": "h"}, tmp_path) == "from-file"
    assert node_name(None, {"HOSTNAME": "h"}, tmp_path / "elsewhere") == "h"
    assert node_name(None, {}, tmp_path / "elsewhere") == socket.gethostname().lower()


def test_sqlite_history_is_compacted_periodically(tmp_path: Path) -> None:
    with SqliteDatastore(str(tmp_path / "calico.db")) as store:
        for i in range(20):
            store.put("/calico/test/key", str(i))
        stop = threading.Event()
        thread = threading.Thread(target=compact_periodically, args=(store, stop, 0.02, 5))
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    store.watch("/calico/", 2).get(0)
                except CompactedError:
                    break
                assert time.monotonic() < deadline, "never compacted"
                time.sleep(0.02)
        finally:
            stop.set()
            thread.join()
        assert store.watch("/calico/", store.current_revision() - 4).get(0) != []
