"""calicoctl delete: by name or file, --skip-not-exists, resource versions."""

from __future__ import annotations

import pytest

from tests.unit.ctl.conftest import Ctl
from tests.unit.ctl.manifests import docs, policy_yaml, pool_yaml

POOL1 = pool_yaml("pool1", "10.1.0.0/16")
POOL2 = pool_yaml("pool2", "10.2.0.0/16")


@pytest.fixture
def pools(ctl: Ctl) -> Ctl:
    ctl.ok("create", "-f", "-", stdin=docs(POOL1, POOL2))
    return ctl


def test_delete_by_names(pools: Ctl) -> None:
    out = pools.ok("delete", "ippool", "pool1", "pool2")
    assert out == "Successfully deleted 2 'IPPool' resource(s)\n"
    assert pools.client.list("IPPool") == []


def test_delete_by_file(pools: Ctl) -> None:
    assert pools.ok("delete", "-f", "-", stdin=POOL1).startswith("Successfully deleted 1")
    assert [p.name for p in pools.client.list("IPPool")] == ["pool2"]


def test_delete_some_missing(pools: Ctl) -> None:
    result = pools.fails("delete", "ippool", "pool1", "blah", "pool2")
    assert result.stdout == "Successfully deleted 2 'IPPool' resource(s)\n"
    assert result.stderr == (
        "Failed to delete 'IPPool' resource: "
        "resource does not exist: IPPool(blah) with error: <nil>\n"
    )


def test_delete_all_missing_deletes_nothing(pools: Ctl) -> None:
    result = pools.fails("delete", "ippool", "x", "y")
    assert result.stdout == ""
    assert result.stderr.count("Failed to delete 'IPPool' resource") == 2
    assert len(pools.client.list("IPPool")) == 2


def test_skip_not_exists(pools: Ctl) -> None:
    out = pools.ok("delete", "--skip-not-exists", "ippool", "pool1", "nope")
    assert out == "Successfully deleted 2 'IPPool' resource(s)\n"
    assert pools.ok("delete", "-s", "ippool", "nope").startswith("Successfully deleted 1")


def test_delete_honours_resource_version_from_file(pools: Ctl) -> None:
    old = pools.ok("get", "ippool", "pool1", "-o", "yaml")
    pools.ok("apply", "-f", "-", stdin=POOL1)
    result = pools.fails("delete", "-f", "-", stdin=old)
    assert result.stderr == "Failed to delete 'IPPool' resource: update conflict: IPPool(pool1)\n"
    current = pools.ok("get", "ippool", "pool1", "-o", "yaml")
    assert pools.ok("delete", "-f", "-", stdin=current).startswith("Successfully deleted 1")


def test_delete_namespaced(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=policy_yaml("p1", "prod"))
    ctl.fails("delete", "policy", "p1")  # looks in "default"
    assert ctl.ok("delete", "policy", "p1", "-n", "prod").startswith("Successfully deleted 1")


def test_delete_unknown_kind(ctl: Ctl) -> None:
    assert ctl.fails("delete", "teapot", "x").stderr == "resource type 'teapot' is not supported\n"


def test_delete_empty_name(ctl: Ctl) -> None:
    assert ctl.fails("delete", "ippool", "").stderr == "resource name may not be empty\n"


@pytest.mark.parametrize("args", [("delete",), ("delete", "ippool")])
def test_delete_needs_names_or_file(ctl: Ctl, args: tuple[str, ...]) -> None:
    assert ctl(*args).exit_code == 2
