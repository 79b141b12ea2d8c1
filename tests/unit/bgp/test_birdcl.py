"""The BIRD control-socket client: reply parsing, and a session against a fake BIRD."""

from __future__ import annotations

from pathlib import Path

import pytest

from calico.bgp.birdcl import BirdClient, BirdError, ProtocolRow, parse_protocols, parse_reply

from .fakebird import (
    CONFIGURE,
    CONFIGURE_ERROR,
    SHOW_PROTOCOLS,
    SHOW_STATUS,
    FakeBird,
)


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def test_table_reply_heading_rows_and_continuations() -> None:
    reply = parse_reply(lines(SHOW_PROTOCOLS))
    assert reply.code == 0
    assert reply.texts(2002) == ["Name       Proto      Table      State  Since         Info"]
    assert len(reply.texts(1002)) == 6  # the first row and its continuations share 1002
    rows = parse_protocols(reply)
    assert rows[0] == ProtocolRow("device1", "Device", "---", "up", "06:13:14", "")
    assert rows[4] == ProtocolRow("Mesh_10_77_0_2", "BGP", "---", "up", "06:13:23", "Established")
    assert rows[5].info == "Active Socket: Connection refused"


def test_reply_ending_with_its_own_code() -> None:
    reply = parse_reply(lines(SHOW_STATUS))
    assert reply.code == 13
    assert reply.texts(1011)[1] == "Hostname is vm"
    assert parse_reply(lines(CONFIGURE)).code == 3


def test_reading_stops_at_the_final_line() -> None:
    reply = parse_reply(["0001 BIRD 2.0.12 ready.\n", "not read\n"])
    assert str(reply) == "BIRD 2.0.12 ready."


@pytest.mark.parametrize(
    ("raw", "code"),
    [(CONFIGURE_ERROR, 8002), ("8001 Network not found\n", 8001), ("9001 syntax error\n", 9001)],
)
def test_error_codes_raise(raw: str, code: int) -> None:
    with pytest.raises(BirdError) as info:
        parse_reply(lines(raw))
    assert info.value.code == code


@pytest.mark.parametrize(
    "raw",
    ["", "1002-row without end\n", " continuation first\n0000\n", "garbage\n", "12-x\n"],
)
def test_malformed_replies_raise(raw: str) -> None:
    with pytest.raises(BirdError):
        parse_reply(lines(raw))


def test_client_session(short_dir: Path) -> None:
    path = short_dir / "bird.ctl"
    replies = {"show protocols": SHOW_PROTOCOLS, "show status": SHOW_STATUS,
               "configure": CONFIGURE}  # fmt: skip
    with FakeBird(path, replies) as fake, BirdClient(str(path)) as bird:
        assert [r.name for r in bird.show_protocols()][-2:] == ["Mesh_10_77_0_2",
                                                                "Global_10_77_0_254"]  # fmt: skip
        assert bird.show_status().code == 13
        assert bird.configure() == (
            "Reading configuration from /etc/calico/bird/bird.cfg\nReconfigured"
        )
        with pytest.raises(BirdError, match="9001"):
            bird.command("bogus")
        assert fake.commands == ["show protocols", "show status", "configure", "bogus"]


def test_connect_to_a_missing_socket_is_an_oserror(short_dir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        BirdClient(str(short_dir / "absent.ctl")).connect()
