"""The calicoctl group: global options, error reporting, version."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from calico.ctl.context import CtlContext
from calico.ctl.main import calicoctl, main
from calico.datastore import MemoryDatastore
from calico.resources import parse_documents
from tests.unit.ctl.conftest import Ctl
from tests.unit.ctl.manifests import pool_yaml

CLUSTER_INFO = (
    "apiVersion: projectcalico.org/v3\nkind: ClusterInformation\nmetadata: {name: default}\n"
    "spec: {calicoVersion: v3.30.0, clusterType: 'k8s,bgp', datastoreReady: true}\n"
)


def _run_with_env(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    state = CtlContext(env=env)
    result = CliRunner().invoke(calicoctl, list(args), obj=state)
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_the_resource_commands() -> None:
    out = CliRunner().invoke(calicoctl, ["--help"]).stdout
    for command in ("create", "apply", "replace", "delete", "get", "patch", "label", "validate"):
        assert command in out


def test_unknown_log_level_is_a_usage_error(ctl: Ctl) -> None:
    result = ctl("--log-level", "loud", "get", "ippool")
    assert result.exit_code == 2
    assert "unknown log level: loud" in result.stderr


def test_log_level_accepted_before_or_after_the_subcommand(ctl: Ctl) -> None:
    assert ctl("-l", "debug", "get", "ippool").exit_code == 0
    assert logging.getLogger().level == logging.DEBUG
    assert ctl("get", "ippool", "--log-level", "error").exit_code == 0
    assert logging.getLogger().level == logging.ERROR


def test_allow_version_mismatch_is_accepted(ctl: Ctl) -> None:
    assert ctl("--allow-version-mismatch", "get", "ippool").exit_code == 0
    assert ctl("get", "ippool", "--allow-version-mismatch").exit_code == 0


def test_bad_datastore_config_is_one_line() -> None:
    code, _, err = _run_with_env({"DATASTORE_TYPE": "zookeeper"}, "get", "ippool")
    assert code == 1
    assert err.startswith("Failed to create Calico API client: DATASTORE_TYPE=zookeeper")
    assert err.count("\n") == 1


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "calicoctl.cfg"
    code, _, err = _run_with_env({}, "-c", str(missing), "get", "ippool")
    assert code == 1
    assert f"config file {missing} does not exist" in err


def test_config_option_on_subcommand(tmp_path: Path) -> None:
    db = tmp_path / "calico.db"
    cfg = tmp_path / "calicoctl.cfg"
    cfg.write_text(
        "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\n"
        f"spec:\n  datastoreType: sqlite\n  sqlitePath: {db}\n"
    )
    code, out, err = _run_with_env({}, "get", "ippool", "-c", str(cfg))
    assert (code, err) == (0, "")
    assert out.startswith("NAME")
    assert db.exists()


def test_validate_needs_no_datastore() -> None:
    pool = pool_yaml("p", "10.0.0.0/8")
    state = CtlContext(env={"DATASTORE_TYPE": "zookeeper"})
    result = CliRunner().invoke(calicoctl, ["validate", "-f", "-"], obj=state, input=pool)
    assert result.exit_code == 0, result.stderr


def test_version_client_only(ctl: Ctl) -> None:
    out = ctl.ok("version", "--client")
    assert out.startswith("Client Version:    v")
    assert "Git commit:" in out
    assert "Cluster" not in out


def test_version_with_cluster_information(ctl: Ctl) -> None:
    ctl.client.create(parse_documents(CLUSTER_INFO)[0])
    out = ctl.ok("version")
    assert "Cluster Version:   v3.30.0\n" in out
    assert "Cluster Type:      k8s,bgp\n" in out


def test_version_without_cluster_information(ctl: Ctl) -> None:
    assert ctl.ok("version").endswith("Unable to detect installed Calico version\n")


def test_version_without_datastore() -> None:
    code, out, _ = _run_with_env({"DATASTORE_TYPE": "zookeeper"}, "version")
    assert code == 0
    assert out.endswith("Unable to detect installed Calico version\n")


def test_main_exits_with_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATASTORE_TYPE", "memory")
    with pytest.raises(SystemExit) as info:
        main(["get", "teapot"])
    assert info.value.code == 1
    assert (
        capsys.readouterr().err
        == "failed to get resources: resource type 'teapot' is not supported\n"
    )


def test_injected_store_is_used() -> None:
    store = MemoryDatastore()
    state = CtlContext(datastore=store)
    CliRunner().invoke(
        calicoctl, ["create", "-f", "-"], obj=state, input=pool_yaml("p", "10.0.0.0/8")
    )
    assert store.list("/calico/resources/v3/projectcalico.org/ippools/")[0]
