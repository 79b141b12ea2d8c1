"""Felix's Prometheus metrics (PrometheusMetricsEnabled, port PrometheusMetricsPort).

Names are Calico's, so existing dashboards and alerts keep working:

* ``felix_int_dataplane_apply_time_seconds`` (histogram): how long each
  dataplane apply took;
* ``felix_int_dataplane_failures`` (gauge-like count): failed applies;
* ``felix_active_local_endpoints`` / ``felix_active_local_policies`` /
  ``felix_ipsets_calico`` (gauges): local workload + host endpoints,
  policies with programmed chains, policy IP sets (per family);
* ``felix_resyncs_started``: datastore (re-)lists since start.

prometheus-client appends ``_total`` to every Counter's name; Calico's Go
counters carry none, so the two counts are exposed as gauges that only ever
go up, under Calico's exact names.

Every metric lives in its own :class:`~prometheus_client.CollectorRegistry`
(not the process-global one), so tests can build as many as they like.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server

from calico.felix.dataplane import ApplyReport

_APPLY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class FelixMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.apply_time = Histogram(
            "felix_int_dataplane_apply_time_seconds",
            "Time in seconds that it took to apply a dataplane update.",
            buckets=_APPLY_BUCKETS,
            registry=r,
        )
        self.apply_failures = Gauge(
            "felix_int_dataplane_failures", "Number of times dataplane updates failed.", registry=r
        )
        self.endpoints = Gauge(
            "felix_active_local_endpoints", "Number of active endpoints on this host.", registry=r
        )
        self.policies = Gauge(
            "felix_active_local_policies", "Number of active policies on this host.", registry=r
        )
        self.ipsets = Gauge("felix_ipsets_calico", "Number of active Calico IP sets.", registry=r)
        self.resyncs = Gauge(
            "felix_resyncs_started", "Number of times Felix has started resyncing.", registry=r
        )

    def on_apply(self, report: ApplyReport) -> None:
        self.apply_time.observe(report.seconds)
        if not report.ok:
            self.apply_failures.inc()
        self.endpoints.set(report.endpoints)
        self.policies.set(report.policies)
        self.ipsets.set(report.ipsets)

    def set_resyncs(self, count: int) -> None:
        self.resyncs.set(count)

    def serve(self, host: str, port: int) -> None:
        """Expose ``/metrics`` on ``host:port`` (all addresses when host is empty)."""
        start_http_server(port, addr=host or "0.0.0.0", registry=self.registry)
