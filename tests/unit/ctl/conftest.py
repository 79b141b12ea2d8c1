"""Run calicoctl in-process (click's CliRunner) against an in-memory datastore."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner, Result

from calico.client import Client
from calico.ctl.context import CtlContext
from calico.ctl.main import calicoctl
from calico.datastore import MemoryDatastore


@dataclass
class Ctl:
    """``ctl("get", "ippool")`` runs calicoctl; ``ctl.client`` sees the same store."""

    store: MemoryDatastore = field(default_factory=MemoryDatastore)

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        state = CtlContext(datastore=self.store)
        return CliRunner().invoke(calicoctl, list(args), obj=state, input=stdin)

    @property
    def client(self) -> Client:
        return Client(self.store)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """Run, assert success, return stdout."""
        result = self(*args, stdin=stdin)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result.stdout

    def fails(self, *args: str, stdin: str | None = None) -> Result:
        """Run, assert a one-line-per-error failure with exit 1 and no traceback."""
        result = self(*args, stdin=stdin)
        assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
        assert "Traceback" not in result.stderr
        return result


@pytest.fixture
def ctl() -> Ctl:
    return Ctl()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """calicoctl's -l configures the root logger; keep that out of other tests."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
