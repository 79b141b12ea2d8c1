"""The ``calico`` CNI plugin: entry point and command table.

``calico`` is multi-call (``calico.cli``): with ``CNI_COMMAND`` set it lands
here.  ``-v`` prints the version.  Each command gets an :class:`Invocation`
(config, node name, datastore, all opened on first use) and the protocol
layer (``spec.run``) turns its return value or exception into stdout JSON
and the exit code.

Start-up cost matters: a runtime execs this once per container operation, so
this module and everything it imports avoid pydantic, click, rich and the
rest of the project (tests/unit/cni/test_imports.py keeps it that way).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from calico import __version__
from calico.cni.add import cmd_add
from calico.cni.check import cmd_check
from calico.cni.delete import cmd_del
from calico.cni.gc import cmd_gc
from calico.cni.invocation import Command, plugin_main
from calico.cni.status import cmd_status

ABOUT = f"Calico CNI plugin v{__version__}"
COMMANDS: dict[str, Command] = {
    "ADD": cmd_add,
    "DEL": cmd_del,
    "CHECK": cmd_check,
    "GC": cmd_gc,
    "STATUS": cmd_status,
}


def main(argv: Sequence[str] | None = None) -> int:
    return plugin_main(COMMANDS, ABOUT, argv)


if __name__ == "__main__":
    sys.exit(main())
