"""``calico-dhcp-agent``: DHCP for the OpenStack VMs of one host, from the datastore.

::

    calico-dhcp-agent [--host NAME] [--state-dir DIR] [--region R] [-c CALICOCTL_CFG]
                      [--dnsmasq PATH] [--dnsmasq-user USER] [--lease-time SECS]
                      [--log-level LEVEL]

networking-calico's agent (``agent/dhcp_agent.py``) without Neutron RPC,
which does not scale to hundreds of agents: everything comes from the
datastore.  The agent follows two prefixes, each listed then watched (and
listed again if the watch falls behind compaction):

- this host's OpenStack WorkloadEndpoints,
  ``.../workloadendpoints/<namespace>/<host, '-' doubled>-openstack-``;
- the DHCP subnet keys ``/calico/dhcp/v2/<region>/subnet/``;

and after every burst of changes recomputes what to serve
(``dhcp_model``), puts the gateways on the holder interface
(``dhcp_iface``) and brings its dnsmasq child in step (``dnsmasq``).  It
runs until SIGTERM or SIGINT, then stops dnsmasq and removes the holder.

The host is ``--host``, else ``$NODENAME``, else the host name: it must be
the Neutron ``binding:host_id`` of the host's ports (Nova's host name).
The datastore is found as calicoctl finds it.  A user error ends in one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from calico.datastore import Datastore
from calico.datastore.config import load_config, open_datastore
from calico.datastore.keys import kind_prefix
from calico.errors import CalicoError, ConfigError, DataplaneError
from calico.openstack import dhcp_iface, endpoints, region
from calico.openstack._follow import follow
from calico.openstack.dhcp_model import (
    DhcpConfig,
    DhcpSubnet,
    desired_config,
    parse_endpoint,
    parse_subnet,
)
from calico.openstack.dnsmasq import DEFAULT_LEASE_SECONDS, Dnsmasq, DnsmasqSettings
from calico.resources import WorkloadEndpoint

_log = logging.getLogger(__name__)
_LOG_FORMAT = "%(asctime)s [%(levelname)s] calico-dhcp-agent %(name)s: %(message)s"
DEFAULT_STATE_DIR = "/var/lib/calico/dhcp"
RETRY_SECONDS = 2.0  # after a failed dnsmasq or interface change

# An update from one of the follower threads: (source, snapshot or None, key, value).
_Update = tuple[str, dict[str, str] | None, str, str | None]


class DhcpAgent:
    """Keeps the host's dnsmasq serving the host's VMs."""

    def __init__(self, datastore: Datastore, host: str, region_str: str, dnsmasq: Dnsmasq) -> None:
        self.host = host
        self._datastore = datastore
        self._dnsmasq = dnsmasq
        self._holder = dnsmasq.settings.holder
        namespace = region.namespace(region_str)
        self._prefixes = {
            "endpoint": kind_prefix("WorkloadEndpoint", namespace)
            + endpoints.host_name_prefix(host),
            "subnet": region.subnet_dir(region_str),
        }
        self._endpoints: dict[str, WorkloadEndpoint] = {}
        self._subnets: dict[str, DhcpSubnet] = {}
        self._synced: set[str] = set()  # sources that delivered a snapshot
        self._updates: queue.Queue[_Update] = queue.Queue()
        self._stop = threading.Event()
        self._applied: DhcpConfig | None = None

    def stop(self) -> None:
        """Make :meth:`run` return soon (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        """Serve until :meth:`stop`; then stop dnsmasq and remove the holder."""
        threads = [self._start_follower(source) for source in self._prefixes]
        try:
            while not self._stop.is_set():
                self._drain(timeout=RETRY_SECONDS)
                if self._synced == set(self._prefixes):
                    self._reconcile()
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()
            self._dnsmasq.stop()
            dhcp_iface.remove(self._holder)

    # -- inputs ------------------------------------------------------------

    def _start_follower(self, source: str) -> threading.Thread:
        def on_snapshot(items: dict[str, str]) -> None:
            self._updates.put((source, items, "", None))

        def on_change(key: str, value: str | None) -> None:
            self._updates.put((source, None, key, value))

        thread = threading.Thread(
            target=follow,
            args=(self._datastore, self._prefixes[source], on_snapshot, on_change, self._stop),
            name=f"dhcp-{source}",
            daemon=True,
        )
        thread.start()
        return thread

    def _drain(self, timeout: float) -> None:
        """Apply every queued update, waiting up to ``timeout`` for the first."""
        try:
            update = self._updates.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._apply_update(*update)
            try:
                update = self._updates.get_nowait()
            except queue.Empty:
                return

    def _apply_update(
        self, source: str, snapshot: dict[str, str] | None, key: str, value: str | None
    ) -> None:
        if snapshot is not None:
            # A (re-)list is the whole truth: drop what it does not mention.
            self._synced.add(source)
            (self._endpoints if source == "endpoint" else self._subnets).clear()
            for k, v in snapshot.items():
                self._apply_update(source, None, k, v)
        elif source == "endpoint":
            # An invalid value counts as a deletion, as in networking-calico.
            wep = parse_endpoint(key, value) if value is not None else None
            if wep is None:
                self._endpoints.pop(key, None)
            else:
                self._endpoints[key] = wep
        else:
            subnet_id = key.rsplit("/", 1)[-1]
            subnet = parse_subnet(subnet_id, value) if value is not None else None
            if subnet is None:
                self._subnets.pop(subnet_id, None)
            else:
                self._subnets[subnet_id] = subnet

    # -- output ------------------------------------------------------------

    def _reconcile(self) -> None:
        config = desired_config(self._subnets, self._endpoints.values(), self.host)
        if config == self._applied and self._dnsmasq_ok(config):
            return
        try:
            if config.hosts:
                dhcp_iface.ensure(self._holder)
                dhcp_iface.sync_addresses(config.gateways, self._holder)
            self._dnsmasq.apply(config)
            if not config.hosts:
                dhcp_iface.remove(self._holder)
        except DataplaneError as exc:
            _log.error("cannot apply DHCP config (retrying in %ss): %s", RETRY_SECONDS, exc)
            self._applied = None
            return
        _log.info(
            "serving %d reservation(s) in %d subnet(s)", len(config.hosts), len(config.subnets)
        )
        self._applied = config

    def _dnsmasq_ok(self, config: DhcpConfig) -> bool:
        if config.hosts and not self._dnsmasq.running:
            _log.warning("dnsmasq is not running; starting it again")
            return False
        return True


# -- command line ----------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (not usage text plus the error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = _Parser(
        prog="calico-dhcp-agent",
        description="Serve DHCP to this host's OpenStack VMs from the Calico datastore.",
    )
    parser.add_argument("--host", help="Neutron host name of this host (default $NODENAME)")
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help=f"dnsmasq's files (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("CALICO_OPENSTACK_REGION", ""),
        help="OpenStack region (default $CALICO_OPENSTACK_REGION)",
    )
    parser.add_argument("-c", "--config", help="calicoctl config file for the datastore")
    parser.add_argument("--dnsmasq", default="dnsmasq", help="dnsmasq binary")
    parser.add_argument("--dnsmasq-user", help="user dnsmasq runs as (default: its own)")
    parser.add_argument(
        "--lease-time", type=int, default=DEFAULT_LEASE_SECONDS, help="DHCP lease time in seconds"
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser.parse_args(argv)


def host_name(explicit: str | None) -> str:
    name = explicit or os.environ.get("NODENAME", "").strip() or socket.gethostname()
    if not name:
        raise ConfigError("cannot determine the host name: use --host or set NODENAME")
    return name


def check_args(args: argparse.Namespace) -> None:
    """ConfigError for a bad flag (run before the datastore is opened)."""
    if shutil.which(args.dnsmasq) is None:
        raise ConfigError(f"--dnsmasq: {args.dnsmasq} not found")
    if args.lease_time < 120:
        raise ConfigError(f"--lease-time must be at least 120 seconds (value {args.lease_time})")
    try:
        region.region_string(args.region)
    except ConfigError as exc:
        raise ConfigError(f"{exc} from --region or CALICO_OPENSTACK_REGION") from None


def build_agent(args: argparse.Namespace, datastore: Datastore) -> DhcpAgent:
    check_args(args)
    settings = DnsmasqSettings(
        state_dir=Path(args.state_dir),
        binary=args.dnsmasq,
        lease_seconds=args.lease_time,
        user=args.dnsmasq_user,
    )
    return DhcpAgent(
        datastore, host_name(args.host), region.region_string(args.region), Dnsmasq(settings)
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format=_LOG_FORMAT, stream=sys.stderr)
    try:
        check_args(args)
        datastore = open_datastore(load_config(args.config))
        with datastore:
            agent = build_agent(args, datastore)
            _stop_on_signals(agent)
            agent.run()
    except CalicoError as exc:
        print(f"calico-dhcp-agent: {exc}", file=sys.stderr)
        return 1
    return 0


def _stop_on_signals(agent: DhcpAgent) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        _log.info("signal %d: stopping", signum)
        agent.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    sys.exit(main())
