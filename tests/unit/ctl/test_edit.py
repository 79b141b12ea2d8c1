"""calicoctl patch (JSON merge patch) and label."""

from __future__ import annotations

from typing import Any

import pytest

from calico.ctl.edit import merge_patch
from tests.unit.ctl.conftest import Ctl
from tests.unit.ctl.manifests import policy_yaml, pool_yaml

POOL1 = pool_yaml("pool1", "10.1.0.0/16")


@pytest.fixture
def pool(ctl: Ctl) -> Ctl:
    ctl.ok("create", "-f", "-", stdin=POOL1)
    return ctl


def _spec(ctl: Ctl) -> dict[str, Any]:
    spec: dict[str, Any] = ctl.client.get("IPPool", "pool1").to_dict()["spec"]
    return spec


# -- merge patch --------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        (
            {"a": 1, "b": {"c": 2, "d": 3}},
            {"b": {"c": None, "e": 4}},
            {"a": 1, "b": {"d": 3, "e": 4}},
        ),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1}, {"a": {"b": 2}}, {"a": {"b": 2}}),
        ({"a": 1}, {"b": None}, {"a": 1}),
    ],
)
def test_merge_patch_rfc7386(target: object, patch: object, expected: object) -> None:
    assert merge_patch(target, patch) == expected


# -- patch --------------------------------------------------------------------
def test_patch_spec(pool: Ctl) -> None:
    out = pool.ok("patch", "ippool", "pool1", "-p", '{"spec": {"natOutgoing": true}}')
    assert out == "Successfully patched 1 'IPPool' resource\n"
    assert _spec(pool)["natOutgoing"] is True


def test_patch_keeps_identity_and_server_metadata(pool: Ctl) -> None:
    before = pool.client.get("IPPool", "pool1")
    patch = '{"metadata": {"name": "other", "uid": "x", "labels": {"a": "b"}}}'
    pool.ok("patch", "pools", "pool1", "-p", patch)
    after = pool.client.get("IPPool", "pool1")
    assert after.metadata.uid == before.metadata.uid
    assert after.metadata.labels == {"a": "b"}
    assert [p.name for p in pool.client.list("IPPool")] == ["pool1"]


def test_patch_result_is_validated(pool: Ctl) -> None:
    result = pool.fails("patch", "ippool", "pool1", "-p", '{"spec": {"blockSize": 7}}')
    assert result.stderr.startswith("hit error: creating resource from patched data: IPPool(pool1)")
    assert "spec.blockSize" in result.stderr
    assert _spec(pool)["blockSize"] == 26


@pytest.mark.parametrize("patch", ["{not json", "[1, 2]"])
def test_patch_must_be_a_json_object(pool: Ctl, patch: str) -> None:
    assert pool.fails("patch", "ippool", "pool1", "-p", patch).stderr.startswith(
        "hit error: performing merge patch"
    )


def test_patch_missing_resource(ctl: Ctl) -> None:
    result = ctl.fails("patch", "ippool", "nope", "-p", "{}")
    assert result.stderr == "hit error: resource does not exist: IPPool(nope) with error: <nil>\n"


def test_patch_type_json_is_refused(pool: Ctl) -> None:
    assert (
        "not supported" in pool.fails("patch", "ippool", "pool1", "-t", "json", "-p", "[]").stderr
    )


def test_patch_namespaced(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=policy_yaml("p1", "prod"))
    ctl.ok("patch", "policy", "p1", "-n", "prod", "-p", '{"spec": {"order": 10}}')
    assert ctl.client.get("NetworkPolicy", "p1", "prod").to_dict()["spec"]["order"] == 10


# -- label --------------------------------------------------------------------
def test_label_set_update_remove(pool: Ctl) -> None:
    assert pool.ok("label", "ippool", "pool1", "env=prod") == (
        "Successfully set label env on ippool pool1\n"
    )
    assert pool.ok("label", "ippool", "pool1", "env=prod") == (
        "Successfully updated label env on ippool pool1\n"
    )
    assert pool.ok("label", "ippool", "pool1", "env=dev", "--overwrite") == (
        "Successfully updated label env on ippool pool1\n"
    )
    assert pool.client.get("IPPool", "pool1").metadata.labels == {"env": "dev"}
    assert pool.ok("label", "ippool", "pool1", "env", "--remove") == (
        "Successfully removed label env from ippool pool1\n"
    )
    assert pool.client.get("IPPool", "pool1").metadata.labels == {}


def test_label_existing_key_needs_overwrite(pool: Ctl) -> None:
    pool.ok("label", "ippool", "pool1", "env=prod")
    result = pool.fails("label", "ippool", "pool1", "env=dev")
    assert result.stderr == (
        "failed to update label of ippool pool1, key env is already present. "
        "please use '--overwrite' to set a new value\n"
    )


def test_label_remove_missing_key(pool: Ctl) -> None:
    result = pool.fails("label", "ippool", "pool1", "env", "--remove")
    assert result.stderr == "cannot remove label of ippool pool1, key env does not exist\n"


def test_label_without_equals(pool: Ctl) -> None:
    assert pool.fails("label", "ippool", "pool1", "env").stderr == "invalid label env\n"


def test_label_invalid_key_is_rejected(pool: Ctl) -> None:
    result = pool.fails("label", "ippool", "pool1", "bad key=x")
    assert result.stderr.startswith("failed to update ippool pool1, label not changed:")
    assert pool.client.get("IPPool", "pool1").metadata.labels == {}


def test_label_missing_resource(ctl: Ctl) -> None:
    assert ctl.fails("label", "ippool", "nope", "a=b").stderr == "ippool nope not found\n"


def test_label_unknown_kind(ctl: Ctl) -> None:
    result = ctl.fails("label", "teapot", "x", "a=b")
    assert (
        result.stderr == "failed to get teapot x, error resource type 'teapot' is not supported\n"
    )


def test_label_namespaced(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=policy_yaml("p1", "prod"))
    ctl.ok("label", "policy", "p1", "-n", "prod", "team=db")
    labels = ctl.client.get("NetworkPolicy", "p1", "prod").metadata.labels
    assert labels["team"] == "db"
