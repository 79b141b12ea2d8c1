"""Neutron ports as Calico WorkloadEndpoints (networking-calico ``endpoints.py``).

A VM port (``device_owner`` ``compute:...``, or ``kuryr:container``) bound to
host H becomes the WorkloadEndpoint

- named ``<H>-openstack-<device_id>-<port id>`` (every ``-`` inside a part
  doubled, libcalico-go's ``names/workloadendpoint.go``), in the region's
  namespace (``openstack``);
- with ``interfaceName`` ``tap`` + the first 11 characters of the port id:
  Nova names the host side of the VM's NIC ``("tap" + port_id)[:14]``;
- with the port's MAC, its fixed IPs as /32 or /128 plus the IPs of its
  allowed address pairs (Felix routes all of them to the tap), and the
  gateways of the fixed IPs' subnets;
- labelled with its security groups (``sg.projectcalico.org/openstack-<id>``
  and ``sg-name...``), project and network, so that security-group policies
  and user policies can select it.

The port dict carries only IDs; names and gateways come from Neutron
lookups, handed in as a :class:`PortExtra`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from calico.openstack import labels as lbl
from calico.openstack.region import ORCHESTRATOR
from calico.resources import API_VERSION, WorkloadEndpoint, parse_resource

Port = Mapping[str, Any]

TAP_PREFIX = "tap"
_TAP_ID_CHARS = 11  # "tap" + 11 characters = 14, Nova's NIC_NAME_LEN
ENDPOINT_OWNER_PREFIXES = ("compute:", "kuryr:container")


@dataclass(frozen=True)
class PortExtra:
    """What a port dict lacks, looked up in Neutron (and Keystone) by the caller."""

    subnet_gateways: Mapping[str, str | None] = field(default_factory=dict)  # subnet id -> gw
    sg_names: Mapping[str, str] = field(default_factory=dict)  # SG id -> SG name
    network_name: str | None = None
    project_name: str | None = None
    project_parent_id: str | None = None
    floating_ips: Sequence[tuple[str, str]] = ()  # (internal IP, external IP)


def is_endpoint_port(port: Port) -> bool:
    """Only VM (and Kuryr container) ports are endpoints; DHCP, router... ports are not."""
    owner = port.get("device_owner") or ""
    return owner.startswith(ENDPOINT_OWNER_PREFIXES)


def tap_name(port_id: str) -> str:
    """The host-side interface Nova creates for the port."""
    return TAP_PREFIX + port_id[:_TAP_ID_CHARS]


def _escape(part: str) -> str:
    return part.replace("-", "--")


def host_name_prefix(host: str) -> str:
    """The start of the name of every endpoint on ``host`` (for prefix listing)."""
    return f"{_escape(host)}-{ORCHESTRATOR}-"


def endpoint_name(port: Port, host: str | None = None) -> str:
    """``<host>-openstack-<device_id>-<port id>``, dashes inside parts doubled."""
    node = host or port["binding:host_id"]
    return host_name_prefix(node) + f"{_escape(port['device_id'])}-{_escape(port['id'])}"


def workload_endpoint(
    port: Port, extra: PortExtra, namespace: str, host: str | None = None
) -> WorkloadEndpoint:
    """The WorkloadEndpoint for ``port`` bound to ``host`` (default: its binding).

    Raises ValidationError when the port cannot be represented (for example
    an ID that is not a valid Calico name).
    """
    node = host or port["binding:host_id"]
    doc = {
        "apiVersion": API_VERSION,
        "kind": "WorkloadEndpoint",
        "metadata": {
            "name": endpoint_name(port, node),
            "namespace": namespace,
            "labels": endpoint_labels(port, extra, namespace),
            "annotations": endpoint_annotations(port),
        },
        "spec": endpoint_spec(port, extra, node),
    }
    wep = parse_resource(doc)
    assert isinstance(wep, WorkloadEndpoint)
    return wep


def endpoint_spec(port: Port, extra: PortExtra, node: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "orchestrator": ORCHESTRATOR,
        "workload": port["device_id"],
        "node": node,
        "endpoint": port["id"],
        "interfaceName": tap_name(port["id"]),
        "mac": port["mac_address"],
    }
    networks = []
    # With several fixed IPs of one family, the last one's gateway wins, as
    # in networking-calico.
    for fixed in port.get("fixed_ips") or ():
        address = ipaddress.ip_address(fixed["ip_address"])
        networks.append(_host_cidr(fixed["ip_address"]))
        gateway = extra.subnet_gateways.get(fixed.get("subnet_id", ""))
        if gateway:
            spec["ipv4Gateway" if address.version == 4 else "ipv6Gateway"] = gateway
    networks += allowed_ips(port)
    spec["ipNetworks"] = networks
    if extra.floating_ips:
        spec["ipNATs"] = [{"internalIP": i, "externalIP": e} for i, e in extra.floating_ips]
    return spec


def allowed_ips(port: Port) -> list[str]:
    """The allowed-address-pair IPs of ``port`` as /32 or /128 CIDRs."""
    return [_host_cidr(str(pair["ip_address"])) for pair in port.get("allowed_address_pairs") or ()]


def _host_cidr(ip: str) -> str:
    # An allowed address pair may already be a CIDR; Calico wants single hosts.
    address = ipaddress.ip_interface(ip).ip
    return f"{address}/{address.max_prefixlen}"


def endpoint_labels(port: Port, extra: PortExtra, namespace: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for sg_id in port.get("security_groups") or ():
        sg_name = lbl.sanitize(extra.sg_names.get(sg_id, ""), lbl.SG_NAME_MAX_LENGTH)
        labels[lbl.sg_label(sg_id)] = sg_name
        if sg_name:
            labels[lbl.SG_NAME_LABEL_PREFIX + sg_name] = sg_id
    labels["projectcalico.org/namespace"] = namespace
    labels["projectcalico.org/orchestrator"] = ORCHESTRATOR
    project_id = port.get("project_id") or port.get("tenant_id")
    if project_id:
        labels[lbl.PROJECT_ID_LABEL] = project_id
    if extra.project_name is not None:
        labels[lbl.PROJECT_NAME_LABEL] = lbl.sanitize(extra.project_name)
        labels[lbl.PROJECT_PARENT_ID_LABEL] = extra.project_parent_id or ""
    if extra.network_name is not None:
        labels[lbl.NETWORK_NAME_LABEL] = lbl.sanitize(extra.network_name)
    return labels


def endpoint_annotations(port: Port) -> dict[str, str]:
    annotations = {lbl.NETWORK_ID_ANNOTATION: port["network_id"]}
    # Neutron lists one DNS assignment per fixed IP, all with the same FQDN.
    dns_assignment = port.get("dns_assignment")
    if dns_assignment:
        annotations[lbl.FQDN_ANNOTATION] = dns_assignment[0]["fqdn"]
    pairs = allowed_ips(port)
    if pairs:
        annotations[lbl.ALLOWED_IPS_ANNOTATION] = ",".join(pairs)
    return annotations
