"""OpenStack integration: the Neutron ML2 mechanism driver and the DHCP agent.

Server side (neutron-server, needs ``neutron-lib``; the ``openstack`` extra):

- ``driver``: ``CalicoMechanismDriver``, binding ports as ``vif_type: tap``
  and writing the datastore from ML2 postcommit hooks and security-group
  callbacks (``_sg_events``), through the ``neutron`` lookup seam;
- ``endpoints``: Neutron port -> WorkloadEndpoint;
- ``policy``: security group -> NetworkPolicy ``ossg.default.<id>``;
- ``subnets``: subnet -> DHCP subnet key;
- ``status``: Felix liveness and endpoint status -> Neutron port status;
- ``cluster``: the ClusterInformation / FelixConfiguration settings OpenStack
  needs (``clusterType`` openstack, ``tap`` interfaces, endpoint reporting).

Compute-host side (no Neutron needed):

- ``dhcp_agent``: ``calico-dhcp-agent``, following this host's endpoints and
  the subnet keys; ``dhcp_model`` (what to serve), ``dhcp_iface`` (the
  gateway-holding interface), ``dnsmasq`` (rendering and the child process).

Shared: ``region`` (region string, namespace, key paths), ``labels`` (label
and annotation names), ``_follow`` (list-then-watch of one prefix).
"""
