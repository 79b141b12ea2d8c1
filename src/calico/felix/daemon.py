"""The felix process: the pipeline's threads, status, health, shutdown.

::

    syncer thread ──KVs, InSync──▶ calc thread (owns the CalcGraph) ──messages──▶
    dataplane thread (managers, apply)       link monitor ──"links changed"──▶ dataplane
    liveness / endpoint status reporters, health and metrics servers: their own threads

Start-up, as Calico's ``daemon.go``: read the configuration (``startup``),
retrying while the datastore is unreachable, then start everything; a
``ConfigWatcher`` (``config_watch``) on the calc thread (``calc_thread``)
asks for a restart when configuration that matters changes.

Exit codes:

* 0 -- SIGTERM/SIGINT.  Kernel state is left exactly as it is, so policy
  stays enforced while felix is down and a restart changes nothing;
* :data:`EXIT_CONFIG_CHANGED` (129, Calico's value) -- configuration that
  matters changed (a FelixConfiguration, or which encapsulation the pools
  need).  Calico restarts rather than re-plumbing a live dataplane;
  calico-node starts felix again at once;
* :data:`EXIT_FATAL` (1) -- the dataplane cannot be kept correct (persistent
  iptables failure, a kernel without IPIP), or a configuration error.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType

from calico.datastore import Datastore, DatastoreConfig, open_datastore
from calico.datastore.keys import RESOURCE_PREFIX
from calico.errors import ConfigError, DatastoreError
from calico.felix.calc.graph import CalcGraph
from calico.felix.calc_thread import CalcThread
from calico.felix.config import FelixConfig, resolve
from calico.felix.config_watch import ConfigWatcher
from calico.felix.convert import IPAM_BLOCK_PREFIXES
from calico.felix.dataplane import DataplaneConfig, InternalDataplane
from calico.felix.dataplane.loop import DataplaneLoop
from calico.felix.dataplane.procsys import RealProcSys
from calico.felix.dataplane.pyroute import LinkMonitor, PyrouteNetlink
from calico.felix.health import HealthAggregator, HealthServer
from calico.felix.iptables import SubprocessRunner
from calico.felix.metrics import FelixMetrics
from calico.felix.startup import (
    CONFIG_FILE_ENV,
    Startup,
    check_ports,
    load_startup,
    read_config_file,
)
from calico.felix.status import EndpointStatusReporter, LivenessReporter, region_string
from calico.felix.syncer import Syncer

# The pieces moved to their own modules stay importable from here.
__all__ = [
    "CONFIG_FILE_ENV",
    "EXIT_CONFIG_CHANGED",
    "EXIT_FATAL",
    "EXIT_OK",
    "CalcThread",
    "ConfigWatcher",
    "FelixDaemon",
    "Startup",
    "check_ports",
    "load_startup",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_CONFIG_CHANGED = 129
SYNCER_PREFIXES = (RESOURCE_PREFIX, *IPAM_BLOCK_PREFIXES)
LIVENESS_TIMEOUT = 30.0  # a thread that has not ticked for this long is not live


class FelixDaemon:
    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        config_file: str | None = None,
        on_config: Callable[[FelixConfig], None] = lambda _: None,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._file_values = read_config_file(self._env, config_file)
        # Bad FELIX_* variables or file values fail now, before the datastore is opened.
        check_ports(resolve(env=self._env, file_values=self._file_values))
        self._on_config = on_config
        self._stop = threading.Event()
        self._exit_code = EXIT_OK
        self._stoppers: list[Callable[[], None]] = []
        self._syncer: Syncer | None = None
        self._metrics: FelixMetrics | None = None

    # --- stopping: from signals, the dataplane, the calc thread ----------------------------

    def request_stop(self, reason: str, code: int = EXIT_OK) -> None:
        if self._stop.is_set():
            return
        log.info("Stopping felix: %s", reason)
        self._exit_code = code
        self._stop.set()

    def _restart(self, reason: str) -> None:
        self.request_stop(
            f"{reason}; exiting for calico-node to restart felix", EXIT_CONFIG_CHANGED
        )

    def _fatal(self, exc: BaseException) -> None:
        self.request_stop(f"fatal error: {exc}", EXIT_FATAL)

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            del frame
            self.request_stop(f"received signal {signal.Signals(signum).name}")

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # --- running -----------------------------------------------------------------------------

    def run(self) -> int:
        # Like calico-node (and upstream Felix), the datastore comes from the
        # environment only: calicoctl's config file is calicoctl's, and
        # reading it here could point felix at another cluster than its node.
        datastore = open_datastore(DatastoreConfig.from_env(self._env))
        try:
            startup = self._load(datastore)
            if startup is None:
                return self._exit_code
            self._on_config(startup.config)
            self._start(datastore, startup)
            while not self._stop.wait(1.0):
                self._poll()
        finally:
            for stop in reversed(self._stoppers):
                stop()
            datastore.close()
        return self._exit_code

    def _load(self, datastore: Datastore) -> Startup | None:
        """Read the configuration, retrying while the datastore is unreachable."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                return load_startup(datastore, self._env, self._file_values)
            except DatastoreError as exc:
                log.warning("Cannot read configuration from the datastore (%s); retrying", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
        return None

    def _start(self, datastore: Datastore, startup: Startup) -> None:
        config = startup.config
        check_ports(config)
        log.info(
            "Felix starting: host=%s encap=%s ip_versions=%s",
            config.felix_hostname,
            startup.encap,
            "4,6" if config.ipv6_support else "4",
        )
        health = HealthAggregator()
        metrics = FelixMetrics() if config.prometheus_metrics_enabled else None
        endpoint_status = self._endpoint_reporter(datastore, config)
        dataplane = InternalDataplane(
            DataplaneConfig.from_felix(
                config, startup.encap, ipip_tunnel_address=startup.ipip_tunnel_address
            ),
            runner=SubprocessRunner(),
            netlink=PyrouteNetlink(),
            procsys=RealProcSys(),
            on_apply=metrics.on_apply if metrics else lambda _: None,
            on_endpoint_statuses=endpoint_status.update if endpoint_status else lambda _: None,
            on_fatal=self._fatal,
        )
        loop = DataplaneLoop(dataplane)
        watcher = ConfigWatcher(startup, self._env, self._file_values, self._restart)
        calc = CalcThread(CalcGraph(config.felix_hostname), loop.send, watcher, self._fatal)
        self._syncer = Syncer(datastore, SYNCER_PREFIXES, calc)
        self._metrics = metrics
        monitor = LinkMonitor(loop.links_changed)
        for component in (loop, monitor, calc, self._syncer, endpoint_status):
            if component is not None:
                component.start()
                self._stoppers.append(component.stop)
        self._start_liveness(datastore, config)
        health.register(
            "dataplane",
            live=lambda: time.monotonic() - dataplane.last_tick < LIVENESS_TIMEOUT,
            ready=lambda: dataplane.ready,
        )
        health.register(
            "calculation-graph",
            live=lambda: time.monotonic() - calc.last_tick < LIVENESS_TIMEOUT,
            ready=lambda: calc.in_sync,
        )
        self._start_servers(config, health, metrics)

    def _endpoint_reporter(
        self, datastore: Datastore, config: FelixConfig
    ) -> EndpointStatusReporter | None:
        if not config.endpoint_reporting_enabled:
            return None
        return EndpointStatusReporter(
            datastore,
            config.felix_hostname,
            region=region_string(config.openstack_region),
            delay=config.endpoint_reporting_delay,
        )

    def _start_liveness(self, datastore: Datastore, config: FelixConfig) -> None:
        if config.reporting_interval <= 0:
            return
        reporter = LivenessReporter(
            datastore,
            config.felix_hostname,
            region=region_string(config.openstack_region),
            interval=config.reporting_interval,
            ttl=config.reporting_ttl,
        )
        reporter.start()
        self._stoppers.append(reporter.stop)

    def _start_servers(
        self, config: FelixConfig, health: HealthAggregator, metrics: FelixMetrics | None
    ) -> None:
        if config.health_enabled:
            try:
                server = HealthServer(health, config.health_host, config.health_port)
            except OSError as exc:
                raise ConfigError(
                    f"HealthHost/HealthPort {config.health_host}:{config.health_port}: "
                    f"cannot listen: {exc.strerror or exc}"
                ) from None
            server.start()
            self._stoppers.append(server.stop)
            log.info("Health endpoints on %s:%d", config.health_host, server.port)
        if metrics is not None:
            try:
                metrics.serve(config.prometheus_metrics_host, config.prometheus_metrics_port)
            except OSError as exc:
                raise ConfigError(
                    f"PrometheusMetricsPort {config.prometheus_metrics_port}: "
                    f"cannot listen: {exc.strerror or exc}"
                ) from None
            log.info("Prometheus metrics on port %d", config.prometheus_metrics_port)

    def _poll(self) -> None:
        if self._metrics is not None and self._syncer is not None:
            listed = int(self._syncer.listed_once) + self._syncer.resync_count
            self._metrics.set_resyncs(listed)
