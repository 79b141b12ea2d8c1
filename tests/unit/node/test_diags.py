"""The diagnostics tarball: outputs, recorded failures, BIRD replies, logs."""

from __future__ import annotations

import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from calico.node.diags import COMMANDS, collect_diags

FAKE_COMMANDS = [
    ("works", ["echo", "hello"]),
    ("fails", ["sh", "-c", "echo partial; echo broken >&2; exit 2"]),
    ("absent", ["no-such-command-for-diags"]),
]


def members(tarball: Path) -> dict[str, str]:
    """Member path below the top directory -> text."""
    with tarfile.open(tarball) as tar:
        out = {}
        for info in tar.getmembers():
            if info.isfile():
                handle = tar.extractfile(info)
                assert handle is not None
                out[info.name.split("/", 1)[1]] = handle.read().decode()
        return out


@pytest.fixture
def fake_bird(tmp_path: Path) -> Iterator[str]:
    """A control socket that greets like BIRD and answers every command with one table."""
    path = str(tmp_path / "bird.ctl")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"0001 BIRD 2.0.12 ready.\n")
                command = conn.makefile().readline().strip()
                conn.sendall(f"1002-answer to {command}\n second line\n0000 \n".encode())

    thread = threading.Thread(target=serve)
    thread.start()
    yield path
    done.set()
    thread.join()
    server.close()


def test_outputs_and_failures_are_recorded(tmp_path: Path) -> None:
    tarball = collect_diags(tmp_path / "out", bird_socket=tmp_path / "none.ctl",
                            commands=FAKE_COMMANDS)  # fmt: skip
    assert tarball.parent == tmp_path / "out"
    assert tarball.name.startswith("diags-")
    assert tarball.name.endswith(".tar.gz")
    files = members(tarball)
    assert files["works.txt"] == "hello\n"
    assert "FAILED: exit code 2: broken" in files["fails.txt"]
    assert "partial" in files["fails.txt"]  # whatever it printed is kept
    assert "no-such-command-for-diags: command not found" in files["absent.txt"]
    assert "BIRD not reachable" in files["bird_protocols.txt"]
    index = files["index.txt"].splitlines()
    assert index[0] == "ok     works: echo hello"
    assert index[1].startswith("FAILED fails: sh -c")
    assert "(exit code 2: broken)" in index[1]
    assert any(line.startswith("FAILED bird_routes: birdc -s") for line in index)


def test_bird_replies_and_logs_are_included(tmp_path: Path, fake_bird: str) -> None:
    logs = tmp_path / "calico-logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "calico-felix.log").write_text("felix says hi\n")
    (logs / "sub" / "bird.log").write_text("bird says hi\n")
    sock = socket.socket(socket.AF_UNIX)  # not a log: must be skipped, not fail
    sock.bind(str(logs / "some.sock"))
    dest = tmp_path / "diags.tar.gz"
    tarball = collect_diags(dest, [logs, tmp_path / "missing"], fake_bird, commands=[])
    sock.close()
    assert tarball == dest
    files = members(tarball)
    assert files["bird_protocols.txt"] == "answer to show protocols all\nsecond line\n"
    assert files["bird_routes.txt"] == "answer to show route\nsecond line\n"
    assert files["logs/calico-logs/calico-felix.log"] == "felix says hi\n"
    assert files["logs/calico-logs/sub/bird.log"] == "bird says hi\n"
    assert "logs/calico-logs/some.sock" not in files
    assert "FAILED logs/missing: copy" in files["index.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_default_command_set_matches_calicoctl_node_diags() -> None:
    argvs = [" ".join(argv) for _, argv in COMMANDS]
    for wanted in ("ip -4 route", "ip -6 route", "ip -4 addr", "ip -6 addr", "ip -d link",
                   "ip neigh", "iptables-save -c", "ip6tables-save -c", "ipset list",
                   "nft -n -a list ruleset", "ss -a -n", "date", "hostname"):  # fmt: skip
        assert any(a.startswith(wanted) for a in argvs), wanted
