"""Region strings, namespaces and the OpenStack key paths."""

from __future__ import annotations

import pytest

from calico.errors import ConfigError
from calico.openstack import region


@pytest.mark.parametrize(
    ("name", "region_str", "namespace"),
    [
        (None, "no-region", "openstack"),
        ("", "no-region", "openstack"),
        ("r1", "region-r1", "openstack-region-r1"),
        ("us-east-2", "region-us-east-2", "openstack-region-us-east-2"),
    ],
)
def test_region_and_namespace(name: str | None, region_str: str, namespace: str) -> None:
    assert region.region_string(name) == region_str
    assert region.namespace(region_str) == namespace


@pytest.mark.parametrize("bad", ["R1", "-a", "a-", "a_b", "x" * 47])
def test_bad_region_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="OpenStack region"):
        region.region_string(bad)


def test_key_paths() -> None:
    assert region.felix_status_key("no-region", "h1") == "/calico/felix/v2/no-region/host/h1/status"
    assert (
        region.endpoint_status_key("region-r", "h1", "vm", "p1")
        == "/calico/felix/v2/region-r/host/h1/workload/openstack/vm/endpoint/p1"
    )
    assert region.subnet_key("no-region", "s1") == "/calico/dhcp/v2/no-region/subnet/s1"
