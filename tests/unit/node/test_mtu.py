from __future__ import annotations

from pathlib import Path

from calico.node.mtu import host_mtu, read_mtu_file, workload_mtu, write_mtu_file

PATTERN = r"^((en|wl|ww|sl|ib)[Pcopsvx].*|(eth|wlan|wwan).*)"


def test_host_mtu_takes_smallest_matching() -> None:
    links = [("lo", 65536), ("eth0", 9000), ("ens3", 1450), ("cali123", 1400)]
    assert host_mtu(PATTERN, lambda: links) == 1450


def test_host_mtu_falls_back_to_1500() -> None:
    assert host_mtu(PATTERN, lambda: [("lo", 65536)]) == 1500


def test_overheads() -> None:
    assert workload_mtu(1500, []) == 1500
    assert workload_mtu(1500, ["ipip"]) == 1480
    assert workload_mtu(1500, ["vxlan"]) == 1450
    assert workload_mtu(1500, ["ipip", "vxlan"]) == 1450


def test_mtu_file_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "mtu")
    assert read_mtu_file(path) is None
    write_mtu_file(1450, path)
    assert read_mtu_file(path) == 1450
