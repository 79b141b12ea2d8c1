"""The state a calicoctl invocation carries: which datastore, and the client on it.

The datastore is opened lazily, on the first command that needs it, following
calicoctl's rule (``-c FILE``, else ``/etc/calico/calicoctl.cfg``, else the
environment; see :func:`calico.datastore.config.load_config`).  Commands that
work offline (``validate``, ``version --client``) never open it.

Tests inject a datastore instead: ``CliRunner().invoke(calicoctl, args,
obj=CtlContext(datastore=MemoryDatastore()))``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from calico.client import Client
from calico.ctl.errors import CommandError
from calico.datastore import Datastore
from calico.errors import CalicoError

_F = TypeVar("_F", bound=Callable[..., Any])

# logrus level names -> logging levels ("panic", the default, shows nothing).
LOG_LEVELS = {
    "panic": logging.CRITICAL + 10,
    "fatal": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": logging.DEBUG,
}


@dataclass
class CtlContext:
    """Per-invocation state, stored as the click context's ``obj``.

    A ``datastore`` passed in belongs to the caller; one opened here is
    closed when the command ends.
    """

    config_path: str | None = None
    datastore: Datastore | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _client: Client | None = field(default=None, init=False, repr=False)
    _opened: bool = field(default=False, init=False, repr=False)

    def client(self) -> Client:
        """The client, opening the datastore on first use.

        Raises:
            CommandError: the configuration is invalid or the datastore cannot
                be opened (``Failed to create Calico API client: ...``).
        """
        if self._client is None:
            self._client = Client(self.open_datastore())
        return self._client

    def open_datastore(self) -> Datastore:
        if self.datastore is None:
            from calico.datastore.config import load_config, open_datastore

            try:
                self.datastore = open_datastore(load_config(self.config_path, self.env))
                self._opened = True
            except (CalicoError, ValueError, OSError) as exc:
                raise CommandError(f"Failed to create Calico API client: {exc}") from None
        return self.datastore

    def close(self) -> None:
        if self._opened and self.datastore is not None:
            self.datastore.close()


def get_context() -> CtlContext:
    """The CtlContext of the running command (created if absent)."""
    return click.get_current_context().ensure_object(CtlContext)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(CtlContext).config_path = value


def _set_log_level(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        configure_logging(value)


def configure_logging(level_name: str) -> None:
    """Send log records at ``level_name`` (logrus names) and above to stderr."""
    level = LOG_LEVELS.get(level_name.lower())
    if level is None:
        raise click.UsageError(
            f"unknown log level: {level_name}, expected one of: "
            "panic, fatal, error, warn, info, debug"
        )
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(message)s")
    logging.getLogger().setLevel(level)


def global_options(func: _F) -> _F:
    """calicoctl's persistent flags, accepted before or after the subcommand.

    ``-c/--config FILE``, ``-l/--log-level LEVEL`` and
    ``--allow-version-mismatch`` (accepted for compatibility: this calicoctl
    and its datastore never disagree on versions).
    """
    decorators = (
        click.option(
            "-c",
            "--config",
            metavar="FILE",
            expose_value=False,
            callback=_set_config,
            help="Path to the file containing connection configuration in YAML or JSON "
            "format [default: /etc/calico/calicoctl.cfg, else the environment].",
        ),
        click.option(
            "-l",
            "--log-level",
            metavar="LEVEL",
            expose_value=False,
            callback=_set_log_level,
            help="Set the log level (panic, fatal, error, warn, info, debug) [default: panic].",
        ),
        click.option(
            "--allow-version-mismatch",
            is_flag=True,
            expose_value=False,
            help="Accepted for compatibility; versions are not checked.",
        ),
    )
    for decorate in reversed(decorators):
        func = decorate(func)
    return func
