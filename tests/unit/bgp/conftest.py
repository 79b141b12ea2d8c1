"""Fixtures for calico.bgp unit tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a UNIX socket path must fit in 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="cbgp-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
