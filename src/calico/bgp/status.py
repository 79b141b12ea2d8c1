"""``calicoctl node status``: is Calico running, and how are its BGP sessions?

Calico's output, byte for byte (``calicoctl/commands/node/status.go``,
REFERENCE 7.7)::

    Calico process is running.

    IPv4 BGP status
    +--------------+-------------------+-------+----------+-------------+
    | PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |
    +--------------+-------------------+-------+----------+-------------+
    | 172.17.8.102 | node-to-node mesh | up    | 23:10:04 | Established |
    +--------------+-------------------+-------+----------+-------------+

    IPv6 BGP status
    No IPv6 peers found.

Only ``show protocols`` rows of protocol ``BGP`` named
``(Global|Node|Mesh)_<address with _ for . or :>`` are peers.  Calico asks
two daemons (``bird`` for IPv4, ``bird6`` for IPv6); BIRD 2 is one daemon for
both, so both tables come from one socket and a row belongs to the IPv6
table when its recovered address is not an IPv4 one.

"Calico process" means ``calico-felix`` or ``calico-node``, found by the
basename of a process's program or script (``python .../calico-felix``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from calico.bgp.bird_process import is_bird
from calico.bgp.birdcl import BirdClient, BirdError, Reply

# Calico's socket, then the default one of a distribution's BIRD.
DEFAULT_SOCKETS = ("/var/run/calico/bird.ctl", "/var/run/bird/bird.ctl")
CALICO_PROGRAMS = frozenset({"calico-felix", "calico-node"})
NOT_RUNNING = "Calico process is not running."
_PEER_NAME = re.compile(r"^(Global|Node|Mesh)_(.+)$")
_PEER_TYPES = {"Global": "global", "Mesh": "node-to-node mesh", "Node": "node specific"}
_HEADINGS = ["name", "proto", "table", "state", "since", "info"]
_COLUMNS = ("Peer address", "Peer type", "State", "Since", "Info")


class StatusError(BirdError):
    """BIRD's ``show protocols`` output is not in the expected format."""


@dataclass(frozen=True)
class PeerStatus:
    peer_ip: str
    peer_type: str
    state: str
    since: str
    bgp_state: str
    info: str = ""

    @property
    def version(self) -> int:
        try:
            return ipaddress.ip_address(self.peer_ip).version
        except ValueError:
            return 6  # Calico's v6 names do not always round-trip (``::`` -> ``__``)


def parse_peer_line(line: str, ip_sep: str = ".") -> PeerStatus | None:
    """One ``show protocols`` row -> a peer, or None if it is not a Calico BGP peer."""
    columns = line.split()
    if len(columns) < 6 or columns[1] != "BGP":
        return None
    match = _PEER_NAME.match(columns[0])
    if match is None:
        return None
    return PeerStatus(
        peer_ip=match[2].replace("_", ip_sep),
        peer_type=_PEER_TYPES[match[1]],
        state=columns[3],
        since=columns[4],
        bgp_state=columns[5],
        info=" ".join(columns[6:]),
    )


def peers_from_reply(reply: Reply) -> list[PeerStatus]:
    """Every Calico peer in a ``show protocols`` reply, IPv4 and IPv6.

    StatusError if the heading is not BIRD's ``name proto table state since info``.
    """
    headings = reply.texts(2002)
    if headings and [h.lower() for h in headings[0].split()] != _HEADINGS:
        raise StatusError("unknown BIRD table output format")
    peers = []
    for text in reply.texts(1002):
        peer = parse_peer_line(text)
        if peer is not None:
            peers.append(_as_v6_if_needed(text, peer))
    return peers


def _as_v6_if_needed(text: str, peer: PeerStatus) -> PeerStatus:
    if peer.version == 4:
        return peer
    v6 = parse_peer_line(text, ":")
    return v6 if v6 is not None else peer


def format_table(peers: Sequence[PeerStatus]) -> str:
    """The go-pretty default table calicoctl prints (headings upper-case, centred)."""
    rows = [[p.peer_ip, p.peer_type, p.state, p.since, _info(p)] for p in peers]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    heading = _table_row([_centre(c.upper(), w) for c, w in zip(_COLUMNS, widths, strict=True)])
    body = [_table_row([c.ljust(w) for c, w in zip(r, widths, strict=True)]) for r in rows]
    return "\n".join([rule, heading, rule, *body, rule])


def _table_row(cells: list[str]) -> str:
    return "|" + "|".join(f" {cell} " for cell in cells) + "|"


def _info(peer: PeerStatus) -> str:
    return f"{peer.bgp_state} {peer.info}" if peer.info else peer.bgp_state


def _centre(text: str, width: int) -> str:
    left = (width - len(text)) // 2
    return " " * left + text + " " * (width - len(text) - left)


def peers_section(version: int, peers: Sequence[PeerStatus] | None, error: str = "") -> str:
    """``\\nIPv4 BGP status\\n`` and the table, "No IPv4 peers found." or the error."""
    head = f"\nIPv{version} BGP status\n"
    if peers is None:
        # Calico prints this error without a newline of its own.
        return f"{head}Error querying BIRD: unable to connect to BIRDv{version} socket: {error}"
    mine = [p for p in peers if p.version == version]
    if not mine:
        return f"{head}No IPv{version} peers found.\n"
    return f"{head}{format_table(mine)}\n"


def node_status_text(
    *, calico_running: bool, bird_running: bool, query: Callable[[], list[PeerStatus]]
) -> str:
    """The whole output; ``query`` asks BIRD (OSError: cannot connect).

    Raises StatusError(NOT_RUNNING) when Calico is not running, like calicoctl
    (which prints it and exits 1).
    """
    if not calico_running:
        raise StatusError(NOT_RUNNING)
    out = "Calico process is running.\n"
    if not bird_running:
        return out + "\nThe BGP backend process (BIRD) is not running.\n\n"
    try:
        peers: list[PeerStatus] | None = query()
        error = ""
    except OSError as exc:
        peers, error = None, _go_dial_error(exc)
    return out + peers_section(4, peers, error) + peers_section(6, peers, error) + "\n"


def node_status(
    sockets: Sequence[str] = DEFAULT_SOCKETS, cmdlines: Iterable[list[str]] | None = None
) -> str:
    """``calicoctl node status`` on this host: processes from /proc, BIRD via ``sockets``."""
    procs = list(cmdlines if cmdlines is not None else process_cmdlines())
    return node_status_text(
        calico_running=any(is_calico(argv) for argv in procs),
        bird_running=any(is_bird(argv) for argv in procs),
        query=lambda: query_peers(sockets),
    )


def query_peers(sockets: Sequence[str] = DEFAULT_SOCKETS) -> list[PeerStatus]:
    """``show protocols`` on the first socket that accepts a connection."""
    error: OSError = FileNotFoundError("no BIRD socket given")
    for path in sockets:
        try:
            client = BirdClient(path).connect()
        except OSError as exc:
            error = exc
            error.filename = path
            continue
        with client:
            return peers_from_reply(client.command("show protocols"))
    raise error


def is_calico(argv: Sequence[str]) -> bool:
    return any(Path(arg).name in CALICO_PROGRAMS for arg in argv[:2])


def process_cmdlines() -> list[list[str]]:
    """The command line of every process (those that vanish meanwhile are skipped)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            found.append([a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")])
    return found


def _go_dial_error(exc: OSError) -> str:
    """Go's wording: ``dial unix /run/x.ctl: connect: no such file or directory``."""
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return f"dial unix {exc.filename}: connect: {reason}"
