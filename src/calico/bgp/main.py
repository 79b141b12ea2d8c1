"""``calico-bgp``: keep this node's BIRD configuration in step with the datastore.

::

    calico-bgp [--node NAME] [--config-dir DIR] [--socket PATH]
               [--secrets-dir DIR] [-c CALICOCTL_CFG] [--once] [--log-level LEVEL]

The node name is ``--node``, else ``$NODENAME`` (as calico-node sets it),
else ``/var/lib/calico/nodename``, else the host name.  The datastore is
``-c FILE`` (a CalicoAPIConfig) if given, else ``DATASTORE_TYPE`` /
``CALICO_SQLITE_PATH`` / ``ETCD_*`` from the environment, as calico-node and
felix take it (``/etc/calico/calicoctl.cfg`` is not read implicitly).

``--once`` renders, checks and writes once (reloading BIRD if it runs), then
exits 0 if the live config is good and current, 1 if not.  Otherwise it runs
until SIGTERM or SIGINT.  A user error ends in one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from calico.bgp.bird_process import DEFAULT_CONFIG_DIR, DEFAULT_SOCKET
from calico.bgp.daemon import BirdConfigWriter
from calico.bgp.passwords import DEFAULT_SECRETS_DIR, file_secrets
from calico.datastore.config import DatastoreConfig, load_config, open_datastore
from calico.errors import CalicoError, ConfigError

NODENAME_FILE = Path("/var/lib/calico/nodename")
_LOG_FORMAT = "%(asctime)s [%(levelname)s] calico-bgp %(name)s: %(message)s"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (not usage text plus the error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = _Parser(
        prog="calico-bgp", description="Render BIRD's config from the Calico datastore."
    )
    parser.add_argument("--node", help="Calico node name (default $NODENAME)")
    parser.add_argument(
        "--config-dir",
        default=DEFAULT_CONFIG_DIR,
        help=f"where bird.cfg is written (default {DEFAULT_CONFIG_DIR})",
    )
    parser.add_argument(
        "--socket", default=DEFAULT_SOCKET, help=f"BIRD control socket (default {DEFAULT_SOCKET})"
    )
    parser.add_argument(
        "--secrets-dir",
        default=DEFAULT_SECRETS_DIR,
        help="BGP passwords: <dir>/<secret name>/<key>",
    )
    parser.add_argument("-c", "--config", help="calicoctl config file for the datastore")
    parser.add_argument("--once", action="store_true", help="render once and exit")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])  # fmt: skip
    return parser.parse_args(argv)


def node_name(explicit: str | None) -> str:
    name = explicit or os.environ.get("NODENAME", "").strip()
    if not name and NODENAME_FILE.exists():
        name = NODENAME_FILE.read_text().strip()
    name = name or socket.gethostname()
    if not name:
        raise ConfigError("cannot determine the node name: use --node or set NODENAME")
    return name


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format=_LOG_FORMAT, stream=sys.stderr)
    try:
        return _run(args)
    except CalicoError as exc:
        print(f"calico-bgp: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    # -c FILE names a CalicoAPIConfig explicitly; otherwise the environment,
    # as calico-node and felix (calicoctl.cfg is not consulted implicitly).
    config = load_config(args.config) if args.config else DatastoreConfig.from_env(os.environ)
    datastore = open_datastore(config)
    writer = BirdConfigWriter(
        datastore,
        node_name(args.node),
        args.config_dir,
        args.socket,
        secrets=file_secrets(args.secrets_dir),
    )
    with datastore:
        if args.once:
            return 0 if writer.sync().ok else 1
        _stop_on_signals(writer)
        writer.run()
    return 0


def _stop_on_signals(writer: BirdConfigWriter) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("Signal %d: stopping", signum)
        writer.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    sys.exit(main())
