"""A stand-in for BIRD's control socket: greets, then answers commands from a table.

It speaks the real wire format (captured from BIRD 2.0.12), so BirdClient and
everything above it can be tested without root or a running BIRD.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

GREETING = "0001 BIRD 2.0.12 ready.\n"

# Replies captured from BIRD 2.0.12 in a lab namespace.
SHOW_PROTOCOLS = (
    "2002-Name       Proto      Table      State  Since         Info\n"
    "1002-device1    Device     ---        up     06:13:14      \n"
    " direct1    Direct     ---        up     06:13:14      \n"
    " kernel1    Kernel     master4    up     06:13:14      \n"
    " static1    Static     master4    up     06:13:14      \n"
    " Mesh_10_77_0_2 BGP        ---        up     06:13:23      Established   \n"
    " Global_10_77_0_254 BGP        ---        start  06:13:14      Active        "
    "Socket: Connection refused\n"
    "0000 \n"
)
SHOW_STATUS = (
    "1000-BIRD 2.0.12\n"
    "1011-Router ID is 10.77.0.1\n"
    " Hostname is vm\n"
    " Current server time is 2026-11-21 06:16:18.827\n"
    " Last reboot on 2026-11-21 06:13:14.759\n"
    " Last reconfiguration on 2026-11-21 06:13:23.545\n"
    "0013 Daemon is up and running\n"
)
CONFIGURE = "0002-Reading configuration from /etc/calico/bird/bird.cfg\n0003 Reconfigured\n"
CONFIGURE_ERROR = "0002-Reading configuration from bird.cfg\n8002 bird.cfg:7:21 syntax error\n"
UNKNOWN = "9001 syntax error, unexpected CF_SYM_UNDEFINED\n"


class FakeBird:
    """Listens on ``path``; ``replies`` maps a command line to its raw reply."""

    def __init__(self, path: Path, replies: Mapping[str, str]) -> None:
        self.path = path
        self.replies = dict(replies)
        self.commands: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            with conn, conn.makefile("rw", encoding="utf-8", newline="\n") as stream:
                stream.write(GREETING)
                stream.flush()
                for line in stream:
                    command = line.strip()
                    self.commands.append(command)
                    stream.write(self.replies.get(command, UNKNOWN))
                    stream.flush()

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone does not.
        self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=2)

    def __enter__(self) -> FakeBird:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
