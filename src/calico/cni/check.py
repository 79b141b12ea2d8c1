"""CNI CHECK: is the attachment still what ADD made? (SPEC 1.x semantics)

Upstream Calico answers CHECK with a no-op.  This one verifies, and fails
with error 103 listing every discrepancy:

* the IPAM delegate's own CHECK (calico-ipam: the handle still holds the
  addresses);
* the WorkloadEndpoint exists and belongs to this container;
* the addresses ``prevResult`` put on our container interface are the
  endpoint's;
* the kernel: host veth up with MAC ee:ee:ee:ee:ee:ee, proxy ARP on, a host
  route per address through it; in the container the interface up with each
  /32 (/128), the 169.254.1.1 link route and the default route.

Not checked, because later plugins in a chain may legitimately change them:
the container-side MAC, MTU and any extra routes or addresses.
"""

from __future__ import annotations

import ipaddress

from calico.cni import ipam, netsetup, store
from calico.cni.invocation import Invocation
from calico.cni.result import Result
from calico.cni.spec import CHECK_FAILED, INVALID_CONFIG, CniError


def cmd_check(inv: Invocation) -> None:
    args, conf = inv.args, inv.conf
    if conf.prev_result is None:
        raise CniError(INVALID_CONFIG, "required prevResult missing")
    previous = Result.from_json(conf.prev_result, "prevResult")
    ipam.check(conf.ipam.type, args)
    stored = store.find_endpoint(inv.datastore(), inv.ids)
    if stored is None or stored.spec.get("containerID") != args.container_id:
        raise CniError(CHECK_FAILED, "CHECK failed", f"no WorkloadEndpoint {inv.ids.name}")
    spec = stored.spec
    addresses = tuple(str(ipaddress.ip_interface(n).ip) for n in spec.get("ipNetworks", []))
    problems = _prev_result_problems(inv, previous, addresses)
    veth = netsetup.Veth(
        host_name=spec.get("interfaceName", ""),
        ifname=args.ifname,
        netns=args.netns,
        mtu=0,
        addresses=addresses,
        container_mac=spec.get("mac", ""),
    )
    problems += netsetup.verify(veth)
    if problems:
        raise CniError(CHECK_FAILED, "CHECK failed", "; ".join(problems))


def _prev_result_problems(
    inv: Invocation, previous: Result, addresses: tuple[str, ...]
) -> list[str]:
    ours = {
        index
        for index, iface in enumerate(previous.interfaces)
        if iface.name == inv.args.ifname and iface.sandbox == inv.args.netns
    }
    if not ours:
        return [f"prevResult lists no interface {inv.args.ifname} in {inv.args.netns}"]
    return [
        f"prevResult address {ip.address} is not the endpoint's ({', '.join(addresses)})"
        for ip in previous.ips
        if ip.interface in ours and str(ip.ip) not in addresses
    ]
