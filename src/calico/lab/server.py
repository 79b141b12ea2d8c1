"""The workload server: answers on TCP, UDP (and SCTP) ports with its name.

Run inside a workload namespace::

    python -m calico.lab.server --name web1 --tcp 80,81 --udp 80,81 \
        --ready-file /run/calico-lab/L/run/server-web1.ready

Every accepted TCP or SCTP connection gets one line, ``<name> <proto>/<port>``,
then the server closes it; every UDP datagram gets that line back. A lab runs
dozens of these, so the program is one thread around ``selectors`` with only
standard-library imports (about 10 MB resident, 30 ms to start). It creates
the ready file only once every socket is bound and listening, so a probe sent
after the file appears is answered.

Sockets are IPv6 with ``IPV6_V6ONLY`` off, which serves IPv4 and IPv6 alike;
where IPv6 is unavailable they fall back to IPv4. SCTP needs kernel support:
without it the server exits with status 2 and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import selectors
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

_PROTOCOLS = {
    "tcp": (socket.SOCK_STREAM, 0),
    "udp": (socket.SOCK_DGRAM, 0),
    "sctp": (socket.SOCK_STREAM, socket.IPPROTO_SCTP),
}


def _ports(text: str) -> list[int]:
    try:
        ports = [int(p) for p in text.split(",") if p]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"ports must be a comma list of numbers: {text!r}"
        ) from None
    if not all(0 < p < 65536 for p in ports):
        raise argparse.ArgumentTypeError(f"ports must be between 1 and 65535: {text!r}")
    return ports


def _bind(proto: str, port: int) -> socket.socket:
    kind, number = _PROTOCOLS[proto]
    try:
        sock = socket.socket(socket.AF_INET6, kind, number)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address: tuple[str, int] = ("::", port)
    except OSError:
        sock = socket.socket(socket.AF_INET, kind, number)
        address = ("0.0.0.0", port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    if kind == socket.SOCK_STREAM:
        sock.listen(64)
    sock.setblocking(False)
    return sock


def _answer_stream(listener: socket.socket, reply: bytes) -> None:
    with contextlib.suppress(OSError):  # the client may be gone already
        conn, _ = listener.accept()
        with conn:
            conn.send(reply)  # a short line always fits the empty send buffer


def _answer_datagram(sock: socket.socket, reply: bytes) -> None:
    with contextlib.suppress(OSError):
        _, peer = sock.recvfrom(2048)
        sock.sendto(reply, peer)


def serve(name: str, ports: dict[str, list[int]], ready_file: Path | None) -> None:
    """Bind everything, signal readiness, answer forever."""
    selector = selectors.DefaultSelector()
    for proto, numbers in ports.items():
        for port in numbers:
            sock = _bind(proto, port)
            reply = f"{name} {proto}/{port}\n".encode()
            handler = _answer_datagram if proto == "udp" else _answer_stream
            selector.register(sock, selectors.EVENT_READ, (handler, reply))
    if ready_file is not None:
        tmp = ready_file.with_name(ready_file.name + ".tmp")
        tmp.write_text(f"{os.getpid()}\n")
        tmp.replace(ready_file)
    while True:
        for key, _ in selector.select():
            handler, reply = key.data
            handler(key.fileobj, reply)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calico.lab.server")
    parser.add_argument("--name", required=True, help="sent back in every reply")
    for proto in _PROTOCOLS:
        parser.add_argument(f"--{proto}", type=_ports, default=[], metavar="P1,P2")
    parser.add_argument("--ready-file", type=Path, help="created once all ports listen")
    args = parser.parse_args(argv)
    ports = {proto: getattr(args, proto) for proto in _PROTOCOLS}
    try:
        serve(args.name, ports, args.ready_file)
    except OSError as exc:
        if ports["sctp"] and exc.errno == errno.EPROTONOSUPPORT:
            print("server: kernel has no SCTP support", file=sys.stderr)
        else:
            print(f"server: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
