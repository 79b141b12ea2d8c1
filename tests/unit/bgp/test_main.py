"""The calico-bgp program: --once against a sqlite datastore, errors as one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from calico.bgp.main import main, node_name
from calico.datastore.keys import resource_key
from calico.datastore.sqlite import SqliteDatastore

pytestmark = pytest.mark.skipif(shutil.which("bird") is None, reason="needs bird -p")


def calicoctl_cfg(tmp_path: Path) -> Path:
    db = tmp_path / "calico.db"
    with SqliteDatastore(str(db)) as ds:
        for n in (1, 2):
            doc = {"apiVersion": "projectcalico.org/v3", "kind": "Node",
                   "metadata": {"name": f"node{n}"},
                   "spec": {"bgp": {"ipv4Address": f"10.0.0.{n}/24"}}}  # fmt: skip
            ds.put(resource_key("Node", f"node{n}"), json.dumps(doc))
    cfg = tmp_path / "calicoctl.cfg"
    cfg.write_text("apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\n"
                   f"spec:\n  datastoreType: sqlite\n  sqlitePath: {db}\n")  # fmt: skip
    return cfg


def test_once_writes_the_config_and_exits_zero(tmp_path: Path) -> None:
    args = ["-c", str(calicoctl_cfg(tmp_path)), "--config-dir", str(tmp_path / "bird"),
            "--socket", str(tmp_path / "none.ctl"), "--node", "node1", "--once"]  # fmt: skip
    assert main(args) == 0
    assert (
        "protocol bgp Mesh_10_0_0_2 from bgp_template {"
        in (tmp_path / "bird" / "bird.cfg").read_text()
    )
    assert main(args) == 0  # unchanged is fine too


def test_once_for_an_unknown_node_exits_one(tmp_path: Path) -> None:
    args = ["-c", str(calicoctl_cfg(tmp_path)), "--config-dir", str(tmp_path / "bird"),
            "--node", "ghost", "--once"]  # fmt: skip
    assert main(args) == 1
    assert not (tmp_path / "bird" / "bird.cfg").exists()


def test_bad_datastore_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(tmp_path / "missing.cfg"), "--node", "n", "--once"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"calico-bgp: config file {tmp_path}/missing.cfg does not exist"]


def test_node_name_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODENAME", "from-env")
    assert node_name("explicit") == "explicit"
    assert node_name(None) == "from-env"
