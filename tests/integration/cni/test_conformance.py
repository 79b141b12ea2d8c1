"""CNI protocol conformance of the real executables: commands, error codes, output.

Everything here fails (or succeeds) before touching any network interface,
so most tests run without a lab; the ones that name a namespace use a lab
host, so that even a bug could only ever hit the lab.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from calico.datastore.keys import resource_key
from calico.datastore.sqlite import SqliteDatastore

from .conftest import Cluster, network_config, new_container_id
from .runtime import Attachment, PluginError, Runtime, plugin_config

PLUGINS = ("calico", "calico-ipam")
SUPPORTED = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


@pytest.fixture
def runtime(cni_path: list[str]) -> Runtime:
    return Runtime(cni_path)


def env_for(command: str, cni_path: list[str], **extra: str) -> dict[str, str]:
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": new_container_id(),
        "CNI_NETNS": "/run/netns/does-not-exist",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": ":".join(cni_path),
    }
    return {**env, **extra}


def error_of(proc: Any) -> dict[str, Any]:
    """The error object: on stdout, exit status 1, and nothing else on stdout."""
    assert proc.returncode == 1, proc.stderr
    reply: dict[str, Any] = json.loads(proc.stdout)
    assert set(reply) == {"cniVersion", "code", "msg", "details"}
    return reply


@pytest.mark.parametrize("plugin", PLUGINS)
def test_version(runtime: Runtime, plugin: str) -> None:
    assert runtime.version(plugin, "0.4.0") == {
        "cniVersion": "0.4.0",
        "supportedVersions": SUPPORTED,
    }


def test_without_a_command_it_says_what_it_is(runtime: Runtime) -> None:
    """(``calico`` without CNI_COMMAND is the project's CLI: it is multi-call.)"""
    proc = runtime.run("calico-ipam", {}, b"")
    assert (proc.returncode, proc.stdout) == (0, b"")
    assert b"CNI protocol versions supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0" in proc.stderr
    assert b"Calico CNI IPAM plugin" in proc.stderr


@pytest.mark.parametrize("plugin", PLUGINS)
def test_dash_v_prints_the_version(cni_path: list[str], plugin: str) -> None:
    import subprocess

    proc = subprocess.run([os.path.join(cni_path[0], plugin), "-v"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.startswith("v")


@pytest.mark.parametrize("plugin", PLUGINS)
@pytest.mark.parametrize(
    ("command", "unset", "named"),
    [
        ("ADD", "CNI_NETNS", "CNI_NETNS"),
        ("ADD", "CNI_CONTAINERID", "CNI_CONTAINERID"),
        ("DEL", "CNI_IFNAME", "CNI_IFNAME"),
        ("CHECK", "CNI_PATH", "CNI_PATH"),
        ("GC", "CNI_PATH", "CNI_PATH"),
        ("STATUS", "CNI_PATH", "CNI_PATH"),
    ],
)
def test_missing_environment_is_error_4(
    runtime: Runtime, cni_path: list[str], plugin: str, command: str, unset: str, named: str
) -> None:
    env = env_for(command, cni_path)
    del env[unset]
    conf = {"cniVersion": "1.1.0", "name": "n", "type": plugin, "ipam": {"type": "calico-ipam"}}
    reply = error_of(runtime.run(plugin, env, json.dumps(conf).encode()))
    assert reply["code"] == 4
    assert named in reply["msg"]


@pytest.mark.parametrize("plugin", PLUGINS)
@pytest.mark.parametrize(
    ("extra_env", "stdin", "code"),
    [
        ({}, b"{not json", 6),
        ({}, b'{"cniVersion": "1.0.0", "type": "calico"}', 7),  # no name
        ({}, b'{"cniVersion": "1.0.0", "name": "bad/name"}', 7),
        ({}, b'{"cniVersion": "2.0.0", "name": "n"}', 1),
        ({}, b'{"cniVersion": "0.2.0", "name": "n"}', 1),
        ({"CNI_COMMAND": "CHECK"}, b'{"cniVersion": "0.3.1", "name": "n"}', 1),
        ({"CNI_COMMAND": "GC"}, b'{"cniVersion": "1.0.0", "name": "n"}', 1),
        ({"CNI_COMMAND": "STATUS"}, b'{"cniVersion": "1.0.0", "name": "n"}', 1),
        ({"CNI_CONTAINERID": "-bad id"}, b'{"cniVersion": "1.0.0", "name": "n"}', 4),
        ({"CNI_IFNAME": "much-too-long-name"}, b'{"cniVersion": "1.0.0", "name": "n"}', 4),
        ({"CNI_COMMAND": "FROB"}, b'{"cniVersion": "1.0.0", "name": "n"}', 4),
    ],
)
def test_protocol_error_codes(
    runtime: Runtime,
    cni_path: list[str],
    plugin: str,
    extra_env: dict[str, str],
    stdin: bytes,
    code: int,
) -> None:
    reply = error_of(runtime.run(plugin, env_for("ADD", cni_path, **extra_env), stdin))
    assert reply["code"] == code, reply


@pytest.mark.parametrize(
    ("extra", "code", "text"),
    [
        ({"datastore_type": "kubernetes"}, 2, "datastore_type=kubernetes"),
        ({"policy": {"type": "weird"}}, 2, "policy.type=weird"),
        ({"mtu": "big"}, 7, "mtu"),
        ({"ipam": {"type": ""}}, 7, "ipam.type"),
        (
            {"nodename_file_optional": False, "nodename_file": "/nonexistent/nodename"},
            11,
            "/nonexistent/nodename",
        ),
    ],
)
def test_network_config_errors(
    runtime: Runtime,
    cni_path: list[str],
    datastore: Path,
    tmp_path: Path,
    extra: dict[str, Any],
    code: int,
    text: str,
) -> None:
    conf = network_config(datastore, "host1", tmp_path, **extra)
    conf["ipam"] = extra.get("ipam", conf["ipam"])
    env = env_for("DEL", cni_path)  # DEL: no namespace needed to get this far
    reply = error_of(runtime.run("calico", env, json.dumps(conf).encode()))
    assert reply["code"] == code, reply
    assert text in reply["msg"] + reply["details"]


def test_add_into_a_missing_namespace_is_error_4(
    runtime: Runtime, cni_path: list[str], datastore: Path, tmp_path: Path
) -> None:
    conf = network_config(datastore, "host1", tmp_path)
    reply = error_of(runtime.run("calico", env_for("ADD", cni_path), json.dumps(conf).encode()))
    assert (reply["code"], reply["msg"]) == (4, "invalid CNI_NETNS")


def test_errors_carry_the_requested_version(
    runtime: Runtime, cni_path: list[str], datastore: Path, tmp_path: Path
) -> None:
    conf = network_config(datastore, "host1", tmp_path, version="0.4.0")
    proc = runtime.run("calico", env_for("ADD", cni_path), json.dumps(conf).encode())
    assert error_of(proc)["cniVersion"] == "0.4.0"
    assert b"invalid CNI_NETNS" in proc.stderr  # logs go to stderr


# -- STATUS ------------------------------------------------------------------------


def status_conf(datastore: Path, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return network_config(datastore, "host1", tmp_path, version="1.1.0", **extra)


def test_status_ready(runtime: Runtime, datastore: Path, tmp_path: Path) -> None:
    runtime.status(status_conf(datastore, tmp_path))  # raises on failure


@pytest.mark.parametrize(
    "sqlite_path", ["/nonexistent-dir/calico.db", "/dev/null/calico.db"], ids=["missing", "bad"]
)
def test_status_unreachable_datastore_is_50(
    runtime: Runtime, datastore: Path, tmp_path: Path, sqlite_path: str
) -> None:
    with pytest.raises(PluginError) as info:
        runtime.status(status_conf(datastore, tmp_path, sqlite_path=sqlite_path))
    assert info.value.code == 50
    assert not os.path.exists("/nonexistent-dir")  # STATUS created nothing


def test_status_not_ready_datastore_is_50(
    runtime: Runtime, datastore: Path, tmp_path: Path
) -> None:
    with SqliteDatastore(str(datastore)) as ds:
        info = {
            "apiVersion": "projectcalico.org/v3",
            "kind": "ClusterInformation",
            "metadata": {"name": "default"},
            "spec": {"datastoreReady": False},
        }
        ds.put(resource_key("ClusterInformation", "default"), json.dumps(info))
    with pytest.raises(PluginError) as err:
        runtime.status(status_conf(datastore, tmp_path))
    assert err.value.code == 50
    assert "not ready" in err.value.msg


def test_status_is_forwarded_to_ipam(runtime: Runtime, datastore: Path, tmp_path: Path) -> None:
    with SqliteDatastore(str(datastore)) as ds:
        ds.delete(resource_key("IPPool", "default-ipv6"))
    conf = status_conf(datastore, tmp_path, ipam={"assign_ipv6": "true"})
    with pytest.raises(PluginError) as err:
        runtime.status(conf)
    assert err.value.plugin == "calico"
    assert err.value.code == 50
    assert "no enabled IPv6 pool" in err.value.msg


def test_status_with_host_local_ipam_is_ready(
    runtime: Runtime, datastore: Path, tmp_path: Path
) -> None:
    """Debian's host-local predates STATUS (spec <= 1.0.0): it has nothing to report."""
    conf = status_conf(datastore, tmp_path)
    conf["ipam"] = {"type": "host-local", "subnet": "10.250.0.0/24", "dataDir": str(tmp_path)}
    runtime.status(conf)


# -- in a lab (namespaces involved) ------------------------------------------------


@pytest.mark.root
def test_add_into_the_plugins_own_namespace_is_error_8(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    host = cluster.host("host1")
    att = Attachment(new_container_id(), f"/run/netns/{host.netns}")
    with pytest.raises(PluginError) as info:
        cluster.runtime("host1").add(network_config(datastore, "host1", tmp_path), att)
    assert info.value.code == 8
    assert not _allocations(datastore)


@pytest.mark.root
def test_unknown_ipam_plugin_is_error_7_and_leaves_nothing(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    conf = network_config(datastore, "host1", tmp_path)
    conf["ipam"] = {"type": "no-such-ipam"}
    att = cluster.container("a")
    with pytest.raises(PluginError) as info:
        cluster.runtime("host1").add(conf, att)
    assert info.value.code == 7
    assert 'failed to find plugin "no-such-ipam"' in info.value.msg
    assert "cali" not in cluster.host("host1").ip_cmd("-br", "link")


@pytest.mark.root
def test_del_of_an_unknown_container_succeeds(
    cluster: Cluster, datastore: Path, tmp_path: Path
) -> None:
    conf = network_config(datastore, "host1", tmp_path)
    runtime = cluster.runtime("host1")
    gone = Attachment(new_container_id(), "/run/netns/never-existed")
    runtime.delete(conf, gone)
    runtime.delete(conf, gone)
    no_netns = runtime.run(
        "calico",
        {
            "CNI_COMMAND": "DEL",
            "CNI_CONTAINERID": gone.container_id,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": ":".join(runtime.cni_path),
        },
        json.dumps(plugin_config(conf, conf)).encode(),
    )
    assert (no_netns.returncode, no_netns.stdout) == (0, b""), no_netns.stderr


def _allocations(datastore: Path) -> list[str]:
    with SqliteDatastore(str(datastore)) as ds:
        return [kv.key for kv in ds.list("/calico/ipam/v2/handle/")[0]]
