"""calicoctl create / apply / replace / validate: messages, all-or-nothing input, conflicts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.ctl.conftest import Ctl
from tests.unit.ctl.manifests import docs, policy_yaml, pool_yaml

POOL1 = pool_yaml("pool1", "10.1.0.0/16")
POOL2 = pool_yaml("pool2", "10.2.0.0/16")


# -- create -------------------------------------------------------------------
def test_create_reports_count_and_kind(ctl: Ctl) -> None:
    out = ctl.ok("create", "-f", "-", stdin=docs(POOL1, POOL2))
    assert out == "Successfully created 2 'IPPool' resource(s)\n"
    assert [p.name for p in ctl.client.list("IPPool")] == ["pool1", "pool2"]


def test_create_mixed_kinds_names_no_kind(ctl: Ctl) -> None:
    out = ctl.ok("create", "-f", "-", stdin=docs(POOL1, policy_yaml("p", "ns1")))
    assert out == "Successfully created 2 resource(s)\n"


def test_create_existing_single(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=POOL1)
    result = ctl.fails("create", "-f", "-", stdin=POOL1)
    assert result.stderr == (
        "failed to create 'IPPool' resource: "
        "[resource already exists: IPPool(pool1) with error: <nil>]\n"
    )


def test_create_partial_success(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=POOL1)
    result = ctl.fails("create", "-f", "-", stdin=docs(POOL2, POOL1))
    assert result.stdout == "Partial success: created the first 1 out of 2 'IPPool' resources:\n"
    assert result.stderr == (
        "hit error: [resource already exists: IPPool(pool1) with error: <nil>]\n"
    )
    assert ctl.client.get("IPPool", "pool2")


def test_create_all_existing(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=docs(POOL1, POOL2))
    result = ctl.fails("create", "-f", "-", stdin=docs(POOL1, POOL2))
    assert result.stderr.startswith("failed to create any 'IPPool' resources: [resource already")


def test_create_skip_exists(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=POOL1)
    out = ctl.ok("create", "--skip-exists", "-f", "-", stdin=docs(POOL1, POOL2))
    assert out == "Successfully created 2 'IPPool' resource(s)\n"


def test_invalid_document_writes_nothing(ctl: Ctl) -> None:
    bad = pool_yaml("pool3", "10.3.0.0/99")
    result = ctl.fails("create", "-f", "-", stdin=docs(POOL1, POOL2, bad))
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("failed to execute command: stdin resource 3: IPPool(pool3):")
    assert "spec.cidr" in result.stderr
    assert "10.3.0.0/99" in result.stderr
    assert ctl.client.list("IPPool") == []


def test_unknown_field_is_named(ctl: Ctl) -> None:
    result = ctl.fails("apply", "-f", "-", stdin=POOL1 + "  colour: blue\n")
    assert "spec.colour" in result.stderr
    assert ctl.client.list("IPPool") == []


def test_bad_yaml_is_one_line(ctl: Ctl) -> None:
    result = ctl.fails("apply", "-f", "-", stdin="kind: [\n")
    assert result.stderr.startswith("failed to execute command: stdin document 1: invalid YAML")
    assert result.stderr.count("\n") == 1


def test_unknown_kind_in_file(ctl: Ctl) -> None:
    text = "apiVersion: projectcalico.org/v3\nkind: Teapot\nmetadata: {name: t}\nspec: {}\n"
    result = ctl.fails("create", "-f", "-", stdin=text)
    assert "kind" in result.stderr
    assert "Teapot" in result.stderr


def test_missing_file(ctl: Ctl, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = ctl.fails("create", "-f", str(missing))
    assert result.stderr == (
        f"failed to execute command: open {missing}: no such file or directory\n"
    )


def test_empty_file_and_skip_empty(ctl: Ctl, tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n")
    result = ctl.fails("create", "-f", str(empty))
    assert result.stderr == f"no resources specified in file {empty}\n"
    assert ctl.ok("create", "--skip-empty", "-f", str(empty)) == "No resources specified\n"


def test_create_requires_a_file(ctl: Ctl) -> None:
    result = ctl("create")
    assert result.exit_code == 2
    assert "-f FILE" in result.stderr


def test_directory_with_and_without_recursion(ctl: Ctl, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text(POOL1)
    (tmp_path / "sub" / "b.yml").write_text(POOL2)
    assert ctl.ok("apply", "-f", str(tmp_path)) == "Successfully applied 1 'IPPool' resource(s)\n"
    assert ctl.ok("apply", "-R", "-f", str(tmp_path)).startswith("Successfully applied 2")


def test_empty_directory(ctl: Ctl, tmp_path: Path) -> None:
    result = ctl.fails("apply", "-f", str(tmp_path))
    assert result.stderr == f"no resources specified in directory {tmp_path}\n"


def test_json_list_input(ctl: Ctl) -> None:
    pools = [
        {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": n},
         "spec": {"cidr": c}}
        for n, c in (("j1", "10.5.0.0/16"), ("j2", "10.6.0.0/16"))
    ]  # fmt: skip
    assert ctl.ok("create", "-f", "-", stdin=json.dumps(pools)).startswith("Successfully created 2")


# -- namespaces ---------------------------------------------------------------
def test_namespace_flag_fills_in_missing_namespace(ctl: Ctl) -> None:
    ctl.ok("create", "-n", "prod", "-f", "-", stdin=policy_yaml("p1"))
    assert ctl.client.get("NetworkPolicy", "p1", "prod").namespace == "prod"


def test_namespace_defaults_to_default(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=policy_yaml("p1"))
    assert ctl.client.get("NetworkPolicy", "p1", "default")


def test_namespace_mismatch(ctl: Ctl) -> None:
    result = ctl.fails("create", "-n", "dev", "-f", "-", stdin=policy_yaml("p1", "prod"))
    assert result.stderr == "resource namespace does not match client namespace. prod != dev\n"


def test_namespace_flag_on_cluster_kind(ctl: Ctl) -> None:
    result = ctl.fails("create", "-n", "dev", "-f", "-", stdin=POOL1)
    assert result.stderr == "IPPool is not namespaced\n"


# -- apply / replace ----------------------------------------------------------
def test_apply_creates_and_updates(ctl: Ctl) -> None:
    ctl.ok("apply", "-f", "-", stdin=POOL1)
    changed = pool_yaml("pool1", "10.1.0.0/16", "  natOutgoing: true\n")
    assert ctl.ok("apply", "-f", "-", stdin=changed) == (
        "Successfully applied 1 'IPPool' resource(s)\n"
    )
    assert ctl.client.get("IPPool", "pool1").to_dict()["spec"]["natOutgoing"] is True


def test_apply_stale_resource_version_conflicts(ctl: Ctl) -> None:
    ctl.ok("apply", "-f", "-", stdin=POOL1)
    old = ctl.ok("get", "ippool", "pool1", "-o", "yaml")
    ctl.ok("apply", "-f", "-", stdin=POOL1)  # bumps the version
    result = ctl.fails("apply", "-f", "-", stdin=old)
    assert result.stderr == "failed to apply 'IPPool' resource: [update conflict: IPPool(pool1)]\n"


def test_apply_cluster_information_is_refused(ctl: Ctl) -> None:
    info = (
        "apiVersion: projectcalico.org/v3\nkind: ClusterInformation\n"
        "metadata: {name: default}\nspec: {calicoVersion: v3.30.0}\n"
    )
    result = ctl.fails("apply", "-f", "-", stdin=info)
    assert "operation apply is not supported on ClusterInformation" in result.stderr


def test_replace_existing(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=POOL1)
    assert ctl.ok("replace", "-f", "-", stdin=POOL1) == (
        "Successfully replaced 1 'IPPool' resource(s)\n"
    )


def test_replace_missing(ctl: Ctl) -> None:
    result = ctl.fails("replace", "-f", "-", stdin=POOL1)
    assert result.stderr == (
        "failed to replace 'IPPool' resource: "
        "resource does not exist: IPPool(pool1) with error: <nil>\n"
    )


def test_replace_stops_at_first_error(ctl: Ctl) -> None:
    ctl.ok("create", "-f", "-", stdin=POOL1)
    pool3 = pool_yaml("pool3", "10.3.0.0/16")
    result = ctl.fails("replace", "-f", "-", stdin=docs(POOL1, POOL2, pool3))
    assert result.stdout == "Partial success: replaced the first 1 out of 3 'IPPool' resources:\n"
    assert result.stderr == "hit error: resource does not exist: IPPool(pool2) with error: <nil>\n"


# -- validate -----------------------------------------------------------------
def test_validate_writes_nothing(ctl: Ctl) -> None:
    out = ctl.ok("validate", "-f", "-", stdin=docs(POOL1, policy_yaml("p")))
    assert out == "Successfully validated 2 resource(s)\n"
    assert ctl.store.current_revision() == 1


def test_validate_invalid(ctl: Ctl) -> None:
    bad = policy_yaml("p", selector="'app == '")
    result = ctl.fails("validate", "-f", "-", stdin=bad)
    assert result.stderr.startswith("failed to execute command: stdin resource 1: NetworkPolicy(p)")
    assert "spec.selector" in result.stderr


def test_validate_checks_namespaces_too(ctl: Ctl) -> None:
    result = ctl.fails("validate", "-n", "dev", "-f", "-", stdin=policy_yaml("p", "prod"))
    assert result.stderr == "resource namespace does not match client namespace. prod != dev\n"
