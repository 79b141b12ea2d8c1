"""End to end: the calicoctl executable against a sqlite file and a real etcd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.ctl.conftest import Calicoctl, calicoctl_argv, clean_env
from tests.unit.ctl.manifests import docs, policy_yaml, pool_yaml

POOL1 = pool_yaml("pool1", "10.1.0.0/16", "  nodeSelector: rack == 'a'\n")
POOL2 = pool_yaml("pool2", "fd00:1::/64")
POLICY = policy_yaml("allow-db", "prod", "app == 'db'")
PEER = (
    "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: tor}\n"
    "spec: {peerIP: 10.0.0.254, asNumber: 64513}\n"
)


def _strip_versions(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip_versions(v) for k, v in value.items() if k != "resourceVersion"}
    if isinstance(value, list):
        return [_strip_versions(v) for v in value]
    return value


def test_multi_document_file(calicoctl: Calicoctl, tmp_path: Path) -> None:
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(docs(POOL1, POOL2, POLICY, PEER))
    assert calicoctl.ok("create", "-f", str(manifest)) == "Successfully created 4 resource(s)\n"
    assert calicoctl.ok("get", "ippool") == (
        "NAME    CIDR          SELECTOR      \n"
        "pool1   10.1.0.0/16   rack == 'a'   \n"
        "pool2   fd00:1::/64   all()         \n"
        "\n"
    )
    rows = [line.split() for line in calicoctl.ok("get", "policy", "-A").splitlines() if line]
    assert rows == [["NAMESPACE", "NAME", "TIER"], ["prod", "allow-db", "default"]]
    # The default tier was created with the first policy.
    assert calicoctl.ok("get", "tier").splitlines()[1].split() == ["default", "1e+06"]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_get_output_applies_back_unchanged(calicoctl: Calicoctl, fmt: str) -> None:
    calicoctl.ok("apply", "-f", "-", stdin=docs(POOL1, POOL2, PEER))
    before = calicoctl.ok("get", "ippool", "-o", fmt)
    assert calicoctl.ok("apply", "-f", "-", stdin=before) == (
        "Successfully applied 2 'IPPool' resource(s)\n"
    )
    after = calicoctl.ok("get", "ippool", "-o", fmt)
    assert _strip_versions(yaml.safe_load(after)) == _strip_versions(yaml.safe_load(before))
    single = calicoctl.ok("get", "bgppeer", "tor", "-o", fmt)
    assert calicoctl.ok("replace", "-f", "-", stdin=single).startswith("Successfully replaced 1")


def test_invalid_document_writes_nothing(calicoctl: Calicoctl, tmp_path: Path) -> None:
    manifest = tmp_path / "pools.yaml"
    manifest.write_text(docs(POOL1, pool_yaml("pool3", "10.3.0.0/40")))
    done = calicoctl.fails("apply", "-f", str(manifest))
    assert done.stderr.startswith(
        f"failed to execute command: {manifest} resource 2: IPPool(pool3)"
    )
    assert "spec.cidr" in done.stderr
    assert done.stderr.count("\n") == 1
    assert calicoctl.ok("get", "ippool", "-o", "json").count('"name"') == 0


def test_conflicts_and_partial_success(calicoctl: Calicoctl) -> None:
    calicoctl.ok("create", "-f", "-", stdin=POOL1)
    done = calicoctl.fails("create", "-f", "-", stdin=docs(POOL2, POOL1))
    assert done.stdout == "Partial success: created the first 1 out of 2 'IPPool' resources:\n"
    assert done.stderr == "hit error: [resource already exists: IPPool(pool1) with error: <nil>]\n"
    assert calicoctl.ok("create", "--skip-exists", "-f", "-", stdin=POOL1).startswith(
        "Successfully created 1"
    )


def test_stale_resource_version_is_a_conflict(calicoctl: Calicoctl) -> None:
    calicoctl.ok("create", "-f", "-", stdin=PEER)
    old = calicoctl.ok("get", "bgppeer", "tor", "-o", "yaml")
    calicoctl.ok("patch", "bgppeer", "tor", "-p", '{"spec": {"asNumber": 64600}}')
    done = calicoctl.fails("replace", "-f", "-", stdin=old)
    assert done.stderr == "failed to replace 'BGPPeer' resource: update conflict: BGPPeer(tor)\n"
    done = calicoctl.fails("delete", "-f", "-", stdin=old)
    assert "update conflict: BGPPeer(tor)" in done.stderr


def test_delete_label_patch(calicoctl: Calicoctl) -> None:
    calicoctl.ok("create", "-f", "-", stdin=docs(POOL1, POOL2))
    assert calicoctl.ok("label", "ippool", "pool1", "env=prod") == (
        "Successfully set label env on ippool pool1\n"
    )
    calicoctl.ok("patch", "ippool", "pool1", "-p", '{"spec": {"disabled": true}}')
    pool = json.loads(calicoctl.ok("get", "ippool", "pool1", "-o", "json"))
    assert pool["metadata"]["labels"] == {"env": "prod"}
    assert pool["spec"]["disabled"] is True
    done = calicoctl.fails("delete", "ippool", "pool1", "pool9")
    assert done.stdout == "Successfully deleted 1 'IPPool' resource(s)\n"
    assert done.stderr == (
        "Failed to delete 'IPPool' resource: "
        "resource does not exist: IPPool(pool9) with error: <nil>\n"
    )
    assert calicoctl.ok("delete", "-s", "-f", "-", stdin=docs(POOL1, POOL2)).startswith(
        "Successfully deleted 2"
    )


def test_directory_recursive(calicoctl: Calicoctl, tmp_path: Path) -> None:
    (tmp_path / "manifests" / "net").mkdir(parents=True)
    (tmp_path / "manifests" / "pool1.yaml").write_text(POOL1)
    (tmp_path / "manifests" / "net" / "pool2.json").write_text(json.dumps(yaml.safe_load(POOL2)))
    directory = str(tmp_path / "manifests")
    assert calicoctl.ok("apply", "-R", "-f", directory).startswith("Successfully applied 2")


def test_missing_resource(calicoctl: Calicoctl) -> None:
    done = calicoctl.fails("get", "ippool", "nope")
    assert done.stderr == "resource does not exist: IPPool(nope) with error: <nil>\n"


def test_version(calicoctl: Calicoctl) -> None:
    out = calicoctl.ok("version")
    assert out.startswith("Client Version:    v")


def test_environment_configuration(tmp_path: Path) -> None:
    if Path("/etc/calico/calicoctl.cfg").exists():
        pytest.skip("/etc/calico/calicoctl.cfg overrides the environment")
    env = clean_env(DATASTORE_TYPE="sqlite", CALICO_SQLITE_PATH=str(tmp_path / "env.db"))
    argv = calicoctl_argv()

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
        )

    assert run("create", "-f", "-", stdin=POOL1).returncode == 0
    assert "pool1" in run("get", "pools").stdout
    assert (tmp_path / "env.db").exists()


def test_bad_configuration_is_one_line_without_traceback(tmp_path: Path) -> None:
    env = clean_env(DATASTORE_TYPE="etcdv3", ETCD_ENDPOINTS="ftp://nowhere")
    cfg = tmp_path / "missing.cfg"
    for args in (["get", "ippool"], ["-c", str(cfg), "get", "ippool"]):
        done = subprocess.run(
            [*calicoctl_argv(), *args], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 1
        assert done.stderr.startswith("Failed to create Calico API client:")
        assert done.stderr.count("\n") == 1


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "calico.ctl.main", "version", "--client"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Client Version:")
