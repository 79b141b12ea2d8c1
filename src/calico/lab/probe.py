"""Can namespace A reach address B? One connection attempt, answered yes or no.

``probe(src_netns, dst_ip, port, protocol, timeout)`` runs a tiny client inside
the source namespace and reports whether it got through:

- ``tcp`` / ``sctp``: the handshake completes *and* the peer's reply line is
  read (the workload server sends one on every connection);
- ``udp``: a datagram goes out and a reply comes back. A closed port answers
  with ICMP port-unreachable, which fails the probe at once;
- ``icmp``: ``ping -c1 -W timeout``.

The TCP/UDP/SCTP client is this module run as a program inside the namespace
(``python -m calico.lab.probe``; exit 0 reachable, 1 not, 2 usage error),
printing the reply on stdout or the reason on stderr. ``timeout`` bounds the
network exchange; starting the client costs another ~30 ms.

SCTP depends on the kernel: this machine's kernel is built without it (no
modules can be loaded either), and asking for an SCTP probe there raises
KernelUnsupportedError instead of reporting every workload unreachable.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from calico.errors import ConfigError, KernelUnsupportedError
from calico.lab import netns

PROTOCOLS = ("tcp", "udp", "sctp", "icmp")
_STARTUP_GRACE = 5.0  # on top of the timeout, for the client process to start


@dataclass(frozen=True)
class ProbeResult:
    reachable: bool
    reply: str  # the server's reply line (empty for icmp or on failure)
    detail: str  # why it failed, when it did


def sctp_supported() -> bool:
    """Whether the kernel can make SCTP sockets (a kernel-wide property)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


def probe(
    src_netns: str, dst_ip: str, port: int = 80, protocol: str = "tcp", timeout: float = 1.0
) -> bool:
    """True if ``dst_ip`` answers on ``port``/``protocol`` from inside ``src_netns``."""
    return probe_result(src_netns, dst_ip, port, protocol, timeout).reachable


def probe_result(
    src_netns: str, dst_ip: str, port: int = 80, protocol: str = "tcp", timeout: float = 1.0
) -> ProbeResult:
    """Like ``probe``, with the reply and the reason for a failure."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)} (value {protocol!r})")
    if protocol == "sctp" and not sctp_supported():
        raise KernelUnsupportedError(
            "kernel has no SCTP support: socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) fails"
        )
    if protocol == "icmp":
        argv = ["ping", "-c1", "-n", "-q", "-W", f"{timeout:g}", dst_ip]
    else:
        client = ["-m", "calico.lab.probe", "--protocol", protocol, "--port", str(port)]
        argv = [sys.executable, *client, "--timeout", f"{timeout:g}", dst_ip]
    try:
        proc = netns.run_in_ns(src_netns, argv, check=False, timeout=timeout + _STARTUP_GRACE)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, "", f"probe client did not finish within {timeout}s")
    if proc.returncode == 0:
        return ProbeResult(True, "" if protocol == "icmp" else proc.stdout.strip(), "")
    return ProbeResult(False, "", (proc.stderr or proc.stdout).strip())


# -- the client, run inside the source namespace ------------------------------------


def _family(dst: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in dst else socket.AF_INET


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.001)


def _stream(dst: str, port: int, proto: int, deadline: float) -> bytes:
    with socket.socket(_family(dst), socket.SOCK_STREAM, proto) as sock:
        sock.settimeout(_remaining(deadline))
        sock.connect((dst, port))
        sock.settimeout(_remaining(deadline))
        return sock.recv(1024)


def _datagram(dst: str, port: int, deadline: float) -> bytes:
    with socket.socket(_family(dst), socket.SOCK_DGRAM) as sock:
        # connect() so that an ICMP port-unreachable surfaces as an error on
        # recv (ECONNREFUSED) instead of being silently dropped.
        sock.connect((dst, port))
        sock.send(b"probe\n")
        sock.settimeout(_remaining(deadline))
        return sock.recv(2048)


def exchange(dst: str, port: int, protocol: str, timeout: float) -> str:
    """One request/reply with ``dst``; raises OSError (incl. timeouts) on failure."""
    deadline = time.monotonic() + timeout
    if protocol == "udp":
        data = _datagram(dst, port, deadline)
    else:
        data = _stream(dst, port, socket.IPPROTO_SCTP if protocol == "sctp" else 0, deadline)
    if not data:
        raise ConnectionError("connection closed without a reply")
    return data.decode(errors="replace").strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calico.lab.probe")
    parser.add_argument("--protocol", choices=("tcp", "udp", "sctp"), default="tcp")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("dst")
    args = parser.parse_args(argv)
    try:
        print(exchange(args.dst, args.port, args.protocol, args.timeout))
    except TimeoutError:
        print(
            f"{args.protocol} {args.dst}:{args.port}: no answer in {args.timeout}s", file=sys.stderr
        )
        return 1
    except OSError as exc:
        print(f"{args.protocol} {args.dst}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
