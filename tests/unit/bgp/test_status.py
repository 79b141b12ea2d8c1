"""``calicoctl node status``: Calico's own test cases (status_test.go) and exact output."""

from __future__ import annotations

from pathlib import Path

import pytest

from calico.bgp.birdcl import BirdError, parse_reply
from calico.bgp.status import (
    NOT_RUNNING,
    PeerStatus,
    StatusError,
    node_status,
    node_status_text,
    parse_peer_line,
    peers_from_reply,
    query_peers,
)

from .fakebird import SHOW_PROTOCOLS, FakeBird


@pytest.mark.parametrize(
    ("line", "peer"),
    [
        ("kernel1  Kernel   master   up     2016-11-21", None),
        ("device1  Device   master   up     2016-11-21", None),
        ("Meshd_172_17_8_102 BGP      master   up     2016-11-21  Established", None),
        ("Mesh_172_17_8_102 BGP      master   up     2016-11-21  Established",
         PeerStatus("172.17.8.102", "node-to-node mesh", "up", "2016-11-21", "Established")),
        ("Node_172_17_80_102 BGP      master   up     2016-11-21  Active    Socket: error",
         PeerStatus("172.17.80.102", "node specific", "up", "2016-11-21", "Active",
                    "Socket: error")),
        ("Global_172_17_8_133 BGP master down 2016-11-2 Failed",
         PeerStatus("172.17.8.133", "global", "down", "2016-11-2", "Failed")),
    ],
)  # fmt: skip
def test_parse_bird_peer_lines(line: str, peer: PeerStatus | None) -> None:
    assert parse_peer_line(line) == peer


BIRD1_TABLE = """\
0001 BIRD 1.5.0 ready.
2002-name     proto    table    state  since       info
1002-kernel1  Kernel   master   up     2016-11-21
 device1  Device   master   up     2016-11-21
 direct1  Direct   master   up     2016-11-21
 Mesh_172_17_8_102 BGP      master   up     2016-11-21  Established
 Global_172_17_8_103 BGP      master   up     2016-11-21  Established
 Node_172_17_8_104 BGP      master   down     2016-11-21  Failed  Socket: error
0000
We never get here
"""


def reply_of(text: str) -> list[PeerStatus]:
    lines = text.splitlines(keepends=True)
    parse_reply(lines[:1])  # the greeting
    return peers_from_reply(parse_reply(lines[1:]))


def test_scan_a_table_with_valid_and_invalid_lines() -> None:
    assert reply_of(BIRD1_TABLE) == [
        PeerStatus("172.17.8.102", "node-to-node mesh", "up", "2016-11-21", "Established"),
        PeerStatus("172.17.8.103", "global", "up", "2016-11-21", "Established"),
        PeerStatus("172.17.8.104", "node specific", "down", "2016-11-21", "Failed",
                   "Socket: error"),
    ]  # fmt: skip


def test_a_table_with_invalid_headings_is_refused() -> None:
    table = BIRD1_TABLE.replace("since ", "foo   ")
    with pytest.raises(StatusError, match="unknown BIRD table output format"):
        reply_of(table)


def test_a_table_with_a_rogue_entry_is_refused() -> None:
    table = "0001 BIRD 1.5.0 ready.\n2002-name proto table state since info\n9000\n"
    with pytest.raises(BirdError):
        reply_of(table)


def test_bird2_table_and_ipv6_names() -> None:
    reply = parse_reply(
        (SHOW_PROTOCOLS.replace("0000 \n", "")
         + " Mesh_fd80_24e2_f998_72d7__2 BGP --- up 06:13:23 Established\n0000 \n"
         ).splitlines(keepends=True)
    )  # fmt: skip
    peers = peers_from_reply(reply)
    assert [(p.peer_ip, p.version) for p in peers] == [
        ("10.77.0.2", 4), ("10.77.0.254", 4), ("fd80:24e2:f998:72d7::2", 6)]  # fmt: skip


ONE_PEER = PeerStatus("172.17.8.102", "node-to-node mesh", "up", "23:10:04", "Established")


def test_output_matches_calicoctl_byte_for_byte() -> None:
    text = node_status_text(calico_running=True, bird_running=True, query=lambda: [ONE_PEER])
    assert text == (
        "Calico process is running.\n"
        "\n"
        "IPv4 BGP status\n"
        "+--------------+-------------------+-------+----------+-------------+\n"
        "| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |\n"
        "+--------------+-------------------+-------+----------+-------------+\n"
        "| 172.17.8.102 | node-to-node mesh | up    | 23:10:04 | Established |\n"
        "+--------------+-------------------+-------+----------+-------------+\n"
        "\n"
        "IPv6 BGP status\n"
        "No IPv6 peers found.\n"
        "\n"
    )


def test_info_column_joins_state_and_detail() -> None:
    peer = PeerStatus("10.0.0.9", "global", "start", "06:13:14", "Active",
                      "Socket: Host is unreachable")  # fmt: skip
    text = node_status_text(calico_running=True, bird_running=True, query=lambda: [peer])
    assert (
        "| 10.0.0.9     | global    | start | 06:13:14 | Active Socket: Host is unreachable |"
        in text
    )
    assert "No IPv4 peers found." not in text


def test_no_peers() -> None:
    text = node_status_text(calico_running=True, bird_running=True, query=list)
    assert (
        "IPv4 BGP status\nNo IPv4 peers found.\n\nIPv6 BGP status\nNo IPv6 peers found.\n\n" in text
    )


def test_calico_not_running() -> None:
    with pytest.raises(StatusError, match=NOT_RUNNING):
        node_status_text(calico_running=False, bird_running=True, query=list)


def test_bird_not_running() -> None:
    text = node_status_text(calico_running=True, bird_running=False, query=list)
    assert text == (
        "Calico process is running.\n\nThe BGP backend process (BIRD) is not running.\n\n"
    )


def test_socket_missing_gives_calicos_dial_error(short_dir: Path) -> None:
    sockets = [str(short_dir / "calico.ctl"), str(short_dir / "bird.ctl")]
    text = node_status(sockets, cmdlines=[["/usr/bin/python3", "/x/calico-felix"], ["bird"]])
    error = (f"Error querying BIRD: unable to connect to BIRDv4 socket: dial unix "
             f"{short_dir}/bird.ctl: connect: no such file or directory")  # fmt: skip
    assert text == (
        f"Calico process is running.\n\nIPv4 BGP status\n{error}"
        f"\nIPv6 BGP status\n{error.replace('BIRDv4', 'BIRDv6')}\n"
    )


def test_node_status_against_a_bird_socket(short_dir: Path) -> None:
    path = short_dir / "bird.ctl"
    with FakeBird(path, {"show protocols": SHOW_PROTOCOLS}):
        procs = [["calico-node", "-felix"], ["/usr/sbin/bird", "-f", "-R"]]
        text = node_status([str(short_dir / "missing.ctl"), str(path)], cmdlines=procs)
        assert "| 10.77.0.2    | node-to-node mesh | up    | 06:13:23 | Established" in text
        assert query_peers([str(path)])[1].peer_type == "global"
    with pytest.raises(StatusError, match=NOT_RUNNING):
        node_status([str(path)], cmdlines=[["bird"], ["python3", "calico-felix-other"]])
