"""FelixConfiguration: cluster-wide (``default``) or per-node Felix settings.

Sources: api ``felixconfig.go``, libcalico-go clientv3 ``felixconfig.go``
(``setDefaults``: floatingIPs Disabled, BPF connect-time load balancing TCP,
host-networked NAT Enabled, and the deprecated
``bpfConnectTimeLoadBalancingEnabled`` overriding both), the CRD defaults
(nftablesMode Auto, nftablesFlowTableOffload Disabled) and
``validateFelixConfigSpec``.  Per-node configurations are named
``node.<nodename>``.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from calico.resources import _names
from calico.resources._base import fail, join_path
from calico.resources._felix_fields import FelixConfigurationFields
from calico.resources._felix_types import ROUTE_TABLES_MAX
from calico.resources._numorstring import port_range
from calico.resources._resource import Resource

DEFAULT_NAME = "default"
NODE_PREFIX = "node."
# An OpenStack region becomes part of a namespace name "openstack-region-<r>".
_REGION_MAX = _names.LABEL_MAX - len("openstack-region-")


class FelixConfigurationSpec(FelixConfigurationFields):
    @model_validator(mode="after")
    def _defaults_and_rules(self) -> Self:
        self._apply_defaults()
        self._check_region()
        self._check_route_tables()
        for index, port in enumerate(self.kube_node_port_ranges or []):
            if port_range(port) is None:
                fail(
                    "node port ranges must not contain named ports",
                    at=join_path("kubeNodePortRanges", index),
                    value=port,
                )
        single: dict[str, int | str | None] = {
            "natPortRange": self.nat_port_range,
            "bpfPSNATPorts": self.bpf_psnat_ports,
        }
        for alias, value in single.items():
            if value is not None and port_range(value) is None:
                fail("must be a port or port range, not a name", at=alias, value=value)
        return self

    def _apply_defaults(self) -> None:
        self.floating_ips = self.floating_ips or "Disabled"
        self.bpf_connect_time_load_balancing = self.bpf_connect_time_load_balancing or "TCP"
        self.bpf_host_networked_nat_without_ctlb = (
            self.bpf_host_networked_nat_without_ctlb or "Enabled"
        )
        if self.bpf_connect_time_load_balancing_enabled is not None:
            # The deprecated boolean wins, as in Calico's clientv3.
            self.bpf_host_networked_nat_without_ctlb = "Disabled"
            enabled = self.bpf_connect_time_load_balancing_enabled
            self.bpf_connect_time_load_balancing = "Enabled" if enabled else "Disabled"
        self.nftables_mode = self.nftables_mode or "Auto"
        self.nftables_flow_table_offload = self.nftables_flow_table_offload or "Disabled"

    def _check_region(self) -> None:
        region = self.openstack_region
        if len(region) > _REGION_MAX:
            fail(
                f"openstackRegion must be at most {_REGION_MAX} characters",
                at="openstackRegion",
                value=region,
            )
        if region and _names.label_problem(region):
            fail("openstackRegion must be a valid DNS label", at="openstackRegion", value=region)

    def _check_route_tables(self) -> None:
        if self.route_table_range is not None and self.route_table_ranges is not None:
            fail("routeTableRange and routeTableRanges cannot both be set", at="routeTableRanges")
        tables = sum(r.max - r.min + 1 for r in self.route_table_ranges or [])
        if tables > ROUTE_TABLES_MAX:
            fail(
                f"routeTableRanges targets too many tables ({tables} > {ROUTE_TABLES_MAX})",
                at="routeTableRanges",
            )


class FelixConfiguration(Resource):
    kind: Literal["FelixConfiguration"] = "FelixConfiguration"
    spec: FelixConfigurationSpec = Field(default_factory=FelixConfigurationSpec)

    def _complete(self) -> None:
        # The global and per-node configurations apply by name, not selector.
        is_fixed = self.name == DEFAULT_NAME or self.name.startswith(NODE_PREFIX)
        if is_fixed and self.spec.node_selector is not None:
            fail(
                "nodeSelector must not be set on the 'default' or per-node ('node.*') "
                "FelixConfiguration",
                at="spec.nodeSelector",
            )
