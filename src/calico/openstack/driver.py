"""``CalicoMechanismDriver``: the Neutron ML2 mechanism driver for Calico.

Registered in neutron-server as ML2 mechanism driver ``calico``
(entry point ``neutron.ml2.mechanism_drivers: calico =
calico.openstack.driver:CalicoMechanismDriver``), it turns Neutron's model
into Calico's, through the datastore only:

- ports bind on hosts whose Felix is alive, networks of type ``local`` or
  ``flat`` only, as ``vif_type: tap`` (Nova creates the tap; Felix routes
  to it; there is no L2 between hosts);
- VM ports become WorkloadEndpoints (``endpoints.py``);
- security groups become NetworkPolicies (``policy.py``);
- subnets with DHCP become DHCP subnet keys for ``calico-dhcp-agent``
  (``subnets.py``);
- Felix's endpoint status becomes port status (``status.py``), once
  :meth:`run_status_watcher` runs somewhere (one thread in one neutron-server
  process; several would only repeat the same updates).

Security groups are not ML2 resources, so ML2 never calls a driver about
them.  :meth:`initialize` subscribes to Neutron's callback registry for
security-group and rule events (AFTER_CREATE/UPDATE/DELETE); the plain
methods :meth:`security_group_updated`, :meth:`security_group_deleted` and
:meth:`security_group_rule_changed` do the work and may be called directly
(a core plugin such as networking-calico's ``CalicoPlugin`` would).

Configuration (environment of neutron-server): the datastore as calicoctl
finds it (``CALICO_DATASTORE_CONFIG`` file, ``/etc/calico/calicoctl.cfg``,
or ``DATASTORE_TYPE``/``CALICO_SQLITE_PATH``/``ETCD_*``) and the region
``CALICO_OPENSTACK_REGION`` (Felix's ``OpenstackRegion``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api

from calico.client import Client
from calico.datastore import Datastore
from calico.datastore.config import DatastoreConfig, load_config, open_datastore
from calico.errors import NotFoundError
from calico.openstack import _sg_events, cluster, endpoints, policy, region, status, subnets
from calico.openstack.neutron import NeutronLookup, PluginLookup

_log = logging.getLogger(__name__)

AGENT_TYPE_FELIX = "Calico per-host agent (felix)"
SUPPORTED_NETWORK_TYPES = ("local", "flat")
# Used when the port's MAC cannot be read; networking-calico's historical value.
DEFAULT_TAP_MAC = "00:61:fe:ed:ca:fe"
_UNBOUND = (portbindings.VIF_TYPE_UNBOUND, portbindings.VIF_TYPE_BINDING_FAILED)
_STATUS_ONLY_FIELDS = ("status", "updated_at", "revision_number")


def tap_mac(port_mac: str | None) -> str:
    """The host-side tap MAC for a VM MAC: first octet replaced by ``fe``.

    That is what libvirt before 9.5 set on every tap; with ``managed="no"``
    newer libvirt leaves the MAC to whoever made the tap (Nova, from these
    vif_details), so keeping the old derivation keeps a VM's ARP cache valid
    across a live migration between the two.
    """
    parts = (port_mac or "").split(":")
    if len(parts) != 6 or any(len(p) != 2 for p in parts):
        return DEFAULT_TAP_MAC
    return ":".join(["fe", *parts[1:]])


def vif_details(port: Mapping[str, Any]) -> dict[str, Any]:
    return {portbindings.CAP_PORT_FILTER: True, "mac_address": tap_mac(port.get("mac_address"))}


class CalicoMechanismDriver(api.MechanismDriver):  # type: ignore[misc]
    """Neutron ML2 mechanism driver writing Calico's datastore.

    Neutron constructs it without arguments and calls :meth:`initialize`;
    tests pass a datastore and a :class:`NeutronLookup` instead.
    """

    def __init__(
        self,
        *,
        datastore: Datastore | None = None,
        lookup: NeutronLookup | None = None,
        openstack_region: str | None = None,
        felix_max_age: float = status.DEFAULT_FELIX_MAX_AGE,
    ) -> None:
        self._datastore = datastore
        self._config: DatastoreConfig | None = None  # set when we open the datastore
        self._owner_pid = os.getpid()
        self._lookup: NeutronLookup = lookup or PluginLookup()
        self._region_name = openstack_region
        self.felix_max_age = felix_max_age
        self.region_str = region.NO_REGION
        self.namespace = region.NO_REGION_NAMESPACE
        self._watcher: status.StatusWatcher | None = None

    # -- lifecycle ---------------------------------------------------------

    def initialize(self) -> None:
        """Open the datastore, write the cluster settings OpenStack needs
        (``cluster.py``) and subscribe to security-group events."""
        name = self._region_name
        if name is None:
            name = os.environ.get("CALICO_OPENSTACK_REGION", "").strip()
        self.region_str = region.region_string(name)
        self.namespace = region.namespace(self.region_str)
        if self._datastore is None:
            self._config = load_config(os.environ.get("CALICO_DATASTORE_CONFIG") or None)
        cluster.provide_cluster_config(self.client)
        if self._config is not None and self._datastore is not None:
            # neutron-server forks its workers after initialize(): leave them no
            # connection to inherit (see ``datastore``).
            self._datastore.close()
            self._datastore = None
        _sg_events.subscribe(self)
        _log.info("Calico mechanism driver ready (region %s)", self.region_str)

    def close(self) -> None:
        """Unsubscribe, stop the status watcher and close the datastore."""
        _sg_events.unsubscribe(self)
        self.stop_status_watcher()
        if self._datastore is not None:
            self._datastore.close()

    @property
    def datastore(self) -> Datastore:
        """The datastore, opened in this process.

        neutron-server calls :meth:`initialize` and then forks its workers; a
        sqlite connection (or an HTTP session) must not be shared across a
        fork, so a forked worker opens its own on first use.
        """
        forked = self._owner_pid != os.getpid()
        if self._config is not None and (self._datastore is None or forked):
            self._datastore = open_datastore(self._config)
            self._owner_pid = os.getpid()
        if self._datastore is None:
            raise RuntimeError("CalicoMechanismDriver used before initialize()")
        return self._datastore

    @property
    def client(self) -> Client:
        return Client(self.datastore)

    # -- binding -----------------------------------------------------------

    def felix_alive(self, host: str) -> bool:
        return status.felix_is_alive(
            self.datastore, self.region_str, host, max_age=self.felix_max_age
        )

    def bind_port(self, context: api.PortContext) -> None:
        """Bind to the first local or flat segment, if ``context.host``'s Felix is alive.

        Not binding (returning without ``set_binding``) lets Neutron try other
        drivers, then fail the binding: the right outcome on a host where
        nothing would program the VM's network.
        """
        port = context.current
        vnic_type = port.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL)
        if vnic_type != portbindings.VNIC_NORMAL:
            _log.info("Not binding port %s: vnic_type %s", port.get("id"), vnic_type)
            return
        if not context.host or not self.felix_alive(context.host):
            _log.warning("Not binding port %s: no live Felix on %r", port.get("id"), context.host)
            return
        for segment in context.segments_to_bind or ():
            if segment[api.NETWORK_TYPE] in SUPPORTED_NETWORK_TYPES:
                context.set_binding(
                    segment[api.ID], portbindings.VIF_TYPE_TAP, vif_details(port), status=None
                )
                return
            _log.info("Calico cannot bind network type %s", segment[api.NETWORK_TYPE])

    # -- ports ---------------------------------------------------------------

    def create_port_postcommit(self, context: api.PortContext) -> None:
        self._sync_port(context.current, None, _network_name(context))

    def update_port_postcommit(self, context: api.PortContext) -> None:
        port, original = context.current, context.original or {}
        if _only_status_changed(port, original):
            return  # our own status write coming back (or Nova's)
        self._sync_port(port, original, _network_name(context))

    def delete_port_postcommit(self, context: api.PortContext) -> None:
        port = context.current
        if endpoints.is_endpoint_port(port) and port.get("binding:host_id"):
            self._delete_endpoint(port, port["binding:host_id"])

    def _sync_port(
        self, port: Mapping[str, Any], original: Mapping[str, Any] | None, network: str | None
    ) -> None:
        """Write (or remove) the port's endpoint.  A port Calico cannot represent
        raises ValidationError: Neutron then fails the operation, rather than
        leaving a VM silently without a network."""
        if not endpoints.is_endpoint_port(port):
            return
        host = port.get("binding:host_id") or ""
        old_host = (original or {}).get("binding:host_id") or ""
        if old_host and old_host != host:
            self._delete_endpoint(port, old_host)  # moved (cold migration) or unbound
        if not host:
            return
        if port.get("binding:vif_type") in _UNBOUND:
            self._delete_endpoint(port, host)
            return
        wep = endpoints.workload_endpoint(port, self._port_extra(port, network), self.namespace)
        self.client.apply(wep)

    def _delete_endpoint(self, port: Mapping[str, Any], host: str) -> None:
        name = endpoints.endpoint_name(port, host)
        try:
            self.client.delete("WorkloadEndpoint", name, self.namespace)
        except NotFoundError:
            pass

    def _port_extra(self, port: Mapping[str, Any], network: str | None) -> endpoints.PortExtra:
        gateways: dict[str, str | None] = {}
        for fixed in port.get("fixed_ips") or ():
            subnet = self._lookup.get_subnet(fixed["subnet_id"])
            gateways[fixed["subnet_id"]] = subnet.get("gateway_ip") if subnet else None
        sg_ids = list(port.get("security_groups") or ())
        names = {sg["id"]: sg.get("name") or "" for sg in self._lookup.get_security_groups(sg_ids)}
        project_id = port.get("project_id") or port.get("tenant_id")
        project = self._lookup.get_project(project_id) if project_id else None
        return endpoints.PortExtra(
            subnet_gateways=gateways,
            sg_names=names,
            network_name=network,
            project_name=project[0] if project else None,
            project_parent_id=project[1] if project else None,
        )

    # -- subnets -------------------------------------------------------------

    def create_subnet_postcommit(self, context: api.SubnetContext) -> None:
        subnets.sync_subnet(self.datastore, self.region_str, context.current)

    def update_subnet_postcommit(self, context: api.SubnetContext) -> None:
        subnets.sync_subnet(self.datastore, self.region_str, context.current)

    def delete_subnet_postcommit(self, context: api.SubnetContext) -> None:
        subnets.delete_subnet(self.datastore, self.region_str, context.current["id"])

    # -- security groups -------------------------------------------------------

    def security_group_updated(self, sg: Mapping[str, Any]) -> None:
        """Write the policy of ``sg`` (a Neutron SG dict with ``security_group_rules``)."""
        rules = sg.get("security_group_rules")
        if rules is None:
            self.security_group_rule_changed(sg["id"])
            return
        self._write_policy(sg["id"], rules)

    def security_group_deleted(self, sg_id: str) -> None:
        try:
            self.client.delete("NetworkPolicy", policy.policy_name(sg_id), self.namespace)
        except NotFoundError:
            pass

    def security_group_rule_changed(self, sg_id: str) -> None:
        """Rewrite ``sg_id``'s policy from Neutron's current rules (or delete it)."""
        rules = self._lookup.get_security_group_rules(sg_id)
        if rules is None:
            self.security_group_deleted(sg_id)
        else:
            self._write_policy(sg_id, rules)

    def security_groups_updated(self, sg_ids: Sequence[str]) -> None:
        for sg_id in sg_ids:
            self.security_group_rule_changed(sg_id)

    def _write_policy(self, sg_id: str, rules: Sequence[Mapping[str, Any]]) -> None:
        self.client.apply(policy.network_policy(sg_id, rules, self.namespace))

    # -- status from Felix -------------------------------------------------------

    def run_status_watcher(self) -> None:
        """Follow Felix's status reports until :meth:`stop_status_watcher` (blocks)."""
        self._watcher = status.StatusWatcher(self.datastore, self.region_str, self)
        self._watcher.run()

    def stop_status_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()

    def on_felix_alive(self, host: str, first_update: bool) -> None:
        _log.debug("Felix on %s is alive%s", host, " (just started)" if first_update else "")

    def on_port_status(self, host: str, port_id: str, port_status: str) -> None:
        self._lookup.update_port_status(port_id, port_status, host)


def _network_name(context: api.PortContext) -> str | None:
    network = context.network
    current = network.current if network is not None else None
    return current.get("name") if current else None


def _only_status_changed(port: Mapping[str, Any], original: Mapping[str, Any]) -> bool:
    def strip(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k not in _STATUS_ONLY_FIELDS}

    return bool(original) and strip(port) == strip(original)
