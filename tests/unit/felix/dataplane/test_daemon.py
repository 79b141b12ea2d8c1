"""The daemon's pieces that need no kernel: start-up config, restart triggers, calc thread."""

from __future__ import annotations

import json
import threading
from typing import Any

from calico.datastore import MemoryDatastore
from calico.datastore.keys import resource_key
from calico.felix.calc.graph import CalcGraph
from calico.felix.daemon import CalcThread, ConfigWatcher, Startup, load_startup
from calico.felix.dataplane import Encapsulation
from calico.felix.messages import (
    ConfigUpdate,
    DataplaneMessage,
    InSync,
    IPAMPool,
    IPAMPoolRemove,
    IPAMPoolUpdate,
    WorkloadEndpointUpdate,
)


def put(store: MemoryDatastore, kind: str, name: str, spec: dict[str, Any]) -> None:
    doc = {"apiVersion": "projectcalico.org/v3", "kind": kind,
           "metadata": {"name": name}, "spec": spec}  # fmt: skip
    store.put(resource_key(kind, name), json.dumps(doc))


ENV = {"NODENAME": "host1"}


def test_startup_reads_config_with_calicos_precedence_pools_and_tunnel() -> None:
    store = MemoryDatastore()
    put(store, "FelixConfiguration", "default",
        {"reportingInterval": "10s", "healthPort": 1000, "logPrefix": "from-default"})  # fmt: skip
    node_spec = {"healthPort": 2000, "logPrefix": "from-node"}
    put(store, "FelixConfiguration", "node.host1", node_spec)
    put(store, "IPPool", "p", {"cidr": "10.65.0.0/16", "vxlanMode": "CrossSubnet"})
    put(store, "Node", "host1", {"bgp": {"ipv4Address": "10.0.0.1/24",
                                         "ipv4IPIPTunnelAddr": "10.65.9.1"}})  # fmt: skip
    startup = load_startup(store, {**ENV, "FELIX_HEALTHPORT": "3000"}, {"LogPrefix": "from-file"})
    config = startup.config
    assert (config.felix_hostname, config.reporting_interval) == ("host1", 10.0)
    assert (config.health_port, config.log_prefix) == (3000, "from-file")
    assert startup.pools["p"].vxlan_mode == "CrossSubnet"
    assert startup.encap == Encapsulation(vxlan=True, ipip=False)
    assert startup.ipip_tunnel_address == "10.65.9.1"


class Restarts(list[str]):
    def __call__(self, reason: str) -> None:
        self.append(reason)


def watcher(store: MemoryDatastore | None = None) -> tuple[ConfigWatcher, Restarts]:
    startup = load_startup(store or MemoryDatastore(), ENV, {})
    restarts = Restarts()
    return ConfigWatcher(startup, ENV, {}, restarts), restarts


def test_an_unchanged_config_does_not_restart() -> None:
    store = MemoryDatastore()
    put(store, "FelixConfiguration", "default", {"logPrefix": "x"})
    w, restarts = watcher(store)
    w.observe([ConfigUpdate({"logPrefix": json.dumps("x")})])
    assert restarts == []


def test_a_changed_config_restarts_and_says_what_changed() -> None:
    w, restarts = watcher()
    w.observe([ConfigUpdate({"defaultEndpointToHostAction": json.dumps("Accept")})])
    assert restarts == ["config changed: default_endpoint_to_host_action"]


def test_an_invalid_config_update_restarts() -> None:
    w, restarts = watcher()
    w.observe([ConfigUpdate({"healthPort": json.dumps("not-a-port")})])
    assert len(restarts) == 1
    assert restarts[0].startswith("config update failed")


def test_a_change_of_encapsulation_restarts_but_other_pool_changes_do_not() -> None:
    w, restarts = watcher()
    w.observe([IPAMPoolUpdate("p", IPAMPool("10.65.0.0/16", masquerade=True))])
    assert restarts == []
    w.observe([IPAMPoolUpdate("v", IPAMPool("10.66.0.0/16", vxlan_mode="Always"))])
    assert restarts[0].startswith("encapsulation changed")
    w2, restarts2 = watcher()
    w2.observe([IPAMPoolRemove("nonexistent")])
    assert restarts2 == []


def test_the_calc_thread_feeds_the_graph_and_forwards_each_flush() -> None:
    batches: list[list[DataplaneMessage]] = []
    got_in_sync = threading.Event()

    def send(messages: list[DataplaneMessage]) -> None:
        batches.append(messages)
        if any(isinstance(m, InSync) for m in messages):
            got_in_sync.set()

    w, restarts = watcher()
    fatal: list[BaseException] = []
    calc = CalcThread(CalcGraph("host1"), send, w, on_fatal=fatal.append)
    calc.start()
    try:
        wep = {"apiVersion": "projectcalico.org/v3", "kind": "WorkloadEndpoint",
               "metadata": {"name": "host1-k8s-a-eth0", "namespace": "default"},
               "spec": {"node": "host1", "orchestrator": "k8s", "pod": "a", "endpoint": "eth0",
                        "interfaceName": "cali1", "ipNetworks": ["10.65.0.2/32"]}}  # fmt: skip
        calc.on_update(resource_key("WorkloadEndpoint", "host1-k8s-a-eth0", "default"), wep)
        calc.on_in_sync()
        assert got_in_sync.wait(5)
    finally:
        calc.stop()
    messages = [m for batch in batches for m in batch]
    assert any(isinstance(m, WorkloadEndpointUpdate) for m in messages)
    assert calc.in_sync
    assert restarts == []
    assert fatal == []


def test_startup_defaults_without_anything_in_the_datastore() -> None:
    startup = load_startup(MemoryDatastore(), ENV, {})
    assert startup == Startup(startup.config, {}, "")
    assert startup.encap == Encapsulation()
