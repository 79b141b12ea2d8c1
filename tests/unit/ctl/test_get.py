"""calicoctl get: tables, YAML/JSON (and their round trip), custom columns, namespaces."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.unit.ctl.conftest import Ctl
from tests.unit.ctl.manifests import docs, policy_yaml, pool_yaml

POOL1 = pool_yaml(
    "ippool-name1", "10.0.1.0/24", "  ipipMode: Always\n  nodeSelector: foo == 'bar'\n"
)
POOL2 = pool_yaml("ippool-name2", "fed0:8001::/64")

# Upstream's expected tables (calicoctl/tests/st/utils/data.py), with the
# tabwriter padding that upstream's test helper strips from the last line.
POOL1_TABLE = (
    "NAME           CIDR          SELECTOR       \nippool-name1   10.0.1.0/24   foo == 'bar'   \n"
)
POOL1_WIDE = (
    "NAME           CIDR          NAT     IPIPMODE   VXLANMODE   DISABLED   DISABLEBGPEXPORT   "
    "SELECTOR       ASSIGNMENTMODE   \n"
    "ippool-name1   10.0.1.0/24   false   Always     Never       false      false              "
    "foo == 'bar'   Automatic        \n"
)
POOL2_TABLE = (
    "NAME           CIDR             SELECTOR   \nippool-name2   fed0:8001::/64   all()      \n"
)


@pytest.fixture
def pools(ctl: Ctl) -> Ctl:
    ctl.ok("create", "-f", "-", stdin=docs(POOL1, POOL2))
    return ctl


def test_ps_table_matches_upstream(pools: Ctl) -> None:
    assert pools.ok("get", "ippool", "ippool-name1") == POOL1_TABLE + "\n"


def test_wide_table_matches_upstream(pools: Ctl) -> None:
    assert pools.ok("get", "ippool", "ippool-name1", "-o", "wide") == POOL1_WIDE + "\n"


def test_each_named_resource_is_its_own_table(pools: Ctl) -> None:
    out = pools.ok("get", "ipp", "ippool-name1", "ippool-name2")
    assert out == POOL1_TABLE + "\n" + POOL2_TABLE + "\n"


def test_missing_names_are_reported_after_the_output(pools: Ctl) -> None:
    result = pools.fails("get", "pools", "ippool-name1", "blah", "ippool-name2")
    assert result.stdout == POOL1_TABLE + "\n" + POOL2_TABLE + "\n"
    assert result.stderr == "resource does not exist: IPPool(blah) with error: <nil>\n"


def test_listing_is_one_table(pools: Ctl) -> None:
    lines = pools.ok("get", "ippools").splitlines()
    assert lines[0].split() == ["NAME", "CIDR", "SELECTOR"]
    assert [line.split()[0] for line in lines[1:3]] == ["ippool-name1", "ippool-name2"]
    assert lines[3] == ""


def test_empty_listing_prints_headings(ctl: Ctl) -> None:
    assert ctl.ok("get", "ippool") == "NAME   CIDR   SELECTOR   \n\n"


def test_yaml_single_resource_is_the_object(pools: Ctl) -> None:
    doc = yaml.safe_load(pools.ok("get", "ippool", "ippool-name1", "-o", "yaml"))
    assert doc["kind"] == "IPPool"
    assert doc["spec"]["cidr"] == "10.0.1.0/24"
    assert doc["metadata"]["resourceVersion"]


def test_yaml_listing_is_a_kind_list(pools: Ctl) -> None:
    doc = yaml.safe_load(pools.ok("get", "ippool", "-o", "yml"))
    assert doc["kind"] == "IPPoolList"
    assert doc["apiVersion"] == "projectcalico.org/v3"
    assert [i["metadata"]["name"] for i in doc["items"]] == ["ippool-name1", "ippool-name2"]
    assert doc["metadata"]["resourceVersion"] == str(pools.store.current_revision())


def test_yaml_keys_are_sorted_block_style(pools: Ctl) -> None:
    out = pools.ok("get", "ippool", "ippool-name1", "-o", "yaml")
    top = [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert top == ["apiVersion", "kind", "metadata", "spec"]
    assert "{" not in out


def test_yaml_several_names_is_a_list(pools: Ctl) -> None:
    doc = yaml.safe_load(pools.ok("get", "ippool", "ippool-name1", "ippool-name2", "-o", "yaml"))
    assert [d["metadata"]["name"] for d in doc] == ["ippool-name1", "ippool-name2"]


def test_json_is_indented(pools: Ctl) -> None:
    out = pools.ok("get", "ippool", "ippool-name2", "-o", "json")
    assert out.startswith('{\n  "apiVersion"')
    assert json.loads(out)["spec"]["blockSize"] == 122


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_output_applies_back_unchanged(pools: Ctl, fmt: str) -> None:
    before = pools.ok("get", "ippool", "-o", fmt)
    assert pools.ok("apply", "-f", "-", stdin=before).startswith("Successfully applied 2")
    after = pools.ok("get", "ippool", "-o", fmt)
    assert _without_versions(yaml.safe_load(after)) == _without_versions(yaml.safe_load(before))


def _without_versions(value: object) -> object:
    """The document with every ``resourceVersion`` removed (apply bumps them)."""
    if isinstance(value, dict):
        return {k: _without_versions(v) for k, v in value.items() if k != "resourceVersion"}
    if isinstance(value, list):
        return [_without_versions(v) for v in value]
    return value


def test_export_strips_cluster_metadata(pools: Ctl) -> None:
    doc = yaml.safe_load(pools.ok("get", "ippool", "ippool-name1", "-o", "yaml", "--export"))
    assert doc["metadata"] == {"name": "ippool-name1"}


def test_custom_columns(pools: Ctl) -> None:
    out = pools.ok("get", "ippool", "-o", "custom-columns=NAME,vxlanmode,NAT")
    assert out.splitlines() == [
        "NAME           VXLANMODE   NAT     ",
        "ippool-name1   Never       false   ",
        "ippool-name2   Never       false   ",
        "",
    ]


def test_custom_columns_unknown_heading(pools: Ctl) -> None:
    result = pools.fails("get", "ippool", "-o", "custom-columns=NAME,COLOUR")
    assert result.stderr.startswith("unknown heading COLOUR, valid values are: NAME, CIDR")


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("xml", "unrecognized output format 'xml'"),
        ("custom-columns=", "need to specify at least one column"),
        ("go-template={{.}}", "output format go-template is not supported"),
    ],
)
def test_bad_output_format(ctl: Ctl, fmt: str, message: str) -> None:
    assert ctl.fails("get", "ippool", "-o", fmt).stderr.startswith(message)


# -- namespaces ---------------------------------------------------------------
@pytest.fixture
def policies(ctl: Ctl) -> Ctl:
    manifests = docs(policy_yaml("a", "default"), policy_yaml("b", "prod"))
    ctl.ok("create", "-f", "-", stdin=manifests)
    return ctl


def test_listing_defaults_to_the_default_namespace(policies: Ctl) -> None:
    assert policies.ok("get", "networkpolicy").splitlines() == [
        "NAME   TIER      ",
        "a      default   ",
        "",
    ]


def test_all_namespaces_adds_namespace_column(policies: Ctl) -> None:
    rows = [line.split() for line in policies.ok("get", "np", "-A").splitlines() if line]
    assert rows == [
        ["NAMESPACE", "NAME", "TIER"],
        ["default", "a", "default"],
        ["prod", "b", "default"],
    ]


def test_hidden_lowercase_a_alias(policies: Ctl) -> None:
    assert "prod" in policies.ok("get", "np", "-a")


def test_namespace_flag_lists_that_namespace_with_column(policies: Ctl) -> None:
    rows = [line.split() for line in policies.ok("get", "pol", "-n", "prod").splitlines() if line]
    assert rows == [["NAMESPACE", "NAME", "TIER"], ["prod", "b", "default"]]


def test_named_namespaced_get(policies: Ctl) -> None:
    doc = yaml.safe_load(policies.ok("get", "policy", "b", "-n", "prod", "-o", "yaml"))
    assert doc["metadata"]["namespace"] == "prod"


def test_named_get_with_all_namespaces_is_refused(policies: Ctl) -> None:
    result = policies.fails("get", "policy", "b", "-A")
    assert result.stderr == "cannot use --all-namespace flag for getting a single resource\n"


def test_namespace_and_all_namespaces_together(policies: Ctl) -> None:
    result = policies.fails("get", "policy", "-A", "-n", "prod")
    assert result.stderr == (
        "cannot use both --namespace and --all-namespaces flags at the same time\n"
    )


def test_all_namespaces_on_cluster_kind(pools: Ctl) -> None:
    assert pools.fails("get", "ippool", "-A").stderr == "IPPool is not namespaced\n"


# -- errors -------------------------------------------------------------------
def test_unknown_kind(ctl: Ctl) -> None:
    result = ctl.fails("get", "somekind", "somename")
    assert result.stderr == "failed to get resources: resource type 'somekind' is not supported\n"


def test_empty_name(ctl: Ctl) -> None:
    result = ctl.fails("get", "policy", "x", "")
    assert result.stderr == "failed to get resources: resource name may not be empty\n"


def test_get_needs_a_kind(ctl: Ctl) -> None:
    assert ctl("get").exit_code == 2


def test_get_from_file(pools: Ctl) -> None:
    out = pools.ok("get", "-f", "-", "-o", "yaml", stdin=POOL2)
    assert yaml.safe_load(out)["metadata"]["name"] == "ippool-name2"


def test_nothing_found_prints_only_errors(ctl: Ctl) -> None:
    result = ctl.fails("get", "ippool", "a", "b", "-o", "yaml")
    assert result.stdout == ""
    assert result.stderr.count("resource does not exist") == 2
