from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from calico.ctl.context import CtlContext
from calico.ctl.main import calicoctl
from calico.datastore import MemoryDatastore
from calico.datastore.keys import resource_key
from calico.ipam.ipam import IPAMClient


@pytest.fixture
def store() -> MemoryDatastore:
    ds = MemoryDatastore()
    pool = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPool",
        "metadata": {"name": "p1"},
        "spec": {"cidr": "10.1.0.0/24", "blockSize": 26, "nodeSelector": "all()"},
    }
    ds.create(resource_key("IPPool", "p1"), json.dumps(pool))
    node = {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": "n1"}}
    ds.create(resource_key("Node", "n1"), json.dumps(node))
    return ds


def run(ds: MemoryDatastore, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(calicoctl, list(args), obj=CtlContext(datastore=ds))
    return result.exit_code, result.output


def test_ipam_show_and_ip(store: MemoryDatastore) -> None:
    v4, _ = IPAMClient(store).auto_assign(2, 0, "h1", {"node": "n1"}, "n1")
    code, out = run(store, "ipam", "show", "--show-blocks")
    assert code == 0
    assert "| IP Pool  | 10.1.0.0/24" in out
    assert "2 (1%)" in out
    ip = v4[0].split("/")[0]
    code, out = run(store, "ipam", "show", "--ip", ip)
    assert code == 0
    assert f"IP {ip} is in use" in out
    assert "Handle ID: h1" in out


def test_ipam_check_finds_leak_and_writes_report(store: MemoryDatastore, tmp_path: Path) -> None:
    IPAMClient(store).auto_assign(1, 0, "leaky", {"node": "n1"}, "n1")
    out_file = tmp_path / "report.json"
    code, out = run(store, "ipam", "check", "-o", str(out_file))
    assert code == 0
    assert out.splitlines()[-2] == "Check complete; found 1 problems."
    allocations = json.loads(out_file.read_text())["allocations"]
    (leaked_ip,) = [ip for ip, allocs in allocations.items() if not allocs[0]["inUse"]]
    code, out = run(store, "ipam", "release", "--from-report", str(out_file))
    assert code == 0, out
    assert "Released 1 IPs successfully" in out
    code, out = run(store, "ipam", "show", "--ip", leaked_ip)
    assert f"{leaked_ip} is not assigned" in out


def test_ipam_release_unassigned_is_one_line_error(store: MemoryDatastore) -> None:
    code, out = run(store, "ipam", "release", "--ip", "10.1.0.77")
    assert code == 1
    assert out.strip() == "IP address 10.1.0.77 is not assigned"


def test_ipam_configure(store: MemoryDatastore) -> None:
    code, out = run(store, "ipam", "configure", "--strictaffinity=true")
    assert (code, out.strip()) == (0, "Successfully set StrictAffinity to: true")
    code, out = run(store, "ipam", "show", "--show-configuration")
    assert "StrictAffinity" in out
    assert "true" in out
    code, out = run(store, "ipam", "configure", "--ip-cooldown-seconds", "5000")
    assert code == 2


@pytest.mark.parametrize(
    ("cmdlines", "code", "expected"),
    [
        ([], 1, "Calico process is not running."),
        ([["/usr/bin/calico-felix"]], 0, "The BGP backend process (BIRD) is not running."),
        ([["calico-node"], ["bird", "-f"]], 0, "unable to connect to BIRDv4 socket"),
    ],
)
def test_node_status_reports_processes_and_bird(
    store: MemoryDatastore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cmdlines: list[list[str]],
    code: int,
    expected: str,
) -> None:
    # Which processes run is read from /proc; pin it so the case is deterministic.
    monkeypatch.setattr("calico.bgp.status.process_cmdlines", lambda: cmdlines)
    monkeypatch.setattr("os.geteuid", lambda: 0)
    got_code, out = run(store, "node", "status", "--bird-socket", str(tmp_path / "none.ctl"))
    assert got_code == code, out
    assert expected in out


def test_node_diags_writes_tarball(store: MemoryDatastore, tmp_path: Path) -> None:
    import tarfile

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "felix.log").write_text("hello\n")
    code, out = run(
        store, "node", "diags", "--log-dir", str(logs), "--dest", str(tmp_path / "d.tar.gz"),
        "--bird-socket", str(tmp_path / "none.ctl"),
    )  # fmt: skip
    assert code == 0, out
    assert f"Diags saved to {tmp_path / 'd.tar.gz'}" in out
    with tarfile.open(tmp_path / "d.tar.gz") as tar:
        names = tar.getnames()
    assert any(name.endswith("felix.log") for name in names)
    assert any("route" in name for name in names)


def test_release_from_report_skips_addresses_reallocated_since(
    store: MemoryDatastore, tmp_path: Path
) -> None:
    ipam = IPAMClient(store)
    (leaked,), _ = ipam.auto_assign(1, 0, "old-owner", {"node": "n1"}, "n1")
    ip = leaked.split("/")[0]
    report_file = tmp_path / "report.json"
    assert run(store, "ipam", "check", "-o", str(report_file))[0] == 0
    # After the check, the address is freed and handed to a new, live owner.
    ipam.release_by_handle("old-owner")
    ipam.assign_ip(ip, "new-owner", {"node": "n1"}, "n1")
    code, out = run(store, "ipam", "release", "--from-report", str(report_file))
    assert code == 0, out
    assert f"Skipping {ip}" in out
    assert "Released 0 IPs successfully" in out
    assert ipam.ips_by_handle("new-owner") == [ip]
