"""Neutron subnets as DHCP subnet keys (networking-calico ``subnets.py``).

The DHCP agents do not talk to Neutron (at scale its RPC is the bottleneck);
what they need to know about a subnet travels through the datastore instead:
for every subnet with ``enable_dhcp``, the key
``/calico/dhcp/v2/<region>/subnet/<subnet id>`` holds::

    {"network_id": ..., "cidr": "10.65.0.0/24", "gateway_ip": "10.65.0.1",
     "host_routes": [{"destination": ..., "nexthop": ...}],
     "dns_servers": [...],                        # only when there are some
     "ipv6_ra_mode": ..., "ipv6_address_mode": ...}  # only when both are set

A subnet without DHCP (or deleted) has no key.  These are plain keys, not
v3 resources, so they are written straight to the datastore.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from calico.datastore import Datastore
from calico.errors import NotFoundError
from calico.openstack.region import subnet_key

Subnet = Mapping[str, Any]


def subnet_data(subnet: Subnet) -> dict[str, Any] | None:
    """The DHCP key's value for ``subnet``; None when DHCP is off for it."""
    if not subnet.get("enable_dhcp"):
        return None
    data: dict[str, Any] = {
        "network_id": subnet["network_id"],
        # Normalised as netaddr prints it (host bits kept, as Neutron stores it).
        "cidr": str(ipaddress.ip_interface(subnet["cidr"])),
        "host_routes": [dict(route) for route in subnet.get("host_routes") or ()],
        "gateway_ip": subnet.get("gateway_ip"),
    }
    if subnet.get("dns_nameservers"):
        data["dns_servers"] = list(subnet["dns_nameservers"])
    if subnet.get("ipv6_ra_mode") and subnet.get("ipv6_address_mode"):
        data["ipv6_ra_mode"] = subnet["ipv6_ra_mode"]
        data["ipv6_address_mode"] = subnet["ipv6_address_mode"]
    return data


def sync_subnet(datastore: Datastore, region_str: str, subnet: Subnet) -> None:
    """Make the subnet's key match ``subnet``: written with DHCP on, removed without."""
    data = subnet_data(subnet)
    if data is None:
        delete_subnet(datastore, region_str, subnet["id"])
        return
    value = json.dumps(data, sort_keys=True, separators=(",", ":"))
    key = subnet_key(region_str, subnet["id"])
    current = datastore.get(key)
    if current is None or current.value != value:
        # Unconditional: ``subnet`` is Neutron's committed state, newer than
        # whatever the key holds.
        datastore.put(key, value)


def delete_subnet(datastore: Datastore, region_str: str, subnet_id: str) -> None:
    try:
        datastore.delete(subnet_key(region_str, subnet_id))
    except NotFoundError:
        pass  # already gone: the outcome we want
