"""Fixtures: an IPAMClient over a MemoryDatastore."""

from __future__ import annotations

import pytest

from calico.datastore import MemoryDatastore
from calico.ipam import IPAMClient


@pytest.fixture
def ds() -> MemoryDatastore:
    return MemoryDatastore()


@pytest.fixture
def ipam(ds: MemoryDatastore) -> IPAMClient:
    return IPAMClient(ds)
