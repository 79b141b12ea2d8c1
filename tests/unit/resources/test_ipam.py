"""IPReservation and IPAMConfiguration."""

from __future__ import annotations

from typing import Any

import pytest

from calico.resources import IPAMConfiguration

from .helpers import doc, parse, rejects, roundtrip


@pytest.mark.parametrize(
    ("cidrs", "expected"),
    [
        (["10.0.0.1"], ["10.0.0.1/32"]),
        (["10.0.1.0/24"], ["10.0.1.0/24"]),
        (["10.0.1.0/24", "192.168.0.34"], ["10.0.1.0/24", "192.168.0.34/32"]),
        (
            ["10.0.0.1", "cafe::1", "cafe:f00d::/96"],
            ["10.0.0.1/32", "cafe::1/128", "cafe:f00d::/96"],
        ),
    ],
)
def test_reservation(cidrs: list[str], expected: list[str]) -> None:
    reservation = parse("IPReservation", {"reservedCIDRs": cidrs}, name="ip-reservation.name")
    assert reservation.to_dict()["spec"]["reservedCIDRs"] == expected
    roundtrip(reservation)


@pytest.mark.parametrize("cidr", ["garbage", "10.0.1.0/33"])
def test_bad_reservation(cidr: str) -> None:
    rejects(doc("IPReservation", {"reservedCIDRs": [cidr]}), "spec.reservedCIDRs[0]", "CIDR")


def test_ipam_configuration_defaults() -> None:
    config = parse("IPAMConfiguration", None, name="default")
    assert isinstance(config, IPAMConfiguration)
    assert config.spec.strict_affinity is False
    assert config.spec.auto_allocate_blocks is True
    assert config.spec.max_blocks_per_host == 0
    # strictAffinity and autoAllocateBlocks have no omitempty in Go.
    assert config.to_dict()["spec"] == {"strictAffinity": False, "autoAllocateBlocks": True}
    roundtrip(config)


@pytest.mark.parametrize(
    "spec",
    [
        {"strictAffinity": True, "maxBlocksPerHost": 4},
        {"strictAffinity": True, "autoAllocateBlocks": False},
        {"ipCooldownSeconds": 1200, "kubeVirtVMAddressPersistence": "Disabled"},
    ],
)
def test_valid_ipam_configuration(spec: dict[str, Any]) -> None:
    roundtrip(parse("IPAMConfiguration", spec, name="default"), written=spec)


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"maxBlocksPerHost": 4}, "spec.maxBlocksPerHost", "requires strictAffinity"),
        ({"autoAllocateBlocks": False}, "spec.autoAllocateBlocks", "cannot both be disabled"),
        ({"maxBlocksPerHost": -1}, "spec.maxBlocksPerHost", ">= 0"),
        ({"ipCooldownSeconds": 1201}, "spec.ipCooldownSeconds", "<= 1200"),
        ({"kubeVirtVMAddressPersistence": "On"}, "spec.kubeVirtVMAddressPersistence", "must be"),
    ],
)
def test_invalid_ipam_configuration(spec: dict[str, Any], field: str, message: str) -> None:
    rejects(doc("IPAMConfiguration", spec, name="default"), field, message)


def test_ipam_configuration_is_a_singleton() -> None:
    rejects(doc("IPAMConfiguration", {}, name="other"), "metadata.name", "must be 'default'")
