"""Felix's health endpoints: ``/liveness`` and ``/readiness`` on HealthHost:HealthPort.

Calico's ``felix/health``: components register a check; the aggregate is
live when every component is live and ready when every component is ready.
An HTTP GET returns 200 when the aggregate holds, 503 otherwise, with a JSON
body naming each component's state so an operator can see *which* part is
unhappy::

    {"live": true, "ready": false,
     "components": {"dataplane": {"live": true, "ready": false}, ...}}

Checks are callables evaluated per request (cheap reads of flags the
components maintain), so nothing here needs its own clock or thread beyond
the HTTP server's.  Kubernetes probes /liveness to restart a wedged felix
and /readiness to know the node's policy is programmed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

Check = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class _Component:
    live: Check
    ready: Check


class HealthAggregator:
    def __init__(self) -> None:
        self._components: dict[str, _Component] = {}
        self._lock = threading.Lock()

    def register(self, name: str, *, live: Check, ready: Check) -> None:
        with self._lock:
            self._components[name] = _Component(live, ready)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            components = dict(self._components)
        states = {
            name: {"live": _safe(c.live), "ready": _safe(c.ready)}
            for name, c in sorted(components.items())
        }
        return {
            "live": all(s["live"] for s in states.values()),
            "ready": all(s["ready"] for s in states.values()),
            "components": states,
        }


def _safe(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:  # a broken check means "not healthy", never a 500
        log.exception("Health check failed")
        return False


class HealthServer:
    """Serves the aggregate on ``host:port`` from a daemon thread."""

    def __init__(self, aggregator: HealthAggregator, host: str, port: int) -> None:
        handler = _handler_for(aggregator)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="felix-health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(aggregator: HealthAggregator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path not in ("/liveness", "/readiness"):
                self._send(404, {"error": f"no such endpoint {path or '/'}"})
                return
            summary = aggregator.summary()
            healthy = summary["live"] if path == "/liveness" else summary["ready"]
            self._send(200 if healthy else 503, summary)

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = (json.dumps(body) + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("health: " + format, *args)

    return Handler
