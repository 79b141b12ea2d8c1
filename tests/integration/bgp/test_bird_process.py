"""start_bird as calico-node uses it: in the host namespace, in the foreground."""

from __future__ import annotations

import sys
import textwrap

import pytest

from .conftest import MakeCluster

pytestmark = pytest.mark.root

# Runs inside the lab host's namespace, as calico-node would.
SUPERVISOR = textwrap.dedent("""\
    import sys
    from calico.bgp.bird_process import start_bird
    from calico.bgp.birdcl import BirdClient
    config, socket = sys.argv[1:]
    bird = start_bird(config, socket)
    with BirdClient(socket) as client:
        print(client.show_status().texts(1011)[0])
    bird.terminate()
    print("exit", bird.wait(timeout=10))
""")


def test_start_bird_waits_for_the_control_socket(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(hosts=1)
    (host,) = cluster.fab.hosts
    config = cluster.host_dir(host) / "bird.cfg"
    config.write_text(f"router id {host.ip};\nprotocol device {{ scan time 1; }}\n")
    socket = cluster.socket(host)
    out = host.run([sys.executable, "-c", SUPERVISOR, str(config), socket]).stdout
    assert out.splitlines() == [f"Router ID is {host.ip}", "exit 0"]
