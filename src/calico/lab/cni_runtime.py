"""A minimal CNI runtime: what kubelet + containerd do for one pod, and no more.

``calico lab workload add`` creates a container the way a Kubernetes node
does: it makes the pod's network namespace, then execs the real ``calico``
CNI plugin (found on ``CNI_PATH``, which delegates addressing to the real
``calico-ipam``) *inside the host's namespace*, with the CNI environment
(``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``,
``CNI_ARGS``, ``CNI_PATH``) and the network config on stdin, exactly as
libcni does (CNI SPEC section 3). The plugin wires the veth, writes the
WorkloadEndpoint and prints the result; we read the address from it.

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

Sections: the plugin protocol (``add``/``delete``/``invoke``); labels as
users type them; the lab's pods (records in the lab state, ``add_container``,
``remove_container``, shared with ``calico.lab.vm``); and what the
Kubernetes API server would store (a pod's labels, ``relabel``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from calico.cni.names import EndpointIdentifiers
from calico.errors import CalicoError, ConfigError, NotFoundError, ValidationError
from calico.lab import netns
from calico.lab.cluster import Lab, open_client
from calico.lab.hosts import Host
from calico.lab.state import LabState, netns_name
from calico.lab.workload import DEFAULT_PORTS, Workload, start_server

NETWORK_NAME = "k8s-pod-network"  # the name of Calico's Kubernetes network config
CNI_VERSION = "1.0.0"
DEBIAN_CNI_DIR = "/usr/lib/cni"
IFNAME = "eth0"
PLUGIN_TIMEOUT = 120.0
_PORT_SPEC = re.compile(
    r"(?P<name>[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?)=(?P<port>\d+)/(?P<proto>\w+)"
)
_PROTOCOLS = ("tcp", "udp", "sctp")


class CniPluginError(CalicoError):
    """The plugin failed; the message is its CNI error object (code, msg, details)."""


@dataclass(frozen=True)
class NamedPort:
    """A container port a policy can name (``--port http=8080/tcp``)."""

    name: str
    port: int
    protocol: str  # tcp | udp | sctp

    @classmethod
    def parse(cls, text: str) -> NamedPort:
        match = _PORT_SPEC.fullmatch(text.strip().lower())
        if match is None or match["proto"] not in _PROTOCOLS:
            raise ConfigError(
                f"--port must be NAME=PORT/PROTO with PROTO one of {', '.join(_PROTOCOLS)} "
                f"and NAME a lowercase IANA service name (value {text!r})"
            )
        port = int(match["port"])
        if not 0 < port < 65536:
            raise ConfigError(f"--port: port must be between 1 and 65535 (value {text!r})")
        return cls(match["name"], port, match["proto"])

    def to_cni(self) -> dict[str, Any]:
        return {"name": self.name, "port": self.port, "protocol": self.protocol.upper()}


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
    plugin = _find_plugin("calico")
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": pod.container_id,
        "CNI_NETNS": pod.netns_path,
        "CNI_IFNAME": IFNAME,
        "CNI_ARGS": pod.cni_args,
        "CNI_PATH": ":".join(cni_path()),
    }
    stdin = json.dumps(network_config(host, pod))
    argv = ["ip", "netns", "exec", host.host_netns, plugin]
    proc = subprocess.run(
        argv, input=stdin, env=env, capture_output=True, text=True, timeout=PLUGIN_TIMEOUT
    )
    reply = _decode(proc.stdout)
    if proc.returncode != 0:
        raise CniPluginError(f"calico {command} failed: {_describe(reply, proc.stderr)}")
    return reply


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
        return {"msg": stdout.strip()[:500]}
    return reply if isinstance(reply, dict) else {"msg": str(reply)}


def _describe(reply: Mapping[str, Any], stderr: str) -> str:
    """The CNI error object in one line (the last log line if there is none)."""
    if reply.get("msg"):
        details = f": {reply['details']}" if reply.get("details") else ""
        return f"[{reply.get('code', '?')}] {reply['msg']}{details}"
    lines = stderr.strip().splitlines()
    return lines[-1] if lines else "no error output"


# -- labels, as users type them --------------------------------------------------


def parse_labels(text: str, option: str = "--labels") -> dict[str, str]:
    """``k=v,k2=v2`` -> dict; keys and values validated as Calico validates labels."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"{option}: {item!r} is not KEY=VALUE")
        labels[key] = value
    check_labels(labels, option)
    return labels


def check_labels(labels: Mapping[str, str], option: str) -> None:
    # Calico's label rules live in the resource model: a throwaway
    # GlobalNetworkSet (a kind with no required fields) applies them.
    from calico.resources import API_VERSION, parse_resource

    doc = {
        "apiVersion": API_VERSION,
        "kind": "GlobalNetworkSet",
        "metadata": {"name": "labels", "labels": dict(labels)},
    }
    try:
        parse_resource(doc)
    except ValidationError as exc:
        raise ConfigError(f"{option}: {exc.reason}") from None


def apply_label_changes(labels: Mapping[str, str], changes: Sequence[str]) -> dict[str, str]:
    """``k=v`` sets, ``k-`` removes (kubectl label's syntax); the new labels."""
    result = dict(labels)
    for change in changes:
        if change.endswith("-") and "=" not in change:
            key = change[:-1]
            if key not in result:
                raise ConfigError(f"label {key!r} is not set (labels: {_show(result)})")
            del result[key]
        elif "=" in change:
            key, _, value = change.partition("=")
            check_labels({key: value}, "label")  # only what the user sets: the rest is Calico's
            result[key] = value
        else:
            raise ConfigError(f"label change must be KEY=VALUE or KEY- (value {change!r})")
    return result


def _show(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"


# -- a lab's containers ------------------------------------------------------------
#
# A container is a namespace ``<lab>-wl-<name>`` wired by the plugin, plus the
# workload server answering on TCP/UDP 80 and 81 and its declared ports. It
# is recorded in two sections of the lab state: ``workloads`` (the
# ``calico.lab.workload.Workload`` every lab tool reads) and ``pods`` (what
# only the runtime needs: container ID, endpoint, ports, kind). The name and
# namespace are recorded before anything exists, so ``down`` finds them.

PODS = "pods"
_WORKLOADS = "workloads"  # calico.lab.workload's section
DEFAULT_NAMESPACE = "default"
_WL_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")


@dataclass(frozen=True)
class PodRecord:
    """How to find a workload's endpoint and undo it; ``kind`` is container or vm."""

    name: str
    kind: str
    host: str
    namespace: str  # of the WorkloadEndpoint
    endpoint: str  # the WorkloadEndpoint's name
    container_id: str = ""
    ports: tuple[NamedPort, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # vm: its address and port

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ports": [asdict(p) for p in self.ports], "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PodRecord:
        return cls(**{**raw, "ports": tuple(NamedPort(**p) for p in raw.get("ports", []))})


def validate_workload_name(name: str) -> str:
    if not _WL_NAME.fullmatch(name):
        raise ConfigError(
            "workload name must be 1-40 lowercase letters, digits or '-', starting and ending "
            f"with a letter or digit (value {name!r})"
        )
    return name


def load_pods(state: LabState) -> dict[str, PodRecord]:
    raw: Mapping[str, Any] = state.section(PODS) or {}
    return {name: PodRecord.from_json(r) for name, r in raw.items()}


def pod_record(state: LabState, name: str) -> PodRecord:
    record = load_pods(state).get(name)
    if record is None:
        raise ConfigError(f"lab {state.name} has no workload {name!r}")
    return record


def reserve(state: LabState, record: PodRecord) -> str:
    """Claim the workload's name and namespace in the lab state; returns the namespace."""
    validate_workload_name(record.name)
    ns = netns_name(state.name, f"wl-{record.name}")
    with state.edit() as data:
        taken = data.sections.get(PODS, {}).keys() | data.sections.get(_WORKLOADS, {}).keys()
        if record.name in taken or netns.exists(ns):
            raise ConfigError(f"workload {record.name!r} already exists in lab {state.name}")
        data.sections.setdefault(PODS, {})[record.name] = record.to_json()
    state.record_namespace(ns)
    return ns


def record_workload(state: LabState, wl: Workload) -> None:
    with state.edit() as data:
        data.sections.setdefault(_WORKLOADS, {})[wl.name] = wl.to_json()


def forget(state: LabState, name: str) -> None:
    """Destroy the workload's namespace (and its processes) and drop its records."""
    ns = netns_name(state.name, f"wl-{name}")
    netns.destroy(ns)
    with state.edit() as data:
        for section in (PODS, _WORKLOADS):
            data.sections.get(section, {}).pop(name, None)
    state.forget_namespace(ns)


def serve(lab: Lab, wl: Workload, ports: Sequence[NamedPort]) -> None:
    """Start the workload server on TCP and UDP 80, 81 and every declared port."""

    def numbers(protocol: str) -> set[int]:
        return {p.port for p in ports if p.protocol == protocol}

    tcp, udp = sorted({*DEFAULT_PORTS, *numbers("tcp")}), sorted({*DEFAULT_PORTS, *numbers("udp")})
    start_server(lab.pm, wl, tcp=tcp, udp=udp, sctp=sorted(numbers("sctp")))


def host_network(lab: Lab, host: Host) -> HostNetwork:
    run_dir = lab.state.dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    return HostNetwork(
        nodename=host.name,
        host_netns=host.netns,
        datastore=lab.cni_datastore(host),
        mtu=lab.config.mtu,
        ipam_lock_file=str(run_dir / f"ipam-{host.name}.lock"),
        log_file=str(lab.pm.log_path("cni")),
    )


def check_namespace(lab: Lab, namespace: str) -> None:
    """Pods need their namespace (its profile ``kns.<ns>``), as in Kubernetes."""
    from calico.k8s import profile_name

    with open_client(lab) as client:
        try:
            client.get("Profile", profile_name(namespace))
        except NotFoundError:
            raise ConfigError(
                f"namespace {namespace!r} does not exist in lab {lab.name} "
                f"(create it: calico lab namespace add {namespace})"
            ) from None


def add_container(
    lab: Lab,
    host_name: str,
    name: str,
    namespace: str = DEFAULT_NAMESPACE,
    labels: Mapping[str, str] | None = None,
    ports: Sequence[NamedPort] = (),
) -> Workload:
    """A pod on ``host_name``, wired by the CNI plugin and serving; undone on any failure."""
    host = lab.host(host_name)
    check_namespace(lab, namespace)
    ids = EndpointIdentifiers(node=host.name, orchestrator="k8s", endpoint=IFNAME, pod=name)
    record = PodRecord(
        name, "container", host.name, namespace, "", secrets.token_hex(32), tuple(ports)
    )
    ns = reserve(lab.state, replace(record, endpoint=ids.name()))
    network = host_network(lab, host)
    pod = Pod(record.container_id, str(netns.NETNS_DIR / ns), namespace, name, labels or {}, ports)
    try:
        netns.create(ns)
        attached = add(network, pod)
        wl = Workload(lab.name, name, host.name, host.netns, ns, attached.ip, attached.host_ifname)
        record_workload(lab.state, wl)
        serve(lab, wl, ports)
    except BaseException:
        _remove(lab, network, pod)
        raise
    return wl


def remove_container(lab: Lab, record: PodRecord) -> None:
    """CNI DEL (endpoint, veth, addresses), then the namespace and the records."""
    host = lab.host(record.host)
    ns = netns_name(lab.name, f"wl-{record.name}")
    pod = Pod(record.container_id, str(netns.NETNS_DIR / ns), record.namespace, record.name)
    _remove(lab, host_network(lab, host), pod)


def _remove(lab: Lab, network: HostNetwork, pod: Pod) -> None:
    lab.pm.stop(f"server-{pod.name}")
    try:
        delete(network, pod)
    finally:
        forget(lab.state, pod.name)


# -- what the Kubernetes API server would store ---------------------------------------


def relabel(lab: Lab, name: str, changes: Sequence[str]) -> dict[str, str]:
    """Change the labels of workload ``name``'s endpoint; returns the new labels."""
    from calico.resources import parse_resource

    record = pod_record(lab.state, name)
    with open_client(lab) as client:
        wep = client.get("WorkloadEndpoint", record.endpoint, record.namespace)
        doc = wep.to_dict()
        labels = apply_label_changes(doc["metadata"].get("labels") or {}, changes)
        doc["metadata"]["labels"] = labels
        client.update(parse_resource(doc))
    return labels
