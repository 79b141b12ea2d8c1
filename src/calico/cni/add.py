"""CNI ADD (REFERENCE.md 8.1, ``cni-plugin/pkg/plugin/plugin.go`` ``cmdAdd``).

1. Validate ``CNI_NETNS`` and find an existing endpoint of this workload.
2. Re-ADD: an endpoint already exists for this very container (plain CNI: any
   endpoint of the container ID; k8s: the pod's endpoint with this container
   ID).  Nothing is allocated or created again; plain CNI appends this
   network's profile, as upstream does, and the result is rebuilt from the
   endpoint.
3. Otherwise: IPAM (the delegate), the veth (``netsetup``), the network's
   profile if no policy plugin is configured, then the endpoint write (CAS:
   create, or update of a k8s pod's endpoint left by an older sandbox).
   Every step pushes its undo; if a later one fails, the undos run in
   reverse (veth deleted, addresses released), so a failed ADD leaves
   nothing behind.
4. The result, after ``prevResult``'s interfaces if we were chained behind
   another plugin, in the requested version.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from calico.cni import ipam, netns, netsetup, store
from calico.cni.invocation import Invocation
from calico.cni.result import DNS, Interface, IPConfig, Result, Route
from calico.cni.spec import INVALID_ENV, INVALID_NETNS, CniError
from calico.cni.wep import ORCH_CNI, ORCH_K8S, WorkloadInfo, endpoint_document, workload_info

_log = logging.getLogger(__name__)


def cmd_add(inv: Invocation) -> dict[str, Any]:
    # Bad settings are refused (7) before the namespace is even looked at.
    inv.conf.datastore_config()
    try:
        ipam.find_plugin(inv.conf.ipam.type, inv.args.path)
    except CniError as exc:
        raise CniError(exc.code, exc.msg, f"field ipam.type={inv.conf.ipam.type}") from None
    check_netns(inv.args.netns)
    ds = inv.datastore()
    store.ensure_ready(ds)
    existing = store.find_endpoint(ds, inv.ids)
    if existing is not None and existing.spec.get("containerID") == inv.args.container_id:
        result = _readd(inv, existing)
    else:
        result = _add(inv, existing)
    if inv.conf.prev_result:
        result = Result.from_json(inv.conf.prev_result, "prevResult").then(result)
    return result.to_json(inv.version)


def check_netns(path: str) -> None:
    """Refuse a missing namespace, and above all our own: we would rewire the host."""
    if not netns.exists(path):
        raise CniError(INVALID_ENV, "invalid CNI_NETNS", f"{path} does not exist")
    if netns.is_own(path):
        raise CniError(
            INVALID_NETNS, "plugin's netns and netns from CNI_NETNS should not be the same"
        )
    try:
        with netns.entered(path):
            pass  # setns() refuses anything that is not a network namespace
    except netns.NetnsError as exc:
        raise CniError(
            INVALID_ENV, "invalid CNI_NETNS", f"{path}: not a network namespace"
        ) from exc


def _readd(inv: Invocation, existing: store.StoredEndpoint) -> Result:
    _log.info("Endpoint %s already exists for this container; reusing it", existing.name)
    ds, network = inv.datastore(), inv.conf.name
    if inv.ids.orchestrator == ORCH_CNI and network not in existing.spec.get("profiles", []):
        doc = {**existing.doc, "spec": {**existing.spec}}
        doc["spec"]["profiles"] = [*existing.spec.get("profiles", []), network]
        existing = store.update_endpoint(ds, existing, doc)
    if not inv.conf.policy_type:
        store.ensure_profile(ds, network, k8s=False)
    spec = existing.spec
    addresses = [str(ipaddress.ip_interface(n).ip) for n in spec.get("ipNetworks", [])]
    host_name, mac = spec.get("interfaceName", ""), spec.get("mac", "")
    return _result(inv, host_name, mac, inv.conf.resolve_mtu(), addresses, DNS())


def _add(inv: Invocation, existing: store.StoredEndpoint | None) -> Result:
    args, conf, ids = inv.args, inv.conf, inv.ids
    k8s = ids.orchestrator == ORCH_K8S
    # Everything that can be refused for bad input is decided before allocating.
    info = workload_info(conf.args, conf.runtime_config, ids, conf.name, conf.policy_type == "k8s")
    mtu = conf.resolve_mtu()
    # SPEC 4: a delegate whose ADD failed is called again with DEL, so the
    # release is armed before the call (it also covers a garbled answer).
    undo: list[Callable[[], object]] = [lambda: ipam.release_quietly(conf.ipam.type, args)]
    try:
        allocated = ipam.add(conf.ipam.type, args)
        addresses = tuple(str(ip.ip) for ip in allocated.ips)
        veth = netsetup.Veth(
            host_name=ids.host_veth_name(),
            ifname=args.ifname,
            netns=args.netns,
            mtu=mtu,
            addresses=addresses,
            container_mac=netsetup.random_mac(),
            allow_ip_forwarding=conf.allow_ip_forwarding,
        )
        netsetup.setup(veth)
        undo.append(lambda: netsetup.remove_host_side(veth.host_name))
        if not conf.policy_type:
            store.ensure_profile(inv.datastore(), conf.name, k8s)
        _write_endpoint(inv, existing, info, veth)
    except BaseException:
        for step in reversed(undo):
            step()
        raise
    dns = DNS.from_json(conf.dns) or allocated.dns
    return _result(inv, veth.host_name, veth.container_mac, mtu, list(addresses), dns)


def _write_endpoint(
    inv: Invocation, existing: store.StoredEndpoint | None, info: WorkloadInfo, veth: netsetup.Veth
) -> None:
    networks = [f"{a}/{ipaddress.ip_address(a).max_prefixlen}" for a in veth.addresses]
    doc = endpoint_document(
        inv.ids, info, inv.conf.name, networks, veth.host_name, veth.container_mac
    )
    ds = inv.datastore()
    if existing is None:
        store.create_endpoint(ds, doc)
    else:  # a k8s pod's endpoint from an older sandbox: now ours
        previous = existing.spec.get("containerID")
        _log.info("Taking over endpoint %s from container %s", existing.name, previous)
        store.update_endpoint(ds, existing, doc)


def _result(
    inv: Invocation, host_name: str, mac: str, mtu: int, addresses: list[str], dns: DNS
) -> Result:
    """Our interfaces (host side first, as upstream), addresses on the container one."""
    args = inv.args
    result = Result(
        interfaces=[
            Interface(host_name, netsetup.HOST_MAC),
            Interface(args.ifname, mac, mtu, args.netns),
        ],
        dns=dns,
    )
    for address in addresses:
        v4 = ipaddress.ip_address(address).version == 4
        gateway = netsetup.GATEWAY_V4 if v4 else netsetup.GATEWAY_V6
        result.ips.append(IPConfig(f"{address}/{32 if v4 else 128}", gateway, 1))
        route = Route("0.0.0.0/0" if v4 else "::/0", gateway)
        if route not in result.routes:
            result.routes.append(route)
    return result
