"""The WorkloadEndpoint (and Profile) documents the plugin writes.

Identity (``cni-plugin/internal/pkg/utils.GetIdentifiers``): when ``CNI_ARGS``
carries ``K8S_POD_NAMESPACE`` and ``K8S_POD_NAME`` the orchestrator is ``k8s``
and the endpoint is named after the pod; otherwise it is ``cni``, named after
the container ID, in namespace ``default`` (or ``CNI_TEST_NAMESPACE``).

Workload metadata.  Upstream reads labels, named ports and the service
account from the Kubernetes API.  There is none here, so the runtime passes
them in the network config, under the reserved ``args`` key (CNI
CONVENTIONS.md: optional metadata a plugin may ignore)::

    "args": {
      "cni": {"labels": [{"key": "app", "value": "web"}]},       # the CNI convention
      "org.projectcalico": {                                    # ours
        "labels": {"app": "web"},                                # merged over cni.labels
        "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
        "serviceAccount": "frontend",                            # k8s: ksa profile + label
        "profiles": ["extra"]                                    # appended to the defaults
      }
    },
    "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80,
                                        "protocol": "tcp"}]}   # -> ports with hostPort

Profiles: ``kns.<ns>`` (+ ``ksa.<ns>.<sa>``) for k8s pods when
``policy.type`` is ``k8s``; otherwise the network name, and that profile is
created if missing (allow egress; ingress only from the same network, or
everything under k8s), as upstream does.

Documents are the v3 JSON calicoctl stores (Go ``omitempty``: empty fields
left out), built directly so that the plugin never imports pydantic.  We add
one annotation, ``cni.projectcalico.org/network``, so that CNI GC can tell
the endpoints of one network from another's.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from calico.cni.names import EndpointIdentifiers
from calico.cni.spec import INVALID_CONFIG, CmdArgs, CniError

ORCH_K8S = "k8s"
ORCH_CNI = "cni"
API_VERSION = "projectcalico.org/v3"
NETWORK_ANNOTATION = "cni.projectcalico.org/network"
LABEL_NAMESPACE = "projectcalico.org/namespace"
LABEL_ORCHESTRATOR = "projectcalico.org/orchestrator"
LABEL_SERVICE_ACCOUNT = "projectcalico.org/serviceaccount"
DEFAULT_NAMESPACE = "default"
_ARGS_KEY = "org.projectcalico"

Document = dict[str, Any]


@dataclass(frozen=True)
class WorkloadIDs:
    """Who the endpoint is: the name segments plus the namespace."""

    node: str
    orchestrator: str
    container_id: str
    endpoint: str  # CNI_IFNAME
    namespace: str = DEFAULT_NAMESPACE
    pod: str = ""

    @property
    def names(self) -> EndpointIdentifiers:
        return EndpointIdentifiers(
            node=self.node,
            orchestrator=self.orchestrator,
            endpoint=self.endpoint,
            pod=self.pod,
            container_id=self.container_id,
        )

    @property
    def name(self) -> str:
        return self.names.name()

    @property
    def workload_id(self) -> str:
        """The legacy IPAM handle upstream also releases: ``<ns>.<pod>`` or the container."""
        return f"{self.namespace}.{self.pod}" if self.pod else self.container_id

    def host_veth_name(self) -> str:
        """``cali`` + 11 hex: sha1("<ns>.<pod>") for k8s, the container ID otherwise."""
        prefix = (os.environ.get("FELIX_INTERFACEPREFIX") or "cali").split(",")[0]
        if self.orchestrator == ORCH_K8S:
            return prefix + hashlib.sha1(f"{self.namespace}.{self.pod}".encode()).hexdigest()[:11]
        return prefix + self.container_id[:11]


def identifiers(args: CmdArgs, nodename: str) -> WorkloadIDs:
    cni_args = args.cni_args()
    namespace, pod = cni_args.get("K8S_POD_NAMESPACE", ""), cni_args.get("K8S_POD_NAME", "")
    if namespace and pod:
        return WorkloadIDs(nodename, ORCH_K8S, args.container_id, args.ifname, namespace, pod)
    namespace = cni_args.get("CNI_TEST_NAMESPACE") or DEFAULT_NAMESPACE
    return WorkloadIDs(nodename, ORCH_CNI, args.container_id, args.ifname, namespace)


@dataclass(frozen=True)
class WorkloadInfo:
    """Labels, ports, profiles and service account from ``args``/``runtimeConfig``."""

    labels: dict[str, str] = field(default_factory=dict)
    ports: list[Document] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    service_account: str = ""


def workload_info(
    config_args: dict[str, Any],
    runtime_config: dict[str, Any],
    ids: WorkloadIDs,
    network: str,
    k8s_policy: bool,
) -> WorkloadInfo:
    ours = _mapping(config_args.get(_ARGS_KEY), f"args.{_ARGS_KEY}")
    labels = _convention_labels(config_args)
    labels.update(_string_map(ours.get("labels"), f"args.{_ARGS_KEY}.labels"))
    account = ours.get("serviceAccount") or ""
    if not isinstance(account, str):
        raise _bad(f"args.{_ARGS_KEY}.serviceAccount", account)
    ports = [_named_port(p) for p in _list(ours.get("ports"), f"args.{_ARGS_KEY}.ports")]
    ports += [_mapped_port(p) for p in _list(runtime_config.get("portMappings"), "portMappings")]
    extra = _list(ours.get("profiles"), f"args.{_ARGS_KEY}.profiles")
    if not all(isinstance(p, str) for p in extra):
        raise _bad(f"args.{_ARGS_KEY}.profiles", extra)
    profiles = _default_profiles(ids, network, account, k8s_policy)
    return WorkloadInfo(labels, ports, profiles + [p for p in extra if p not in profiles], account)


def _default_profiles(ids: WorkloadIDs, network: str, account: str, k8s_policy: bool) -> list[str]:
    if ids.orchestrator != ORCH_K8S or not k8s_policy:
        return [network]
    profiles = [f"kns.{ids.namespace}"]
    if account:
        profiles.append(f"ksa.{ids.namespace}.{account}")
    return profiles


def endpoint_document(
    ids: WorkloadIDs,
    info: WorkloadInfo,
    network: str,
    ip_networks: list[str],
    interface_name: str,
    mac: str,
) -> Document:
    """A new WorkloadEndpoint, as clientv3 would store it (labels it adds included)."""
    labels = {**info.labels, LABEL_NAMESPACE: ids.namespace, LABEL_ORCHESTRATOR: ids.orchestrator}
    if info.service_account:
        labels[LABEL_SERVICE_ACCOUNT] = info.service_account
    spec: Document = {
        "orchestrator": ids.orchestrator,
        "node": ids.node,
        "containerID": ids.container_id,
        "pod": ids.pod,
        "endpoint": ids.endpoint,
        "serviceAccountName": info.service_account,
        "ipNetworks": ip_networks,
        "profiles": info.profiles,
        "interfaceName": interface_name,
        "mac": mac,
        "ports": info.ports,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkloadEndpoint",
        "metadata": new_metadata(ids.name, ids.namespace, labels, {NETWORK_ANNOTATION: network}),
        "spec": {k: v for k, v in spec.items() if v},
    }


def profile_document(network: str, k8s: bool) -> Document:
    """The per-network profile upstream creates for non-policy networks."""
    ingress: Document = {"action": "Allow"}
    if not k8s:
        ingress["source"] = {"selector": f"has({network})"}
    return {
        "apiVersion": API_VERSION,
        "kind": "Profile",
        "metadata": new_metadata(network),
        "spec": {
            "ingress": [ingress],
            "egress": [{"action": "Allow"}],
            "labelsToApply": {network: ""},
        },
    }


def new_metadata(
    name: str,
    namespace: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Document:
    """Metadata of a new object: the server-owned uid and creationTimestamp filled in."""
    meta: Document = {"name": name, "namespace": namespace, "labels": labels or {}}
    meta["annotations"] = annotations or {}
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {k: v for k, v in meta.items() if v}


# -- args parsing --------------------------------------------------------------------


def _convention_labels(config_args: dict[str, Any]) -> dict[str, str]:
    cni = _mapping(config_args.get("cni"), "args.cni")
    labels: dict[str, str] = {}
    for item in _list(cni.get("labels"), "args.cni.labels"):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise _bad("args.cni.labels[]", item)
        labels[item["key"]] = str(item.get("value", ""))
    return labels


def _named_port(raw: Any) -> Document:
    if not isinstance(raw, dict) or not isinstance(raw.get("port"), int):
        raise _bad(f"args.{_ARGS_KEY}.ports[]", raw)
    return _port(str(raw.get("name", "")), str(raw.get("protocol", "TCP")), raw["port"], 0, "")


def _mapped_port(raw: Any) -> Document:
    if not isinstance(raw, dict) or not isinstance(raw.get("containerPort"), int):
        raise _bad("runtimeConfig.portMappings[]", raw)
    host_port = raw.get("hostPort", 0)
    if not isinstance(host_port, int):
        raise _bad("runtimeConfig.portMappings[].hostPort", host_port)
    return _port(
        "",
        str(raw.get("protocol", "tcp")),
        raw["containerPort"],
        host_port,
        str(raw.get("hostIP", "")),
    )


_PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}


def _port(name: str, protocol: str, port: int, host_port: int, host_ip: str) -> Document:
    protocol = _PROTOCOLS.get(protocol.lower(), protocol)
    # Every field is emitted: Go declares these without omitempty.
    return {
        "name": name,
        "protocol": protocol,
        "port": port,
        "hostPort": host_port,
        "hostIP": host_ip,
    }


def _mapping(raw: Any, what: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(what, raw)
    return raw


def _string_map(raw: Any, what: str) -> dict[str, str]:
    mapping = _mapping(raw, what)
    if not all(isinstance(v, str) for v in mapping.values()):
        raise _bad(what, raw)
    return dict(mapping)


def _list(raw: Any, what: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad(what, raw)
    return raw


def _bad(what: str, value: Any) -> CniError:
    return CniError(INVALID_CONFIG, "invalid network config", f"{what}: unexpected value {value!r}")
