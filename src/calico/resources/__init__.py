"""The ``projectcalico.org/v3`` resource model.

Pydantic models for every Calico kind with Calico's exact camelCase field
names, strict decoding (unknown fields rejected), Calico's defaults applied
on parse, and Calico's validation rules; plus the kind registry calicoctl
uses (accepted names, table columns) and the YAML/JSON document loader.

Typical use::

    resources = parse_documents(open(path).read(), source=path)
    pool = parse_resource({"apiVersion": API_VERSION, "kind": "IPPool",
                           "metadata": {"name": "p1"}, "spec": {"cidr": "10.0.0.0/16"}})
    pool.spec.block_size  # 26, Calico's default
    pool.to_dict()        # JSON-ready, round-trips through parse_resource

Every error is a :class:`calico.errors.ValidationError` naming the resource,
the field path and the value.  Models are not re-validated on attribute
assignment; build a changed resource with ``parse_resource`` (or the model
constructor) to validate it.
"""

from calico.resources._columns import Column, go_value, join, node_asn
from calico.resources._meta import ObjectMeta
from calico.resources._net import is_strictly_masked, normalise_cidr, split_peer_ip
from calico.resources._numorstring import (
    PROTOCOL_NUMBERS,
    port_range,
    protocol_number,
    protocol_supports_ports,
)
from calico.resources._resource import API_VERSION, Resource, resource_label
from calico.resources._rules import (
    EntityRule,
    HTTPMatch,
    HTTPPath,
    ICMPFields,
    Rule,
    RuleMetadata,
    ServiceAccountMatch,
    ServiceMatch,
)
from calico.resources.bgp import (
    BGPConfiguration,
    BGPConfigurationSpec,
    BGPPassword,
    BGPPeer,
    BGPPeerSpec,
    Community,
    PrefixAdvertisement,
    SecretKeySelector,
    ServiceIPBlock,
)
from calico.resources.clusterinfo import ClusterInformation, ClusterInformationSpec
from calico.resources.endpoints import (
    IPNAT,
    EndpointPort,
    HostEndpoint,
    HostEndpointSpec,
    QoSControls,
    WorkloadEndpoint,
    WorkloadEndpointPort,
    WorkloadEndpointSpec,
    workload_endpoint_name,
)
from calico.resources.felixconfig import FelixConfiguration, FelixConfigurationSpec
from calico.resources.ipam import (
    IPAMConfiguration,
    IPAMConfigurationSpec,
    IPReservation,
    IPReservationSpec,
)
from calico.resources.ippool import IPPool, IPPoolSpec
from calico.resources.loader import load_documents, parse_documents
from calico.resources.networkset import (
    GlobalNetworkSet,
    GlobalNetworkSetSpec,
    NetworkSet,
    NetworkSetSpec,
)
from calico.resources.node import (
    Node,
    NodeAddress,
    NodeBGPSpec,
    NodeSpec,
    NodeStatus,
    NodeWireguardSpec,
    OrchRef,
)
from calico.resources.policy import (
    DEFAULT_TIER,
    TIER_LABEL,
    GlobalNetworkPolicy,
    GlobalNetworkPolicySpec,
    NetworkPolicy,
    NetworkPolicySpec,
    policy_types_default,
)
from calico.resources.profile import Profile, ProfileSpec
from calico.resources.registry import KindInfo, all_kinds, kind_info, parse_resource
from calico.resources.tier import Tier, TierSpec

__all__ = [
    "API_VERSION",
    "DEFAULT_TIER",
    "IPNAT",
    "PROTOCOL_NUMBERS",
    "TIER_LABEL",
    "BGPConfiguration",
    "BGPConfigurationSpec",
    "BGPPassword",
    "BGPPeer",
    "BGPPeerSpec",
    "ClusterInformation",
    "ClusterInformationSpec",
    "Column",
    "Community",
    "EndpointPort",
    "EntityRule",
    "FelixConfiguration",
    "FelixConfigurationSpec",
    "GlobalNetworkPolicy",
    "GlobalNetworkPolicySpec",
    "GlobalNetworkSet",
    "GlobalNetworkSetSpec",
    "HTTPMatch",
    "HTTPPath",
    "HostEndpoint",
    "HostEndpointSpec",
    "ICMPFields",
    "IPAMConfiguration",
    "IPAMConfigurationSpec",
    "IPPool",
    "IPPoolSpec",
    "IPReservation",
    "IPReservationSpec",
    "KindInfo",
    "NetworkPolicy",
    "NetworkPolicySpec",
    "NetworkSet",
    "NetworkSetSpec",
    "Node",
    "NodeAddress",
    "NodeBGPSpec",
    "NodeSpec",
    "NodeStatus",
    "NodeWireguardSpec",
    "ObjectMeta",
    "OrchRef",
    "PrefixAdvertisement",
    "Profile",
    "ProfileSpec",
    "QoSControls",
    "Resource",
    "Rule",
    "RuleMetadata",
    "SecretKeySelector",
    "ServiceAccountMatch",
    "ServiceIPBlock",
    "ServiceMatch",
    "Tier",
    "TierSpec",
    "WorkloadEndpoint",
    "WorkloadEndpointPort",
    "WorkloadEndpointSpec",
    "all_kinds",
    "go_value",
    "is_strictly_masked",
    "join",
    "kind_info",
    "load_documents",
    "node_asn",
    "normalise_cidr",
    "parse_documents",
    "parse_resource",
    "policy_types_default",
    "port_range",
    "protocol_number",
    "protocol_supports_ports",
    "resource_label",
    "split_peer_ip",
    "workload_endpoint_name",
]
