"""Routing between hosts: time to first packet, BGP convergence, encapsulation throughput.

    .venv/bin/python bench/bench_routing.py [probe] [converge] [throughput]
        [--iterations 10] [--mesh 3,10] [--repeats 3] [--rounds 3] [--seconds 5]
        [--no-calico-paths]

All traffic stays in the namespaces each part creates (``calico.lab``); every
lab is torn down in a ``finally``.

* ``probe``: a 3-host ``calico lab`` (real calico-node per host: felix,
  calico-bgp, BIRD full mesh; sqlite datastore).  A source workload on host1
  probes a new workload created through the real CNI plugin: TCP connections
  to its port 80 every 5 ms (20 ms timeout) from a thread inside the source;
  a refused connection counts, since SYN and RST crossed the path and the
  policy (the new pod has no server, which keeps server start-up out of the
  figure).  Timed from just before CNI ADD to the first answered attempt,
  split into ADD and ADD-returned -> reachable.  Two cases:

  - *existing block*: host2 already has a block (a seed workload), so only
    the CNI plugin and felix act; no BGP update;
  - *new block*: host3 has no block; ADD claims one, calico-bgp renders its
    blackhole and export, BIRD reloads and advertises, host1's BIRD
    installs the route.  Between iterations the pod is deleted, host3's
    (empty) block affinity released and the route's withdrawal awaited.

* ``converge``: N hosts running the real calico-bgp and BIRD (no felix), as
  ``tests/integration/bgp``: Node resources, one pool, one block per host
  (IPAM), configs rendered; then every BIRD is started and the clock runs
  until every host has N-1 Established sessions, and until every host has a
  BIRD route to every other host's block.  Repeated ``--repeats`` times
  (BIRDs stopped, their routes flushed, started again).

* ``throughput``: iperf3, one TCP stream, ``--seconds`` long, all paths in one
  run, rounds alternating the order: a raw veth pair; workload -> host ->
  fabric -> host -> workload with plain routes (native routing, as BIRD
  programs it); the same over a VXLAN device pair set up as felix does it
  (``vxlan.calico``, VNI 4096, port 4789, tunnel address per host, route via
  the remote tunnel address ``onlink``, permanent ARP entry and FDB entry,
  workload MTU 1450); and -- unless ``--no-calico-paths`` -- the same two
  paths through full ``calico lab``s (calico-node, felix's iptables policy,
  BGP, or felix's own VXLAN with ``--encap vxlan``).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import _netbench as nb
from tests.integration.bgp._cluster import BgpCluster

from calico.bgp.peers import protocol_name
from calico.cni.names import EndpointIdentifiers
from calico.datastore.sqlite import SqliteDatastore
from calico.ipam import IPAMClient
from calico.lab import cluster, netns
from calico.lab.cluster import Lab, LabConfig
from calico.lab.cni_runtime import (
    IFNAME,
    Pod,
    PodRecord,
    add,
    add_container,
    host_network,
    record_workload,
    remove_container,
    reserve,
)
from calico.lab.fabric import Fabric
from calico.lab.hosts import Host
from calico.lab.procs import ProcessManager
from calico.lab.state import teardown
from calico.lab.workload import Workload, create_workload

PARTS = ("probe", "converge", "throughput")


# -- probe: workload creation -> first cross-host packet ----------------------------------


def cni_pod(lab: Lab, host_name: str, name: str) -> tuple[PodRecord, str]:
    """CNI ADD of a pod (no server in it); its record and IPv4 address."""
    host = lab.host(host_name)
    ids = EndpointIdentifiers(node=host.name, orchestrator="k8s", endpoint=IFNAME, pod=name)
    record = PodRecord(name, "container", host.name, "default", ids.name(), secrets.token_hex(32))
    ns = reserve(lab.state, record)
    netns.create(ns)
    pod = Pod(record.container_id, str(netns.NETNS_DIR / ns), "default", name)
    attached = add(host_network(lab, host), pod)
    record_workload(
        lab.state,
        Workload(lab.name, name, host.name, host.netns, ns, attached.ip, attached.host_ifname),
    )
    return record, attached.ip


@dataclass
class ProbeTimes:
    add: list[float]
    after_add: list[float]
    total: list[float]

    def report(self, label: str) -> None:
        print(f"  {label}")
        print(f"    CNI ADD                 : {nb.describe(self.add, 1000, ' ms')}")
        print(f"    ADD returned -> reached : {nb.describe(self.after_add, 1000, ' ms')}")
        print(f"    total                   : {nb.describe(self.total, 1000, ' ms')}")


def time_to_reach(lab: Lab, src: Workload, host: str, name: str) -> tuple[PodRecord, float, float]:
    """(record, ADD seconds, total seconds) for a new pod on ``host``."""
    start = time.monotonic()
    record, ip = cni_pod(lab, host, name)
    added = time.monotonic()
    reached = nb.first_reachable(src.netns, ip, 80, timeout=60)
    return record, added - start, reached - start


def block_routes(host: Host) -> set[str]:
    return {r["dst"] for r in host.routes() if r.get("protocol") == "bird"}


def bench_probe(iterations: int) -> None:
    nb.banner(f"workload creation -> first cross-host probe, 3-host calico lab, n={iterations}")
    name = nb.unique_lab_name("rprobe")
    try:
        t0 = time.monotonic()
        lab = cluster.up(LabConfig(name=name, hosts=3))
        print(f"  calico lab up (3 hosts, BGP mesh Established) in {time.monotonic() - t0:.1f} s")
        src = add_container(lab, "host1", "src")
        seed = add_container(lab, "host2", "seed")
        nb.first_reachable(src.netns, seed.ip, 80, timeout=60)
        existing = ProbeTimes([], [], [])
        for i in range(iterations):
            record, add_s, total = time_to_reach(lab, src, "host2", f"old{i}")
            existing.add.append(add_s)
            existing.after_add.append(total - add_s)
            existing.total.append(total)
            remove_container(lab, record)
        existing.report("existing block (host2 already has one): CNI + felix only")

        host1, host3 = lab.host("host1"), lab.host("host3")
        fresh = ProbeTimes([], [], [])
        with SqliteDatastore(lab.sqlite_path) as ds:
            ipam = IPAMClient(ds)
            baseline = block_routes(host1)
            for i in range(iterations):
                record, add_s, total = time_to_reach(lab, src, "host3", f"new{i}")
                fresh.add.append(add_s)
                fresh.after_add.append(total - add_s)
                fresh.total.append(total)
                remove_container(lab, record)
                ipam.release_host_affinities("host3", must_be_empty=True)
                nb.wait_for(
                    "host3's block to be withdrawn from host1",
                    lambda: block_routes(host1) == baseline,
                    timeout=30,
                )
        fresh.report("new block (host3 claims one): + calico-bgp, BIRD reload, BGP UPDATE")
        print(f"  (host3 is {host3.ip}; its block route is withdrawn between iterations)")
    finally:
        teardown(name)


# -- converge: start all BIRDs -> mesh Established, all block routes installed ---------------


def mesh_names(hosts: Sequence[Host], me: Host) -> set[str]:
    return {protocol_name("Mesh", ipaddress.IPv4Address(h.ip)) for h in hosts if h is not me}


def converge_once(bgp: BgpCluster, blocks: dict[str, str]) -> tuple[float, float, float]:
    """Start every BIRD; (start spread, all Established, all routes) in seconds from t0."""
    hosts = bgp.fab.hosts
    wanted = {h.name: {blocks[o.name] for o in hosts if o is not h} for h in hosts}
    names = {h.name: mesh_names(hosts, h) for h in hosts}
    t0 = time.monotonic()
    for h in hosts:
        bgp.start_bird(h)
    spread = time.monotonic() - t0
    established: float | None = None
    routed: float | None = None
    up_hosts: set[str] = set()
    routed_hosts: set[str] = set()
    while established is None or routed is None:
        if time.monotonic() - t0 > 120:
            raise TimeoutError(
                f"mesh not converged after 120 s: up {up_hosts}, routed {routed_hosts}"
            )
        for h in hosts:
            if h.name not in up_hosts:
                sessions = bgp.bgp_sessions(h)
                if set(sessions) == names[h.name] and all(
                    s.startswith("Established") for s in sessions.values()
                ):
                    up_hosts.add(h.name)
            if h.name not in routed_hosts and wanted[h.name] <= block_routes(h):
                routed_hosts.add(h.name)
        now = time.monotonic() - t0
        if established is None and len(up_hosts) == len(hosts):
            established = now
        if routed is None and len(routed_hosts) == len(hosts):
            routed = now
        time.sleep(0.02)
    return spread, established, routed


def stop_birds(bgp: BgpCluster) -> None:
    for h in bgp.fab.hosts:
        bgp.pm.stop(f"bird-{h.name}")
        netns.ip(h.netns, "route", "flush", "proto", "bird", check=False)


def bench_converge(sizes: Sequence[int], repeats: int) -> None:
    nb.banner(f"BGP convergence: start all BIRDs -> full mesh up and routed ({repeats} repeats)")
    for size in sizes:
        with nb.lab_session("rconv", hosts=size) as fab:
            bgp = BgpCluster(fab)
            try:
                bgp.add_nodes()
                bgp.add_pool()
                for h in fab.hosts:
                    bgp.assign(h, f"wl-{h.name}")
                blocks = {h.name: bgp.blocks(h)[0] for h in fab.hosts}
                for h in fab.hosts:
                    bgp.start_agent(h)
                runs = []
                for _ in range(repeats):
                    runs.append(converge_once(bgp, blocks))
                    stop_birds(bgp)
                sessions = size * (size - 1)
                spread = statistics.median(r[0] for r in runs)
                print(
                    f"  {size:>2} hosts ({sessions // 2} sessions, {sessions} block routes): "
                    f"Established {nb.describe([r[1] for r in runs], 1, ' s', 2)}\n"
                    f"{'':>14}all routes  {nb.describe([r[2] for r in runs], 1, ' s', 2)}\n"
                    f"{'':>14}(starting the {size} BIRDs took {spread:.2f} s of that)",
                    flush=True,
                )
            finally:
                bgp.close()


# -- throughput: raw veth vs native routing vs VXLAN --------------------------------------------

VXLAN_VNI, VXLAN_PORT, VXLAN_MTU = 4096, 4789, 1450


def vxlan_mac(n: int) -> str:
    return f"66:cc:00:00:00:{n:02x}"


def setup_vxlan(host: Host, n: int, tunnel_ip: str) -> None:
    """``vxlan.calico`` on ``host`` as felix makes it (fixed MAC so peers can program it)."""
    netns.ip_batch(
        host.netns,
        [
            f"link add vxlan.calico address {vxlan_mac(n)} type vxlan id {VXLAN_VNI} "
            f"local {host.ip} dev {host.ifname} dstport {VXLAN_PORT} nolearning",
            f"link set vxlan.calico mtu {VXLAN_MTU} up",
            f"addr add {tunnel_ip}/32 dev vxlan.calico",
        ],
    )


def vxlan_route(host: Host, dst: str, peer: Host, peer_n: int, peer_tunnel: str) -> None:
    """Route ``dst`` to ``peer`` through the tunnel, as felix's VXLAN manager does."""
    mac = vxlan_mac(peer_n)
    netns.ip_batch(
        host.netns,
        [
            f"neigh replace {peer_tunnel} lladdr {mac} dev vxlan.calico nud permanent",
            f"route replace {dst}/32 via {peer_tunnel} dev vxlan.calico onlink",
        ],
    )
    netns.run_in_ns(
        host.netns,
        [
            "bridge",
            "fdb",
            "replace",
            mac,
            "dev",
            "vxlan.calico",
            "dst",
            peer.ip,
            "self",
            "permanent",
        ],
    )


def vxlan_tx_bytes(host: Host) -> int:
    links = json.loads(netns.ip(host.netns, "-s", "-j", "link", "show", "vxlan.calico"))
    return int(links[0]["stats64"]["tx"]["bytes"])


def set_mtu(wl: Workload, mtu: int) -> None:
    netns.ip(wl.netns, "link", "set", wl.ifname, "mtu", str(mtu))
    netns.ip(wl.host_netns, "link", "set", wl.host_ifname, "mtu", str(mtu))


Path_ = tuple[nb.Iperf3, str]  # server, client namespace


def kernel_paths(fab: Fabric) -> dict[str, Path_]:
    """Raw veth, native routing and VXLAN paths in one 2-host lab (no felix)."""
    h1, h2 = fab.hosts
    pm = ProcessManager(fab.state)
    paths: dict[str, Path_] = {}
    raw_a, raw_b, raw_ip = nb.raw_veth_pair(fab.state)
    paths["raw veth pair"] = (nb.Iperf3(pm, "raw", raw_b, raw_ip), raw_a)

    n1 = create_workload(fab.state, h1, "n1", "10.201.1.1")
    n2 = create_workload(fab.state, h2, "n2", "10.201.2.1")
    h1.add_route(f"{n2.ip}/32", h2.ip)
    h2.add_route(f"{n1.ip}/32", h1.ip)
    paths["native routing"] = (nb.Iperf3(pm, "native", n2.netns, n2.ip), n1.netns)

    v1 = create_workload(fab.state, h1, "v1", "10.201.1.2")
    v2 = create_workload(fab.state, h2, "v2", "10.201.2.2")
    for wl in (v1, v2):
        set_mtu(wl, VXLAN_MTU)
    setup_vxlan(h1, 1, "10.201.1.0")
    setup_vxlan(h2, 2, "10.201.2.0")
    vxlan_route(h1, v2.ip, h2, 2, "10.201.2.0")
    vxlan_route(h2, v1.ip, h1, 1, "10.201.1.0")
    paths["VXLAN"] = (nb.Iperf3(pm, "vxlan", v2.netns, v2.ip), v1.netns)
    for label, (server, client) in paths.items():
        if not nb.reachable_from(client, server.address, 5201, timeout=2.0):
            raise RuntimeError(f"{label}: {server.address} unreachable from {client}")
    return paths


def calico_path(lab: Lab, label: str) -> Path_:
    src = add_container(lab, "host1", "tsrc")
    dst = add_container(lab, "host2", "tdst")
    nb.first_reachable(src.netns, dst.ip, 80, timeout=60)
    return nb.Iperf3(lab.pm, label.split()[-1], dst.netns, dst.ip), src.netns


def bench_throughput(rounds: int, seconds: float, with_calico: bool) -> None:
    nb.banner(f"TCP throughput, 1 stream, {seconds:g} s, {rounds} rounds: encapsulation")
    kernel_lab = nb.unique_lab_name("rtput")
    labs: list[str] = []
    try:
        fab = Fabric.create(kernel_lab, 2)
        paths = kernel_paths(fab)
        if with_calico:
            for encap in ("none", "vxlan"):
                name = nb.unique_lab_name("rtcal")
                labs.append(name)
                lab = cluster.up(LabConfig(name=name, hosts=2, encap=encap))
                label = "calico lab BGP" if encap == "none" else "calico lab VXLAN"
                paths[label] = calico_path(lab, label)
        results: dict[str, list[float]] = {k: [] for k in paths}
        for r in range(rounds):
            order = list(paths) if r % 2 == 0 else list(reversed(paths))
            for label in order:
                server, client = paths[label]
                results[label].append(server.run(client, seconds))
        report_throughput(results, "raw veth pair")
        carried = vxlan_tx_bytes(fab.hosts[0]) / 1e9
        print(f"  (host1's vxlan.calico transmitted {carried:.1f} GB: the VXLAN path is tunnelled)")
    finally:
        for name in [kernel_lab, *labs]:
            teardown(name)


def report_throughput(results: dict[str, list[float]], reference: str) -> None:
    medians = {k: statistics.median(v) for k, v in results.items()}
    for label, values in results.items():
        runs = ", ".join(f"{v / 1e9:.2f}" for v in values)
        ratio = medians[label] / medians[reference]
        print(
            f"  {label:<18} median {nb.gbit(medians[label])}, / raw veth {ratio:.2f} (runs: {runs})"
        )
    native = medians["native routing"]
    print(f"  VXLAN / native routing = {medians['VXLAN'] / native:.2f}")
    if "calico lab BGP" in medians:
        print(
            f"  calico lab BGP / native routing = {medians['calico lab BGP'] / native:.2f}; "
            f"calico lab VXLAN / VXLAN = {medians['calico lab VXLAN'] / medians['VXLAN']:.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", metavar="PART", help="probe, converge, throughput")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--mesh", default="3,10")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-calico-paths", action="store_true")
    args = parser.parse_args()
    parts = args.parts or list(PARTS)
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {PARTS}")
    print(nb.machine_line())
    steps: dict[str, Callable[[], None]] = {
        "probe": lambda: bench_probe(args.iterations),
        "converge": lambda: bench_converge([int(s) for s in args.mesh.split(",")], args.repeats),
        "throughput": lambda: bench_throughput(args.rounds, args.seconds, not args.no_calico_paths),
    }
    for part in PARTS:
        if part in parts:
            steps[part]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
