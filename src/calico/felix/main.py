"""``calico-felix``: the per-host agent that programs policy and routes into the kernel.

::

    calico-felix [--config-file PATH]

Everything else comes from the environment, as with Calico's felix:
``FELIX_<PARAM>`` for any FelixConfiguration parameter (``FELIX_LOGSEVERITYSCREEN``,
``FELIX_HEALTHENABLED``...), ``NODENAME`` / ``FELIX_FELIXHOSTNAME`` for the node
name, ``DATASTORE_TYPE`` / ``CALICO_SQLITE_PATH`` / ``ETCD_ENDPOINTS`` for the
datastore.  Felix must run in the network namespace it programs.

Logs are structured ``key=value`` lines on stderr and, when LogFilePath is
set, in that file::

    time=2024-05-01T10:00:00.123Z level=INFO logger=calico.felix.daemon msg="Felix starting ..."

Exit status: 0 after SIGTERM/SIGINT, 129 when configuration changed and felix
wants a restart, 1 on a fatal error -- a configuration error prints one line
naming the parameter and value, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from calico.errors import CalicoError
from calico.felix.config import FelixConfig
from calico.felix.daemon import CONFIG_FILE_ENV, EXIT_FATAL, FelixDaemon

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}


class KeyValueFormatter(logging.Formatter):
    """``time=... level=... logger=... msg="..."`` (and ``exc="..."``)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        fields = [
            f"time={stamp}.{int(record.msecs):03d}Z",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"thread={record.threadName}",
            f"msg={_quote(record.getMessage())}",
        ]
        if record.exc_info:
            fields.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(fields)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def setup_logging(level: str = "INFO", log_file: str = "") -> None:
    """(Re)configure the root logger: stderr always, ``log_file`` when given."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = KeyValueFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            os.makedirs(os.path.dirname(log_file) or ".", exist_ok=True)
            handlers.append(logging.FileHandler(log_file))
        except OSError as exc:
            print(f"calico-felix: cannot log to {log_file}: {exc}", file=sys.stderr)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(_LEVELS.get(level.upper(), logging.INFO))


def _apply_logging_config(config: FelixConfig) -> None:
    setup_logging(config.log_severity_screen, config.log_file_path)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (not usage text plus the error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="calico-felix",
        description="Calico's per-host agent: programs routes, IP sets and iptables "
        "from the Calico datastore.",
    )
    parser.add_argument(
        "-c",
        "--config-file",
        help=f"felix config file (default ${CONFIG_FILE_ENV} or /etc/calico/felix.cfg)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(os.environ.get("FELIX_LOGSEVERITYSCREEN", "INFO"))
    try:
        daemon = FelixDaemon(config_file=args.config_file, on_config=_apply_logging_config)
        daemon.install_signal_handlers()
        return daemon.run()
    except CalicoError as exc:
        # One line even when a parser's message spans several (configparser's do).
        print(f"calico-felix: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FATAL


if __name__ == "__main__":
    sys.exit(main())
