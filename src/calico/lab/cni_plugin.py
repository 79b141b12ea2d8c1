"""Calling the real ``calico`` CNI plugin, exactly as libcni does.

The plugin is exec'd (found on ``CNI_PATH``: the venv's ``calico`` and
``calico-ipam`` first, then Debian's plugins) *inside the host's namespace*,
with the CNI environment (``CNI_COMMAND``, ``CNI_CONTAINERID``,
``CNI_NETNS``, ``CNI_IFNAME``, ``CNI_ARGS``, ``CNI_PATH``) and the network
config on stdin (CNI SPEC section 3). It wires the veth, writes the
WorkloadEndpoint and prints the result; ``add`` reads the address from it.

The network config is Calico's Kubernetes one (``policy.type: k8s``, so the
endpoint's profile is ``kns.<namespace>``), with an explicit ``nodename``
and ``mtu``: every lab host shares this machine's filesystem, so the
per-host files a real node would read (``/var/lib/calico/nodename``,
``/var/lib/calico/mtu``) cannot tell the hosts apart. Pod labels and named
ports, which upstream reads from the Kubernetes API, travel under the
reserved ``args`` key as ``calico.cni.wep`` documents.

The plugin runs with only the CNI variables and ``PATH`` in its
environment: a user's ``DATASTORE_TYPE`` or ``ETCD_ENDPOINTS`` must not
leak into it (the config names the lab's datastore).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from calico.errors import CalicoError, ConfigError
from calico.lab.metadata import NamedPort

NETWORK_NAME = "k8s-pod-network"  # the name of Calico's Kubernetes network config
CNI_VERSION = "1.0.0"
DEBIAN_CNI_DIR = "/usr/lib/cni"
IFNAME = "eth0"
PLUGIN_TIMEOUT = 120.0
_DEFAULT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
_MAX_RAW_REPLY = 500


class CniPluginError(CalicoError):
    """The plugin failed; the message is its CNI error object (code, msg, details)."""


@dataclass(frozen=True)
class HostNetwork:
    """What the network config says about one host: its node name and datastore."""

    nodename: str
    host_netns: str
    datastore: Mapping[str, str]  # network config keys: datastore_type, sqlite_path, ...
    mtu: int
    ipam_lock_file: str
    log_file: str


@dataclass(frozen=True)
class Pod:
    """One pod's identity and metadata, as kubelet would know it."""

    container_id: str
    netns_path: str  # /run/netns/<lab>-wl-<name>
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: Sequence[NamedPort] = ()

    @property
    def cni_args(self) -> str:
        # What kubelet passes (IgnoreUnknown: plugins may ignore keys they do not know).
        return (
            f"IgnoreUnknown=1;K8S_POD_NAMESPACE={self.namespace};K8S_POD_NAME={self.name};"
            f"K8S_POD_INFRA_CONTAINER_ID={self.container_id}"
        )


@dataclass(frozen=True)
class Attached:
    """The outcome of ADD: the pod's IPv4 address and the host-side interface."""

    ip: str
    host_ifname: str


def cni_path() -> list[str]:
    """Our plugins (the venv's ``calico`` and ``calico-ipam``), then Debian's."""
    return [os.path.dirname(sys.executable), DEBIAN_CNI_DIR]


def network_config(host: HostNetwork, pod: Pod) -> dict[str, Any]:
    return {
        "cniVersion": CNI_VERSION,
        "name": NETWORK_NAME,
        "type": "calico",
        "nodename": host.nodename,
        "nodename_file_optional": True,
        "mtu": host.mtu,
        **host.datastore,
        "ipam_lock_file": host.ipam_lock_file,
        "log_level": "info",
        "log_file_path": host.log_file,
        "policy": {"type": "k8s"},
        "ipam": {"type": "calico-ipam"},
        "args": {
            "org.projectcalico": {
                "labels": dict(pod.labels),
                "ports": [p.to_cni() for p in pod.ports],
            }
        },
    }


def add(host: HostNetwork, pod: Pod) -> Attached:
    """CNI ADD: wire the pod; its address and host interface from the result."""
    result = invoke("ADD", host, pod)
    try:
        ip = str(result["ips"][0]["address"]).split("/")[0]
        host_ifname = next(i["name"] for i in result["interfaces"] if not i.get("sandbox"))
    except (KeyError, IndexError, StopIteration, TypeError) as exc:
        raise CniPluginError(f"calico ADD: unexpected result {result!r} ({exc!r})") from None
    return Attached(ip, host_ifname)


def delete(host: HostNetwork, pod: Pod) -> None:
    """CNI DEL: idempotent; works without the pod's namespace too."""
    invoke("DEL", host, pod)


def invoke(command: str, host: HostNetwork, pod: Pod) -> dict[str, Any]:
    """Exec the ``calico`` plugin in the host's namespace; its decoded stdout."""
    argv = ["ip", "netns", "exec", host.host_netns, _find_plugin("calico")]
    proc = subprocess.run(
        argv,
        input=json.dumps(network_config(host, pod)),
        env=_plugin_env(command, pod),
        capture_output=True,
        text=True,
        timeout=PLUGIN_TIMEOUT,
    )
    reply = _decode(proc.stdout)
    if proc.returncode != 0:
        raise CniPluginError(f"calico {command} failed: {_describe(reply, proc.stderr)}")
    return reply


def _plugin_env(command: str, pod: Pod) -> dict[str, str]:
    """The CNI variables and ``PATH``, and nothing else of ours."""
    return {
        "PATH": os.environ.get("PATH", _DEFAULT_PATH),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": pod.container_id,
        "CNI_NETNS": pod.netns_path,
        "CNI_IFNAME": IFNAME,
        "CNI_ARGS": pod.cni_args,
        "CNI_PATH": ":".join(cni_path()),
    }


def _find_plugin(name: str) -> str:
    for directory in cni_path():
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    raise ConfigError(f"CNI plugin {name!r} not found in CNI_PATH {':'.join(cni_path())}")


def _decode(stdout: str) -> dict[str, Any]:
    try:
        reply = json.loads(stdout) if stdout.strip() else {}
    except ValueError:
        return {"msg": stdout.strip()[:_MAX_RAW_REPLY]}
    return reply if isinstance(reply, dict) else {"msg": str(reply)}


def _describe(reply: Mapping[str, Any], stderr: str) -> str:
    """The CNI error object in one line (the last log line if there is none)."""
    if reply.get("msg"):
        details = f": {reply['details']}" if reply.get("details") else ""
        return f"[{reply.get('code', '?')}] {reply['msg']}{details}"
    lines = stderr.strip().splitlines()
    return lines[-1] if lines else "no error output"
