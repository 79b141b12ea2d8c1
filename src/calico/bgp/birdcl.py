"""A client for BIRD's control socket (what ``birdc`` speaks).

The protocol is line-based text over a UNIX stream socket.  On connect BIRD
greets with ``0001 BIRD 2.0.12 ready.``; each command (one line) is answered
by lines of the form::

    CCCC-text     a line with reply code CCCC; more lines follow
     text         (leading space) another line with the previous code
    CCCC text     the last line of the reply (space after the code)

``0000`` ends table-like output (``show protocols``: ``2002-`` heading,
``1002-`` rows); other replies end with their own code (``0003
Reconfigured``, ``0013 Daemon is up and running``).  Codes 8xxx are runtime
errors (``8001 Network not found``, ``8002`` configuration file error) and
9xxx parse errors of the command: both raise BirdError.  Codes are listed in
BIRD's ``doc/reply_codes``.

``parse_reply`` is pure, so captured replies can be tested without a BIRD.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from calico.errors import CalicoError

DEFAULT_TIMEOUT = 5.0
_READY = 1


class BirdError(CalicoError):
    """BIRD answered with an error code, or the socket failed."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class ReplyLine:
    code: int
    text: str


@dataclass(frozen=True)
class Reply:
    lines: tuple[ReplyLine, ...]

    @property
    def code(self) -> int:
        """The code of the final line: 0 for table output, else e.g. 3 (reconfigured)."""
        return self.lines[-1].code if self.lines else 0

    def texts(self, code: int | None = None) -> list[str]:
        """The text of every line (with ``code``, if given)."""
        return [line.text for line in self.lines if code is None or line.code == code]

    def __str__(self) -> str:
        return "\n".join(line.text for line in self.lines if line.text)


@dataclass(frozen=True)
class ProtocolRow:
    """A row of ``show protocols``; ``info`` may hold several words."""

    name: str
    proto: str
    table: str
    state: str
    since: str
    info: str


def parse_reply(lines: Iterable[str]) -> Reply:
    """Parse one reply (without the greeting); BirdError on an error code.

    Stops at the reply's last line; lines after it are not read.
    """
    parsed: list[ReplyLine] = []
    code = -1
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line.startswith(" "):  # continuation of the previous code
            if code < 0:
                raise BirdError(f"unexpected continuation line from BIRD: {line!r}")
            parsed.append(ReplyLine(code, line[1:]))
            continue
        code, last, text = _split_coded(line)
        if code >= 8000:
            raise BirdError(f"BIRD error {code:04d}: {text}", code=code)
        parsed.append(ReplyLine(code, text))
        if last:
            return Reply(tuple(parsed))
    raise BirdError("BIRD reply ended without a final line")


def parse_protocols(reply: Reply) -> list[ProtocolRow]:
    """The rows of a ``show protocols`` reply (heading 2002, rows 1002)."""
    rows = []
    for text in reply.texts(1002):
        fields = text.split(None, 5)
        if len(fields) < 5:
            continue
        name, proto, table, state, since = fields[:5]
        rows.append(ProtocolRow(name, proto, table, state, since, _rest(fields)))
    return rows


def _rest(fields: list[str]) -> str:
    return " ".join(fields[5].split()) if len(fields) > 5 else ""


def _split_coded(line: str) -> tuple[int, bool, str]:
    """``"1002-text"`` -> (1002, False, "text"); ``"0000 "`` -> (0, True, "")."""
    head, sep = line[:4], line[4:5]
    if len(line) < 4 or not head.isdigit() or sep not in ("-", " ", ""):
        raise BirdError(f"unexpected output line from BIRD: {line!r}")
    return int(head), sep != "-", line[5:]


class BirdClient:
    """One connection to a BIRD control socket.  Use as a context manager."""

    def __init__(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._reader: _LineReader | None = None

    def connect(self) -> BirdClient:
        """Connect and read the greeting.  OSError if the socket is absent or refuses."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self._sock, self._reader = sock, _LineReader(sock)
        greeting = parse_reply(self._reader)
        if greeting.code != _READY:
            self.close()
            raise BirdError(f"unexpected greeting from BIRD: {greeting}")
        return self

    def command(self, text: str) -> Reply:
        """Send one command line and return the parsed reply."""
        if self._sock is None or self._reader is None:
            self.connect()
        assert self._sock is not None
        assert self._reader is not None
        try:
            self._sock.sendall(text.encode() + b"\n")
            return parse_reply(self._reader)
        except OSError as exc:
            raise BirdError(f"BIRD socket {self.path}: {exc}") from exc

    def show_protocols(self) -> list[ProtocolRow]:
        return parse_protocols(self.command("show protocols"))

    def show_status(self) -> Reply:
        return self.command("show status")

    def show_route(self, args: str = "") -> Reply:
        return self.command(f"show route {args}".strip())

    def configure(self) -> str:
        """Re-read the config file BIRD was started with.  BirdError if BIRD rejects it."""
        reply = self.command("configure")
        return str(reply)

    def close(self) -> None:
        # The socket only really closes once its file wrapper is closed too.
        if self._reader is not None:
            self._reader.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = None

    def __enter__(self) -> BirdClient:
        if self._sock is None:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _LineReader:
    """Iterates over the lines of a socket; a read timeout raises BirdError."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("r", encoding="utf-8", errors="replace", newline="\n")

    def __iter__(self) -> _LineReader:
        return self

    def close(self) -> None:
        self._file.close()

    def __next__(self) -> str:
        try:
            line = self._file.readline()
        except TimeoutError as exc:
            raise BirdError("timed out waiting for BIRD's reply") from exc
        if not line:
            raise StopIteration
        return line
