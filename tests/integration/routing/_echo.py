"""One long-lived TCP connection, watched: an echo server and a pinging client.

Run inside workload namespaces by path (standard library only, no ``calico``
import, so it starts in ~30 ms)::

    python _echo.py server --port 8080 --ready-file F
    python _echo.py client 10.244.1.2 8080

The lab's workload server answers one line and closes, which says nothing
about connections that were *already established* when something broke.
This client connects once and then sends a numbered line every
``--interval`` seconds over that same connection, checking each echo. It
records the longest gap between two good round trips (a dropped route shows
up as TCP retransmissions, i.e. a gap, before it shows up as an error). Each
line ``stats`` on its stdin is answered with one JSON line on stdout::

    {"local_port": 41234, "count": 812, "max_gap": 0.061, "error": null}

``max_gap`` includes the time since the last good round trip, so a
connection that hangs right now is not reported healthy. The first error
(reset, timeout, wrong echo) stops the pinging and is kept in ``error``.
EOF on stdin closes the connection and exits.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path


def _serve_one(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)


def serve(port: int, ready_file: Path | None) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(16)
    if ready_file is not None:
        tmp = ready_file.with_name(ready_file.name + ".tmp")
        tmp.write_text("ready\n")
        tmp.replace(ready_file)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(conn,), daemon=True).start()


class Pinger:
    def __init__(self, dst: str, port: int, interval: float, timeout: float) -> None:
        self.sock = socket.create_connection((dst, port), timeout=timeout)
        self.interval = interval
        self.count = 0
        self.max_gap = 0.0
        self.last_ok = time.monotonic()
        self.error: str | None = None
        self.lock = threading.Lock()

    def run(self) -> None:
        reader = self.sock.makefile("rb")
        seq = 0
        while self.error is None:
            seq += 1
            try:
                self.sock.sendall(f"{seq}\n".encode())
                echo = reader.readline()
            except OSError as exc:
                self._fail(f"{type(exc).__name__}: {exc}")
                return
            if echo != f"{seq}\n".encode():
                self._fail(f"sent {seq}, got {echo!r}")
                return
            now = time.monotonic()
            with self.lock:
                self.max_gap = max(self.max_gap, now - self.last_ok)
                self.last_ok = now
                self.count += 1
            time.sleep(self.interval)

    def _fail(self, error: str) -> None:
        with self.lock:
            self.error = error

    def stats(self) -> dict[str, object]:
        with self.lock:
            gap = max(self.max_gap, time.monotonic() - self.last_ok)
            return {
                "local_port": self.sock.getsockname()[1],
                "count": self.count,
                "max_gap": round(gap, 3),
                "error": self.error,
            }


def client(dst: str, port: int, interval: float, timeout: float) -> int:
    pinger = Pinger(dst, port, interval, timeout)
    threading.Thread(target=pinger.run, daemon=True).start()
    for line in sys.stdin:
        if line.strip() == "stats":
            print(json.dumps(pinger.stats()), flush=True)
    pinger.sock.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="_echo.py")
    sub = parser.add_subparsers(dest="mode", required=True)
    srv = sub.add_parser("server")
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--ready-file", type=Path)
    cli = sub.add_parser("client")
    cli.add_argument("dst")
    cli.add_argument("port", type=int)
    cli.add_argument("--interval", type=float, default=0.05)
    cli.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.mode == "server":
        serve(args.port, args.ready_file)
        return 0
    return client(args.dst, args.port, args.interval, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
