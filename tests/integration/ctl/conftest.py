"""Run the real ``calicoctl`` executable against a real datastore (sqlite file or etcd).

The ``calicoctl`` fixture is parametrised over both backends; the etcd one
asks for the ``etcd_server`` fixture (``tests.etcd_fixture``) only when
needed, so the sqlite runs never depend on the etcd binary.  Each run gets a fresh
datastore and a CalicoAPIConfig file passed with ``-c``, so a
``/etc/calico/calicoctl.cfg`` or DATASTORE_* variables on the machine cannot
interfere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.etcd_fixture import wipe_etcd

# Variables that select a datastore; never inherited by the child.
DATASTORE_VARS = (
    "DATASTORE_TYPE",
    "CALICO_SQLITE_PATH",
    "ETCD_ENDPOINTS",
    "ETCD_CA_CERT_FILE",
    "ETCD_CERT_FILE",
    "ETCD_KEY_FILE",
)


def calicoctl_argv() -> list[str]:
    """The installed console script, else ``python -m calico.ctl.main``."""
    script = Path(sys.executable).with_name("calicoctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "calico.ctl.main"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DATASTORE_VARS}
    env.update(extra)
    return env


@dataclass
class Calicoctl:
    """``calicoctl("get", "ippool")`` runs the executable with this datastore's config."""

    config: Path
    backend: str

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [*calicoctl_argv(), "-c", str(self.config), *args]
        return subprocess.run(
            argv, input=stdin, capture_output=True, text=True, env=clean_env(), timeout=60
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, (done.stdout, done.stderr)
        return done.stdout

    def fails(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = self(*args, stdin=stdin)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done


def _api_config(path: Path, spec: dict[str, str]) -> Path:
    lines = [f"  {key}: {value}" for key, value in spec.items()]
    text = "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\nspec:\n"
    path.write_text(text + "\n".join(lines) + "\n")
    return path


@pytest.fixture(params=["sqlite", pytest.param("etcdv3", marks=pytest.mark.etcd)])
def calicoctl(request: pytest.FixtureRequest, tmp_path: Path) -> Calicoctl:
    config = tmp_path / "calicoctl.cfg"
    if request.param == "sqlite":
        spec = {"datastoreType": "sqlite", "sqlitePath": str(tmp_path / "calico.db")}
    else:
        server = request.getfixturevalue("etcd_server")
        wipe_etcd(server.endpoint)
        spec = {"datastoreType": "etcdv3", "etcdEndpoints": server.endpoint}
    return Calicoctl(_api_config(config, spec), request.param)
