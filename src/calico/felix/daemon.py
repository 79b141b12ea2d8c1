"""The felix process: configuration, the pipeline's threads, status, health, shutdown.

::

    syncer thread ──KVs, InSync──▶ calc thread (owns the CalcGraph) ──messages──▶
    dataplane thread (managers, apply)       link monitor ──"links changed"──▶ dataplane
    liveness / endpoint status reporters, health and metrics servers: their own threads

Start-up, as Calico's ``daemon.go``: read the configuration with Calico's
precedence (env ``FELIX_*`` > config file > FelixConfiguration
``node.<host>`` > ``default`` > built-in), retrying while the datastore is
unreachable; list the IP pools to learn which tunnel devices are needed;
then start everything.  The config file is ``$CALICO_FELIX_CONFIG_FILE`` (or
the ``--config-file`` flag), else ``/etc/calico/felix.cfg``.

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

import json
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import FrameType
from typing import Any

from calico.datastore import Datastore, load_config, open_datastore
from calico.datastore.keys import RESOURCE_PREFIX, kind_prefix, resource_key
from calico.errors import ConfigError, DatastoreError
from calico.felix.calc.graph import CalcGraph
from calico.felix.calc.model import PoolModel
from calico.felix.config import DEFAULT_CONFIG_FILE, FelixConfig, load_config_file, resolve
from calico.felix.convert import IPAM_BLOCK_PREFIXES, convert_kv
from calico.felix.dataplane import DataplaneConfig, Encapsulation, InternalDataplane, encapsulation
from calico.felix.dataplane.loop import DataplaneLoop
from calico.felix.dataplane.procsys import RealProcSys
from calico.felix.dataplane.pyroute import LinkMonitor, PyrouteNetlink
from calico.felix.health import HealthAggregator, HealthServer
from calico.felix.iptables import SubprocessRunner
from calico.felix.messages import (
    ConfigUpdate,
    DataplaneMessage,
    IPAMPool,
    IPAMPoolRemove,
    IPAMPoolUpdate,
)
from calico.felix.metrics import FelixMetrics
from calico.felix.status import EndpointStatusReporter, LivenessReporter, region_string
from calico.felix.syncer import Syncer

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_CONFIG_CHANGED = 129
CONFIG_FILE_ENV = "CALICO_FELIX_CONFIG_FILE"
SYNCER_PREFIXES = (RESOURCE_PREFIX, *IPAM_BLOCK_PREFIXES)
MAX_BATCH = 1000  # datastore updates fed to the graph between flushes
LIVENESS_TIMEOUT = 30.0  # a thread that has not ticked for this long is not live


# --- start-up configuration ------------------------------------------------------------


@dataclass(frozen=True)
class Startup:
    """Everything read from the datastore before the pipeline starts."""

    config: FelixConfig
    pools: Mapping[str, IPAMPool] = field(default_factory=dict)
    ipip_tunnel_address: str = ""

    @property
    def encap(self) -> Encapsulation:
        return encapsulation(self.config, self.pools.values())


def load_startup(
    datastore: Datastore, env: Mapping[str, str], file_values: Mapping[str, str]
) -> Startup:
    """Resolve the configuration and read the pools; DatastoreError if unreachable."""
    hostname = resolve(env=env, file_values=file_values).felix_hostname
    config = resolve(
        env=env,
        file_values=file_values,
        host_spec=_spec(datastore, resource_key("FelixConfiguration", f"node.{hostname}")),
        global_spec=_spec(datastore, resource_key("FelixConfiguration", "default")),
    )
    pools: dict[str, IPAMPool] = {}
    for kv in datastore.list(kind_prefix("IPPool"))[0]:
        pool = _pool(kv.key, kv.value)
        if pool is not None:
            pools[kv.key.rsplit("/", 1)[-1]] = pool
    node = _spec(datastore, resource_key("Node", config.felix_hostname)) or {}
    ipip_address = str((node.get("bgp") or {}).get("ipv4IPIPTunnelAddr") or "")
    return Startup(config, pools, ipip_address)


def _spec(datastore: Datastore, key: str) -> dict[str, Any] | None:
    kv = datastore.get(key)
    if kv is None:
        return None
    try:
        value = json.loads(kv.value)
    except ValueError:
        log.warning("Ignoring %s: not JSON", key)
        return None
    spec = value.get("spec") if isinstance(value, dict) else None
    return spec if isinstance(spec, dict) else None


def _pool(key: str, text: str) -> IPAMPool | None:
    try:
        converted = convert_kv(key, json.loads(text))
    except ValueError:
        return None
    model = converted.model if converted is not None else None
    if not isinstance(model, PoolModel):
        return None
    return IPAMPool(
        model.cidr, model.nat_outgoing, model.ipip_mode, model.vxlan_mode, model.disabled
    )


class ConfigWatcher:
    """Spots, in the calc graph's output, changes that need a restart."""

    def __init__(
        self,
        startup: Startup,
        env: Mapping[str, str],
        file_values: Mapping[str, str],
        restart: Callable[[str], None],
    ) -> None:
        self._startup, self._env, self._file = startup, env, file_values
        self._pools = dict(startup.pools)
        self._restart = restart

    def observe(self, messages: list[DataplaneMessage]) -> None:
        pools_changed = False
        for msg in messages:
            if isinstance(msg, ConfigUpdate):
                self._check_config(msg)
            elif isinstance(msg, IPAMPoolUpdate):
                self._pools[msg.id] = msg.pool
                pools_changed = True
            elif isinstance(msg, IPAMPoolRemove):
                self._pools.pop(msg.id, None)
                pools_changed = True
        if pools_changed:
            encap = encapsulation(self._startup.config, self._pools.values())
            if encap != self._startup.encap:
                self._restart(f"encapsulation changed: {self._startup.encap} -> {encap}")

    def _check_config(self, msg: ConfigUpdate) -> None:
        merged = {name: json.loads(value) for name, value in msg.config.items()}
        try:
            new = resolve(env=self._env, file_values=self._file, global_spec=merged)
        except ConfigError as exc:
            self._restart(f"config update failed: {exc}")
            return
        old = self._startup.config
        changed = [f.name for f in fields(new) if getattr(new, f.name) != getattr(old, f.name)]
        if changed:
            self._restart(f"config changed: {', '.join(changed)}")


# --- the calc graph's thread ---------------------------------------------------------------

_IN_SYNC = object()


class CalcThread:
    """Owns the CalcGraph: the syncer's callbacks only enqueue, this thread
    feeds the graph in batches and hands each flush to the dataplane."""

    def __init__(
        self,
        graph: CalcGraph,
        send: Callable[[list[DataplaneMessage]], None],
        watcher: ConfigWatcher,
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        self._graph, self._send, self._watcher = graph, send, watcher
        self._on_fatal = on_fatal
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="felix-calc", daemon=True)
        self.in_sync = False
        self.last_tick = time.monotonic()

    # SyncerCallbacks, called on the syncer's thread.
    def on_update(self, key: str, value: dict[str, Any] | None) -> None:
        self._queue.put((key, value))

    def on_in_sync(self) -> None:
        self._queue.put(_IN_SYNC)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        leftover: object = None
        try:
            while not self._stopping.is_set():
                self.last_tick = time.monotonic()
                if leftover is None:
                    try:
                        leftover = self._queue.get(timeout=1.0)
                    except queue.Empty:
                        continue
                leftover = self._batch(leftover)
        except Exception as exc:  # a bug in the graph: felix cannot go on safely
            log.exception("Calculation graph failed")
            self._on_fatal(exc)

    def _batch(self, item: object) -> object:
        """Feed ``item`` and what queued behind it, up to MAX_BATCH, then flush.
        Returns the first item of the next batch, if the queue had more."""
        for _ in range(MAX_BATCH):
            if item is None:
                break
            self._feed(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = None
                break
        messages = self._graph.flush()
        if messages:
            self._watcher.observe(messages)
            self._send(messages)
        return item

    def _feed(self, item: object) -> None:
        if item is _IN_SYNC:
            self._graph.on_in_sync()
            self.in_sync = True
        elif isinstance(item, tuple):
            key, value = item
            self._graph.on_update(key, value)


# --- the daemon --------------------------------------------------------------------------------

_PORTS = {  # parameter name -> FelixConfig attribute
    "VXLANPort": "vxlan_port",
    "HealthPort": "health_port",
    "PrometheusMetricsPort": "prometheus_metrics_port",
    "MetadataPort": "metadata_port",
}


def check_ports(config: FelixConfig) -> None:
    """ConfigError for a port parameter outside 0-65535 (bind() would raise OverflowError)."""
    for param, attr in _PORTS.items():
        port = getattr(config, attr)
        if not 0 <= port <= 65535:
            raise ConfigError(
                f"{param} (FELIX_{param.upper()}): invalid value {port}: must be 0-65535"
            )


class FelixDaemon:
    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        config_file: str | None = None,
        on_config: Callable[[FelixConfig], None] = lambda _: None,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        if config_file and not os.path.exists(config_file):  # a typo, not "no file"
            raise ConfigError(f"--config-file {config_file}: no such file")
        path = config_file or self._env.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE
        try:
            self._file_values = load_config_file(path)
        except OSError as exc:  # a directory, unreadable, ...
            raise ConfigError(f"felix config file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"felix config file {path}: not UTF-8 text") from None
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
        datastore = open_datastore(load_config(None, self._env))
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
