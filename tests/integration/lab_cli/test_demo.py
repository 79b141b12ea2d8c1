"""``calico lab demo`` end to end: every check passes, and it leaves nothing behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from calico.lab import netns

from .conftest import Run, unique

pytestmark = pytest.mark.root


def test_demo_passes_every_check_and_tears_down(
    calico: Run, lab_names: list[str], state_root: Path
) -> None:
    name = unique("d")
    lab_names.append(name)
    demo = calico("lab", "demo", "--name", name, timeout=600)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-2000:]
    for chapter in ("three-host cluster", "Routes", "BGP sessions", "Default deny", "tier"):
        assert chapter in demo.stdout
    assert "proto bird" in demo.stdout
    assert "Established" in demo.stdout
    assert "calicoctl apply -f default-deny.yaml" in demo.stdout
    passed = re.search(r"(\d+)/(\d+) checks passed", demo.stdout)
    assert passed is not None
    assert passed[1] == passed[2], demo.stdout[-2000:]
    assert [ns for ns in netns.list_netns() if ns.startswith(f"{name}-")] == []
    assert not (state_root / name).exists()
