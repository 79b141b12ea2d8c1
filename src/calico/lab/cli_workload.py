"""``calico lab namespace ...`` and ``calico lab workload ...``: what runs in a lab.

Containers go through the CNI runtime (``calico.lab.cni_runtime``); VMs
(``--vm``) through the OpenStack path (``calico.lab.vm``, imported only when
needed: it pulls in the resource models and, for the driver, neutron-lib).
``workload add`` prints the workload's IPv4 address as its last line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import click

from calico.lab import cni_runtime
from calico.lab._cli_common import labels_text, name_option, out, spinner
from calico.lab.cluster import Lab, add_namespace
from calico.lab.metadata import NamedPort, parse_labels
from calico.lab.workload import Workload


@click.group()
def namespace() -> None:
    """Kubernetes-style namespaces (Calico profile kns.<namespace>)."""


@namespace.command("add")
@name_option
@click.argument("ns")
@click.option("--labels", default="", help="k=v,... (inherited by its pods as pcns.<k>)")
def namespace_add(name: str, ns: str, labels: str) -> int:
    """Create (or relabel) namespace NS."""
    lab = Lab.load(name)
    values = parse_labels(labels)
    add_namespace(lab, ns, values)
    out.print(f"namespace {ns}: profile kns.{ns} {labels_text(values)}")
    return 0


@click.group()
def workload() -> None:
    """Containers (through the CNI plugin) and VMs (through the OpenStack driver)."""


@workload.command("add")
@name_option
@click.argument("host")
@click.argument("workload_name", metavar="NAME")
@click.option("--namespace", "ns", default="default", show_default=True)
@click.option("--labels", default="", help="k=v,...")
@click.option("--vm", is_flag=True, help="A VM: tap interface, OpenStack port, DHCP.")
@click.option(
    "--port",
    "ports",
    multiple=True,
    metavar="NAME=PORT/PROTO",
    help="A named port it serves (repeatable), e.g. http=8080/tcp.",
)
def workload_add(
    name: str, host: str, workload_name: str, ns: str, labels: str, vm: bool, ports: Sequence[str]
) -> int:
    """Create workload NAME on HOST; prints its IP as the last line."""
    lab = Lab.load(name)
    values = parse_labels(labels)
    named = [NamedPort.parse(p) for p in ports]
    kind = "VM" if vm else "container"
    with spinner(f"Adding {kind} {workload_name} on {host}"):
        wl = _add(lab, host, workload_name, ns, values, named, vm=vm)
    served = sorted({80, 81, *(p.port for p in named)})
    endpoint_ns = cni_runtime.pod_record(lab.state, wl.name).namespace
    out.print(
        f"{kind} {wl.name} on {wl.host} (namespace {endpoint_ns}, interface "
        f"{wl.host_ifname}), serving ports {', '.join(map(str, served))}:"
    )
    out.print(wl.ip)
    return 0


def _add(
    lab: Lab,
    host: str,
    name: str,
    ns: str,
    labels: Mapping[str, str],
    ports: Sequence[NamedPort],
    *,
    vm: bool,
) -> Workload:
    if vm:
        from calico.lab import vm as vms

        return vms.add_vm(lab, host, name, ns, labels, ports)
    return cni_runtime.add_container(lab, host, name, ns, labels, ports)


@workload.command("rm")
@name_option
@click.argument("workload_name", metavar="NAME")
def workload_rm(name: str, workload_name: str) -> int:
    """Remove workload NAME (CNI DEL or OpenStack port delete, then cleanup)."""
    lab = Lab.load(name)
    record = cni_runtime.pod_record(lab.state, workload_name)
    with spinner(f"Removing {workload_name}"):
        if record.kind == "vm":
            from calico.lab import vm as vms

            vms.remove_vm(lab, record)
        else:
            cni_runtime.remove_container(lab, record)
    out.print(f"removed {record.kind} {workload_name}")
    return 0


@workload.command("label")
@name_option
@click.argument("workload_name", metavar="NAME")
@click.argument("changes", nargs=-1, required=True, metavar="k=v|k- ...")
def workload_label(name: str, workload_name: str, changes: Sequence[str]) -> int:
    """Set (k=v) or remove (k-) labels on workload NAME's endpoint."""
    labels = cni_runtime.relabel(Lab.load(name), workload_name, changes)
    out.print(f"{workload_name}: {labels_text(labels)}")
    return 0
