"""Fixtures: a lab host (random name, torn down whatever happens) running the real calico-node."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from calico.lab.fabric import Fabric

from ..lab.conftest import lab_names, lab_root, unique_lab_name
from ._node import NodeProcess

__all__ = ["lab_names", "lab_root"]

StartNode = Callable[..., NodeProcess]


@pytest.fixture
def start_node(lab_names: list[str]) -> Iterator[StartNode]:
    """``start_node(*flags, **env)``: a one-host lab and calico-node running in it."""
    if shutil.which("bird") is None:
        pytest.skip("needs BIRD 2 (Debian bird2)")
    nodes: list[NodeProcess] = []

    def start(*flags: str, **env: str) -> NodeProcess:
        name = unique_lab_name()
        lab_names.append(name)  # torn down by lab_names even if start() fails
        node = NodeProcess(Fabric.create(name, 1).hosts[0], flags, env)
        nodes.append(node)
        node.start()
        return node

    yield start
    for node in nodes:
        node.close()
