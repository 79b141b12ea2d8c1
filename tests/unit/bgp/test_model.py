"""Reading BGP inputs from the datastore: defaults, parsing, tolerance of bad objects."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calico.bgp._values import parse_duration_seconds, split_peer_ip
from calico.bgp.model import BGPSettings, watched_prefixes
from calico.bgp.passwords import file_secrets

from ._store import Store


def test_defaults_without_any_bgp_configuration() -> None:
    inputs = Store().nodes(2).inputs("node1")
    assert inputs.settings == BGPSettings()
    assert inputs.settings.as_number == 64512
    assert inputs.settings.mesh_enabled is True
    assert inputs.local_as == 64512
    node = inputs.node
    assert node.ipv4 == ipaddress.IPv4Address("10.0.0.1")
    assert node.ipv4_network == ipaddress.IPv4Network("10.0.0.0/24")
    assert inputs.peers == ()
    assert inputs.pools == ()
    assert inputs.blocks == ()


def test_global_and_per_node_configuration() -> None:
    store = Store().nodes(2).node("node3", "10.0.0.3/24", asNumber="65003")
    store.bgp_config(asNumber=64600, nodeToNodeMeshEnabled=False, listenPort=1790,
                     nodeMeshMaxRestartTime="1m30s", ipv4NormalRoutePriority=2000)  # fmt: skip
    store.bgp_config("node.node2", listenPort=1791, logSeverityScreen="Debug")
    settings = store.inputs("node1").settings
    assert (settings.as_number, settings.mesh_enabled) == (64600, False)
    assert settings.listen_port_of("node1") == 1790
    assert settings.listen_port_of("node2") == 1791
    assert settings.log_severity_of("node2") == "Debug"
    assert settings.log_severity_of("node1") == "Info"
    assert settings.mesh_max_restart_time == 90
    assert settings.normal_route_priority == 2000
    assert store.inputs("node3").local_as == 65003
    assert store.inputs("node1").local_as == 64600


def test_peer_fields() -> None:
    store = Store().nodes(1).peer(
        "p", peerIP="10.0.5.5:1790", asNumber="1.10", nodeSelector="rack == 'a'",
        keepaliveTime="500ms", maxRestartTime="2m", ttlSecurity=3, sourceAddress="None",
    )  # fmt: skip
    (peer,) = store.inputs("node1").peers
    assert (peer.peer_ip, peer.port, peer.as_number) == ("10.0.5.5", 1790, 65546)
    assert (peer.keepalive_time, peer.max_restart_time, peer.ttl_security) == (1, 120, 3)
    assert peer.source_address == "None"
    assert not peer.is_global


def test_only_confirmed_affinities_of_this_node_are_blocks() -> None:
    store = Store().nodes(2)
    store.affinity("node1", "10.65.0.64/26").affinity("node1", "10.65.0.0/26")
    store.affinity("node1", "10.65.1.0/26", state="pending")
    store.affinity("node1", "10.65.2.0/26", state="pendingDeletion")
    store.affinity("node2", "10.65.3.0/26")
    store.ds.put("/calico/ipam/v2/host/node1/ipv4/block/10.65.4.0-26", "{}")  # no state: old
    blocks = [str(b) for b in store.inputs("node1").blocks]
    assert blocks == ["10.65.0.0/26", "10.65.0.64/26", "10.65.4.0/26"]


def test_malformed_objects_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    store = Store().nodes(1).node("broken", "not-an-ip/24").pool("10.65.0.0/16")
    store.put("IPPool", "nocidr", {})
    store.peer("noas", peerIP="10.0.0.9")
    store.peer("badip", peerIP="10.0.0.300", asNumber=1)
    store.peer("workloads", localWorkloadSelector="all()", asNumber=1)
    store.ds.put("/calico/resources/v3/projectcalico.org/bgppeers/junk", "{not json")
    with caplog.at_level(logging.WARNING):
        inputs = store.inputs("node1")
    assert set(inputs.nodes) == {"node1"}
    assert [str(p.cidr) for p in inputs.pools] == ["10.65.0.0/16"]
    assert inputs.peers == ()
    for name in ("broken", "nocidr", "noas", "badip", "workloads", "junk"):
        assert name in caplog.text


def test_passwords_come_from_secret_files(tmp_path: Path) -> None:
    (tmp_path / "bgp").mkdir()
    (tmp_path / "bgp" / "tor").write_text("hunter2\n")
    (tmp_path / "bgp" / "quote").write_text('a"b')
    read = file_secrets(tmp_path)
    assert read("bgp", "tor") == "hunter2"
    assert read("bgp", "missing") is None
    assert read("..", "etc") is None
    ref = {"secretKeyRef": {"name": "bgp", "key": "tor"}}
    store = Store().nodes(1).peer("tor", peerIP="10.0.0.9", asNumber=65001, password=ref)
    assert store.inputs("node1", read).peers[0].password == "hunter2"
    # A quote cannot be written in a BIRD string: the peer is refused, not mangled.
    store.peer("tor", peerIP="10.0.0.9", asNumber=65001,
               password={"secretKeyRef": {"name": "bgp", "key": "quote"}})  # fmt: skip
    assert store.inputs("node1", read).peers == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.1", ("10.0.0.1", 0)), ("10.0.0.1:179", ("10.0.0.1", 179)),
     ("[fd00::1]:1790", ("fd00::1", 1790)), ("fd00::1", ("fd00::1", 0)), ("", ("", 0))],
)  # fmt: skip
def test_split_peer_ip(text: str, expected: tuple[str, int]) -> None:
    assert split_peer_ip(text) == expected


@pytest.mark.parametrize("bad", ["10.0.0", "10.0.0.1:99999", "host:179"])
def test_split_peer_ip_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        split_peer_ip(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("120s", 120), ("2m", 120), ("1h1m1s", 3661), ("1.5s", 2), ("499ms", 0),
     ("500ms", 1), ("+3s", 3)],
)  # fmt: skip
def test_durations_round_to_seconds_like_go(text: str, seconds: int) -> None:
    assert parse_duration_seconds(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "s", "5x", "1h 2m", "-"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration_seconds(bad)


@given(st.integers(0, 10**6), st.sampled_from(["s", "m", "h"]))
def test_whole_unit_durations(value: int, unit: str) -> None:
    factor = {"s": 1, "m": 60, "h": 3600}[unit]
    assert parse_duration_seconds(f"{value}{unit}") == value * factor


def test_watched_prefixes_cover_every_input() -> None:
    prefixes = watched_prefixes("node1")
    assert "/calico/ipam/v2/host/node1/" in prefixes
    for plural in ("nodes", "bgpconfigurations", "bgppeers", "ippools"):
        assert f"/calico/resources/v3/projectcalico.org/{plural}/" in prefixes
