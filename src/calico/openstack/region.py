"""OpenStack regions: the region string in keys, the namespace, and the key paths.

networking-calico (``common/config.py``, ``datamodel_v2.py``, ``datamodel_v3``)
lets several OpenStack regions share one Calico datastore.  A region name
``r`` (a DNS label) becomes:

- the *region string* ``region-r`` (``no-region`` when none is configured),
  a path segment of every OpenStack-only key: Felix status under
  ``/calico/felix/v2/<rs>/host/...`` and DHCP subnets under
  ``/calico/dhcp/v2/<rs>/subnet/...``;
- the *namespace* ``openstack-region-r`` (``openstack`` when none), in which
  the driver writes WorkloadEndpoints and security-group NetworkPolicies.

Felix reads the same region from its ``OpenstackRegion`` parameter, so both
sides must be configured alike.
"""

from __future__ import annotations

import re

from calico.errors import ConfigError

NO_REGION = "no-region"
REGION_PREFIX = "region-"
NO_REGION_NAMESPACE = "openstack"
REGION_NAMESPACE_PREFIX = "openstack-"
ORCHESTRATOR = "openstack"

# The namespace "openstack-region-<r>" must itself be a DNS label (63 chars).
MAX_REGION_LEN = 63 - len(REGION_NAMESPACE_PREFIX + REGION_PREFIX)
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def region_string(region: str | None) -> str:
    """``region-<r>`` for a configured region, ``no-region`` for none (or empty)."""
    if not region:
        return NO_REGION
    if len(region) > MAX_REGION_LEN or not _DNS_LABEL.fullmatch(region):
        raise ConfigError(
            f"OpenStack region must be a DNS label of at most {MAX_REGION_LEN} characters "
            f"(value {region!r})"
        )
    return REGION_PREFIX + region


def namespace(region_str: str) -> str:
    """The namespace of OpenStack WorkloadEndpoints and policies for a region string."""
    if region_str == NO_REGION:
        return NO_REGION_NAMESPACE
    return REGION_NAMESPACE_PREFIX + region_str


def felix_status_dir(region_str: str) -> str:
    """Prefix of every Felix status key of the region (agent and endpoints)."""
    return f"/calico/felix/v2/{region_str}/host/"


def felix_status_key(region_str: str, host: str) -> str:
    """Felix's liveness report for ``host`` (written with a TTL)."""
    return f"{felix_status_dir(region_str)}{host}/status"


def endpoint_status_key(region_str: str, host: str, workload: str, endpoint: str) -> str:
    """Felix's status report for one OpenStack endpoint (port)."""
    return (
        f"{felix_status_dir(region_str)}{host}/workload/{ORCHESTRATOR}/{workload}"
        f"/endpoint/{endpoint}"
    )


def subnet_dir(region_str: str) -> str:
    """Prefix of the DHCP agent's subnet keys."""
    return f"/calico/dhcp/v2/{region_str}/subnet/"


def subnet_key(region_str: str, subnet_id: str) -> str:
    return subnet_dir(region_str) + subnet_id
