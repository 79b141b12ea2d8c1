"""Felix's Linux dataplane: managers, drivers and the apply loop.

Public API:

* :class:`InternalDataplane` (``driver``): consumes calc-graph messages and
  programs the kernel, with :class:`ApplyReport` and
  :class:`FatalDataplaneError`; :class:`DataplaneLoop` (``loop``) runs it
  on its own thread behind a queue;
* :class:`DataplaneConfig` / :class:`Encapsulation` / :func:`encapsulation`
  (``config``): what it needs from FelixConfig and the IP pools;
* the kernel seams: :class:`Netlink` (``netlink``; real: ``pyroute``
  ``PyrouteNetlink`` + ``LinkMonitor``; fake: ``fakes.FakeNetlink``) and
  :class:`ProcSys` (``procsys``; fake: ``fakes.FakeProcSys``); iptables and
  ipset run through :mod:`calico.felix.iptables`' ``CommandRunner``.

Module map: one manager per concern -- ``ipsets_mgr``, ``policy_mgr``,
``endpoint_mgr`` (+ ``ifaceconf`` sysctls), ``hostep_mgr``, ``masq_mgr``,
``vxlan_mgr``, ``ipip_mgr`` (+ ``clusterroutes``) -- over the drivers
``tables`` (iptables), :mod:`calico.felix.ipsets` and ``routetable``;
``schedule`` decides when to apply.  ``pyroute`` is imported only by the
daemon, so unit tests of the rest need no netlink socket.
"""

from calico.felix.dataplane.config import (
    DataplaneConfig,
    Encapsulation,
    encapsulation,
    rules_config,
)
from calico.felix.dataplane.driver import (
    ApplyReport,
    EndpointKey,
    FatalDataplaneError,
    InternalDataplane,
)
from calico.felix.dataplane.loop import DataplaneLoop
from calico.felix.dataplane.netlink import Netlink, NetlinkError
from calico.felix.dataplane.procsys import ProcSys

__all__ = [
    "ApplyReport",
    "DataplaneConfig",
    "DataplaneLoop",
    "Encapsulation",
    "EndpointKey",
    "FatalDataplaneError",
    "InternalDataplane",
    "Netlink",
    "NetlinkError",
    "ProcSys",
    "encapsulation",
    "rules_config",
]
