"""A minimal CNI runtime: what kubelet + containerd do for one pod, and no more.

``calico lab workload add`` creates a container the way a Kubernetes node
does: it checks the pod's namespace exists, claims the workload's name in
the lab state, makes the pod's network namespace, then calls the real
``calico`` CNI plugin (``calico.lab.cni_plugin``: exec'd inside the host's
namespace, delegating addressing to the real ``calico-ipam``) and records
the workload with the address from the plugin's result; finally it starts
the workload server. Any failure undoes it all (CNI DEL, then the namespace
and the records). ``remove_container`` is the same undo.

The pieces live in their own modules and are re-exported here, where other
code imports them from: the plugin protocol (``calico.lab.cni_plugin``:
``add``/``delete``/``invoke``), labels and named ports as users type them
(``calico.lab.metadata``), and the lab's pod records shared with
``calico.lab.vm`` (``calico.lab.pods``, also ``relabel``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from calico.cni.names import EndpointIdentifiers
from calico.lab import netns
from calico.lab.cni_plugin import (
    CNI_VERSION,
    DEBIAN_CNI_DIR,
    IFNAME,
    NETWORK_NAME,
    PLUGIN_TIMEOUT,
    Attached,
    CniPluginError,
    HostNetwork,
    Pod,
    add,
    cni_path,
    delete,
    invoke,
    network_config,
)
from calico.lab.hosts import Host
from calico.lab.metadata import NamedPort, apply_label_changes, check_labels, parse_labels
from calico.lab.namespaces import check_namespace
from calico.lab.pods import (
    DEFAULT_NAMESPACE,
    PODS,
    PodRecord,
    forget,
    load_pods,
    pod_record,
    record_workload,
    relabel,
    reserve,
    serve,
    validate_workload_name,
    workload_netns,
)
from calico.lab.workload import Workload

if TYPE_CHECKING:
    from calico.lab.cluster import Lab

__all__ = [
    "CNI_VERSION",
    "DEBIAN_CNI_DIR",
    "DEFAULT_NAMESPACE",
    "IFNAME",
    "NETWORK_NAME",
    "PLUGIN_TIMEOUT",
    "PODS",
    "Attached",
    "CniPluginError",
    "HostNetwork",
    "NamedPort",
    "Pod",
    "PodRecord",
    "add",
    "add_container",
    "apply_label_changes",
    "check_labels",
    "check_namespace",
    "cni_path",
    "delete",
    "forget",
    "host_network",
    "invoke",
    "load_pods",
    "network_config",
    "parse_labels",
    "pod_record",
    "record_workload",
    "relabel",
    "remove_container",
    "reserve",
    "serve",
    "validate_workload_name",
]


def host_network(lab: Lab, host: Host) -> HostNetwork:
    """What the network config says about ``host`` (its IPAM lock file made ready)."""
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
    ns = workload_netns(lab.name, record.name)
    pod = Pod(record.container_id, str(netns.NETNS_DIR / ns), record.namespace, record.name)
    _remove(lab, host_network(lab, host), pod)


def _remove(lab: Lab, network: HostNetwork, pod: Pod) -> None:
    lab.pm.stop(f"server-{pod.name}")
    try:
        delete(network, pod)
    finally:
        forget(lab.state, pod.name)
