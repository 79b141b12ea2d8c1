"""An external BGP router (a top-of-rack switch) on a lab's fabric: plain BIRD.

The router lives in its own namespace, cabled to the fabric's switch like a
host, with address ``.250`` on subnet 0. Its BIRD config is written by hand
as a network engineer would write it for a ToR: AS 64513, one eBGP session
per Calico host (AS 64512), import everything, export nothing, no kernel
protocol (so its namespace's routing table never changes: what it received
is read from BIRD's own table with ``show route``).

The lab state has no role for such a router, so its namespace takes a host
role (``<lab>-host250``): the lab records it before it exists, and teardown
removes it (and its BIRD, recorded by the lab's ProcessManager) whatever
happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calico.bgp.bird_process import bird_argv, wait_ready
from calico.bgp.birdcl import BirdClient
from calico.lab import netns
from calico.lab.hosts import Host
from calico.lab.state import netns_name

from ._routing import RoutingLab

TOR_AS = 64513
TOR_OCTET = 250
_PROCESS = "tor-bird"
# "10.244.1.0/26   unicast [host1 10:00:01.123] * (100) [AS64512i]" (prefix only on
# the first route of a network), then "\tvia 10.99.1.1 on eth0".
_ROUTE = re.compile(
    r"^(?P<net>\d+\.\d+\.\d+\.\d+/\d+)?\s+unicast \[(?P<proto>\S+) .*?\](?P<best> \*)?"
)
_VIA = re.compile(r"^\s+via (?P<via>\S+) on ")


@dataclass(frozen=True)
class ReceivedRoute:
    net: str
    protocol: str  # the ToR's session it came from: host1, host2, ...
    via: str
    best: bool


class TopOfRack:
    def __init__(self, lab: RoutingLab) -> None:
        self.lab = lab
        fabric = lab.lab.fabric
        subnet = fabric.plan.subnets[0]
        self.ip = str(subnet[TOR_OCTET])
        self.prefixlen = subnet.prefixlen
        self.netns = netns_name(lab.name, f"host{TOR_OCTET}")
        self.dir = lab.lab.state.dir / "tor"
        self.socket = str(self.dir / "bird.ctl")
        self.hosts = [h for h in lab.hosts if h.subnet == 0]

    def config(self) -> str:
        sessions = "\n".join(
            f"protocol bgp {h.name} from calico_node {{ neighbor {h.ip} as 64512; }}"
            for h in self.hosts
        )
        return f"""\
log stderr all;
router id {self.ip};

protocol device {{ scan time 1; }}

template bgp calico_node {{
  local {self.ip} as {TOR_AS};
  ipv4 {{ import all; export none; }};
  connect delay time 1;
  connect retry time 1;
  error wait time 1,5;
}}

{sessions}
"""

    def start(self) -> None:
        state, fabric = self.lab.lab.state, self.lab.lab.fabric
        state.record_namespace(self.netns)  # before it exists: teardown finds it
        netns.create(self.netns)
        port = "tor"
        # Created inside the router's namespace, its peer straight into the
        # fabric's: nothing ever appears in the root namespace.
        cable = f"link add eth0 type veth peer name {port} netns {fabric.fabric_netns}"
        netns.ip(self.netns, *cable.split())
        netns.ip(fabric.fabric_netns, "link", "set", port, "master", "br0", "up")
        netns.ip_batch(
            self.netns, [f"addr add {self.ip}/{self.prefixlen} dev eth0", "link set eth0 up"]
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "bird.cfg"
        config.write_text(self.config())
        argv = bird_argv(config, self.socket, self.dir / "bird.pid", recovery=False)
        self.lab.lab.pm.start(_PROCESS, self.netns, argv)
        wait_ready(self.socket, timeout=10.0)

    def stop(self) -> None:
        self.lab.lab.pm.stop(_PROCESS)
        netns.destroy(self.netns)
        self.lab.lab.state.forget_namespace(self.netns)

    def sessions(self) -> dict[str, str]:
        """The ToR's BGP protocols (named after the hosts) -> BIRD's info column."""
        with BirdClient(self.socket) as bird:
            return {r.name: r.info for r in bird.show_protocols() if r.proto == "BGP"}

    def established(self, host: Host) -> bool:
        return self.sessions().get(host.name, "").startswith("Established")

    def routes(self) -> list[ReceivedRoute]:
        """Every route in the ToR's BIRD table (all paths, not only the best)."""
        with BirdClient(self.socket) as bird:
            lines = bird.show_route().texts()
        found: list[ReceivedRoute] = []
        net = proto = ""
        best = False
        for line in lines:
            if m := _ROUTE.match(line):
                net, proto, best = m["net"] or net, m["proto"], bool(m["best"])
            elif (m := _VIA.match(line)) and proto:
                found.append(ReceivedRoute(net, proto, m["via"], best))
                proto = ""
        return found
