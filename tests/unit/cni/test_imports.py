"""The plugins start fast: they never import pydantic, click or rich.

A runtime execs a plugin once per container operation; pydantic alone costs
more than a whole ADD (ECOSYSTEM.md C.6).  The check runs the real entry
points in a fresh interpreter and inspects ``sys.modules`` after a VERSION
call (which imports the whole plugin, as every command does).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pydantic", "click", "rich", "yaml", "pyroute2", "etcd3gw", "requests")
PROBE = """
import io, json, os, sys
os.environ["CNI_COMMAND"] = "VERSION"
sys.stdin = io.TextIOWrapper(io.BytesIO(b'{{"cniVersion": "1.0.0"}}'))
sys.argv = ["plugin"]
from {module} import main
out = io.StringIO()
real, sys.stdout = sys.stdout, out
code = main()
sys.stdout = real
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""


PLUGIN_SIDE = ("calico.cni", "calico.cli", "calico.datastore", "calico.errors", "calico.node")


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("calico.cli", PLUGIN_SIDE),  # the calico plugin: no IPAM library, it execs calico-ipam
        ("calico.cni.ipam_main", (*PLUGIN_SIDE, "calico.ipam", "calico.selector")),
    ],
)
def test_plugins_do_not_import_heavy_libraries(module: str, allowed: tuple[str, ...]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["code"] == 0
    roots = {name.split(".")[0] for name in report["modules"]}
    assert not roots & set(HEAVY)
    ours = {m for m in report["modules"] if m.startswith("calico.")}
    # Only the plugin side of the project: no lab, ctl, felix, resources or client.
    assert all(m.startswith(allowed) for m in ours), sorted(ours)
