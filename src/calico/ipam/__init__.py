"""Block-based IP address management with Calico's datastore layout.

Each pool is cut into blocks (/26 for IPv4, /122 for IPv6 by default); a host
claims blocks ("affinity"), hands out /32s (/128s) from them and advertises
each block as one route.  Allocations are indexed by *handle* (one per
workload) so that they can be released together.  All state lives in the
datastore under ``/calico/ipam/v2/`` with Calico's exact keys and JSON, and
every write is compare-and-swap: many hosts and processes allocate at once
without locks (REFERENCE.md section 6).

    >>> ipam = IPAMClient(datastore)
    >>> v4, v6 = ipam.auto_assign(1, 0, "k8s-pod-network.abc", {"node": "n1"}, "n1")
    >>> v4
    ['10.65.0.5/26']
    >>> ipam.release_by_handle("k8s-pod-network.abc")
    1

Modules: ``keys`` (key layout), ``block`` (the block and its pure operations),
``blockgen`` (per-host block walk order), ``reserved`` (IPReservations),
``pools`` (pools, nodes, config from the v3 resources), ``store`` (CAS reads
and writes), ``affinity`` (claiming and releasing blocks), ``assign``,
``release``, ``utilization``, ``check`` (``calicoctl ipam check``), ``report``
(calicoctl's text output).
"""

from calico.ipam.block import AllocationAttribute, AllocationBlock, ReleaseOptions
from calico.ipam.ipam import IPAMClient
from calico.ipam.pools import IPAMConfig, IPPool
from calico.ipam.utilization import BlockUtilization, BorrowedIP, PoolUtilization

__all__ = [
    "AllocationAttribute",
    "AllocationBlock",
    "BlockUtilization",
    "BorrowedIP",
    "IPAMClient",
    "IPAMConfig",
    "IPPool",
    "PoolUtilization",
    "ReleaseOptions",
]
