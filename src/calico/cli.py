"""The ``calico`` executable: a multi-call entry point.

Invoked by a container runtime as a CNI plugin (``CNI_COMMAND`` is set in the
environment, as the CNI spec requires for every plugin call) it runs the
``calico`` CNI plugin; otherwise it is the project's command line
(``calico lab ...``).  Calico's own ``calico`` binary is multi-call in the same
way.  This module must stay import-light: a CNI invocation happens once per
container operation, so it must not pull in click, rich or pydantic.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    if "CNI_COMMAND" in os.environ or (len(sys.argv) > 1 and sys.argv[1] == "-v"):
        from calico.cni.plugin import main as cni_main

        return cni_main()
    from calico.lab.cli import main as lab_main

    return lab_main()


if __name__ == "__main__":
    sys.exit(main())
