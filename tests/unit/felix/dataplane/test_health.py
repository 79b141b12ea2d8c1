"""Health aggregation and the HTTP endpoints (driven over a socketpair: no network)."""

from __future__ import annotations

import json
import socket
from typing import Any

from calico.felix.health import HealthAggregator, _handler_for


def get(aggregator: HealthAggregator, path: str) -> tuple[int, dict[str, Any]]:
    """One HTTP request through the real handler, over a Unix socketpair."""
    server_side, client_side = socket.socketpair()
    with server_side, client_side:
        client_side.sendall(f"GET {path} HTTP/1.0\r\nHost: felix\r\n\r\n".encode())
        _handler_for(aggregator)(server_side, ("test", 0), None)  # type: ignore[arg-type]
        server_side.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := client_side.recv(4096):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_ready_and_live_only_when_every_component_is() -> None:
    state = {"ready": False}
    health = HealthAggregator()
    health.register("dataplane", live=lambda: True, ready=lambda: state["ready"])
    health.register("calc", live=lambda: True, ready=lambda: True)
    assert get(health, "/liveness")[0] == 200
    code, body = get(health, "/readiness")
    assert code == 503
    assert body["components"]["dataplane"] == {"live": True, "ready": False}
    state["ready"] = True
    assert get(health, "/readiness")[0] == 200


def test_a_failing_check_is_unhealthy_not_an_error() -> None:
    health = HealthAggregator()

    def broken() -> bool:
        raise RuntimeError("boom")

    health.register("x", live=broken, ready=broken)
    assert get(health, "/liveness")[0] == 503


def test_unknown_paths_are_404() -> None:
    assert get(HealthAggregator(), "/metrics")[0] == 404
