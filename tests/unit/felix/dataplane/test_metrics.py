"""Prometheus metrics under Calico's names."""

from __future__ import annotations

from prometheus_client import generate_latest

from calico.felix.dataplane import ApplyReport
from calico.felix.metrics import FelixMetrics


def test_apply_reports_feed_the_metrics() -> None:
    metrics = FelixMetrics()
    metrics.on_apply(ApplyReport(0.02, True, endpoints=3, policies=2, ipsets=5))
    metrics.on_apply(ApplyReport(0.5, False, endpoints=3, policies=2, ipsets=5))
    metrics.set_resyncs(2)
    text = generate_latest(metrics.registry).decode()
    assert "felix_int_dataplane_apply_time_seconds_count 2.0" in text
    assert 'felix_int_dataplane_apply_time_seconds_bucket{le="0.025"} 1.0' in text
    assert "felix_int_dataplane_failures 1.0" in text
    assert "felix_active_local_endpoints 3.0" in text
    assert "felix_active_local_policies 2.0" in text
    assert "felix_ipsets_calico 5.0" in text
    assert "felix_resyncs_started 2.0" in text
