"""Felix's iptables driver: desired chains in, minimal iptables-restore out.

Public API: :class:`Table` (one per table and IP version) and its
:class:`ApplyStats`; the command seam :class:`CommandRunner` with
:class:`SubprocessRunner` (real, optionally inside a network namespace) and
:class:`FakeRunner`; in-memory kernels for tests in :mod:`.fakes`.
"""

from calico.felix.iptables.cmd import (
    CommandResult,
    CommandRunner,
    FakeRunner,
    SubprocessRunner,
    run_checked,
)
from calico.felix.iptables.table import KERNEL_CHAINS, ApplyStats, Table

__all__ = [
    "KERNEL_CHAINS",
    "ApplyStats",
    "CommandResult",
    "CommandRunner",
    "FakeRunner",
    "SubprocessRunner",
    "Table",
    "run_checked",
]
