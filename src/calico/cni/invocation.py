"""What one plugin run works with, and how its failures become CNI errors.

Shared by the ``calico`` and ``calico-ipam`` plugins.  Everything is computed
on first use: VERSION needs none of it, STATUS needs no node name, and DEL
must not fail for want of something it does not use.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from calico import __version__
from calico.cni import spec
from calico.cni.config import NetConf, configure_logging
from calico.cni.netns import NetnsError
from calico.cni.spec import CmdArgs, CniError
from calico.cni.wep import WorkloadIDs, identifiers
from calico.datastore import Datastore
from calico.datastore.config import open_datastore
from calico.errors import (
    CalicoError,
    ConfigError,
    DataplaneError,
    DatastoreError,
    DatastoreUnavailableError,
    IPAMError,
    ValidationError,
)


class Invocation:
    def __init__(self, args: CmdArgs) -> None:
        self.args = args
        self.conf = NetConf.from_json(args.config)
        configure_logging(self.conf)
        self._datastore: Datastore | None = None

    @property
    def version(self) -> str:
        return self.args.version

    @functools.cached_property
    def nodename(self) -> str:
        return self.conf.resolve_nodename()

    @functools.cached_property
    def ids(self) -> WorkloadIDs:
        return identifiers(self.args, self.nodename)

    @property
    def handle_id(self) -> str:
        """The IPAM handle of this attachment: ``<network>.<containerID>``."""
        return f"{self.conf.name}.{self.args.container_id}"

    def datastore(self) -> Datastore:
        if self._datastore is None:
            self._datastore = open_datastore(self.conf.datastore_config())
        return self._datastore

    def close(self) -> None:
        if self._datastore is not None:
            self._datastore.close()


Command = Callable[[Invocation], "dict[str, Any] | None"]


def handler(command: Command) -> spec.Handler:
    """Adapt a command on an Invocation to the protocol layer's handler."""

    def run(args: CmdArgs) -> dict[str, Any] | None:
        inv = Invocation(args)
        try:
            return command(inv)
        finally:
            inv.close()

    return run


def plugin_main(commands: Mapping[str, Command], about: str, argv: Sequence[str] | None) -> int:
    """A plugin executable: ``-v`` prints the version, anything else is CNI."""
    argv = sys.argv if argv is None else argv
    if argv[1:2] == ["-v"]:
        print(f"v{__version__}")
        return 0
    handlers = {name: handler(command) for name, command in commands.items()}
    return spec.run(handlers, about, classify)


def classify(exc: Exception) -> CniError:
    """The CNI error for an exception a command let through."""
    for kinds, code, msg in _CLASSES:
        if isinstance(exc, kinds):
            return CniError(code, msg, str(exc))
    return CniError(spec.INTERNAL, "internal error", f"{type(exc).__name__}: {exc}")


_CLASSES: list[tuple[type[Exception] | tuple[type[Exception], ...], int, str]] = [
    (DatastoreUnavailableError, spec.TRY_AGAIN_LATER, "datastore unavailable"),
    (DatastoreError, spec.DATASTORE_FAILURE, "datastore error"),
    (IPAMError, spec.IPAM_FAILURE, "IP address management failed"),
    ((ConfigError, ValidationError), spec.INVALID_CONFIG, "invalid network config"),
    (DataplaneError, spec.DATAPLANE_FAILURE, "dataplane setup failed"),
    (NetnsError, spec.INVALID_ENV, "invalid CNI_NETNS"),
    (CalicoError, spec.INTERNAL, "internal error"),
    (OSError, spec.IO_FAILURE, "I/O failure"),
]
