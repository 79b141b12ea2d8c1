"""Shared pytest configuration: markers that skip when the machine cannot run them."""

from __future__ import annotations

import os
import shutil

import pytest

pytest_plugins = ["tests.etcd_fixture"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    is_root = os.geteuid() == 0 and shutil.which("ip") is not None
    has_etcd = shutil.which("etcd") is not None
    for item in items:
        if "root" in item.keywords and not is_root:
            item.add_marker(pytest.mark.skip(reason="needs root and iproute2"))
        if "etcd" in item.keywords and not has_etcd:
            item.add_marker(pytest.mark.skip(reason="needs the etcd binary (etcd-server)"))
