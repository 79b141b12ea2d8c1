"""The one seam through which felix's drivers run kernel tools.

A driver calls ``runner.run(argv, stdin)`` and gets a :class:`CommandResult`
back; it never touches :mod:`subprocess` itself.  Two implementations:

* :class:`SubprocessRunner` runs the command for real; given ``netns`` it
  prefixes ``ip netns exec <ns>``, which is how the kernel tests program a
  throw-away network namespace instead of the host.
* :class:`FakeRunner` dispatches on the program name to in-memory handlers
  (see :mod:`calico.felix.iptables.fakes` for iptables and ipset emulations)
  and records every call, so unit tests assert on state and on the exact
  restore text without root.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

from calico.errors import CommandFailedError


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


class CommandRunner(Protocol):
    def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        """Run ``argv`` with ``stdin``; never raises for a non-zero exit."""
        ...


class SubprocessRunner:
    """Runs commands on this machine, or inside network namespace ``netns``."""

    def __init__(self, netns: str | None = None, *, timeout: float = 60.0) -> None:
        self.netns = netns
        self.timeout = timeout

    def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)
        try:
            proc = self._spawn(full) if stdin is None else self._spawn_with_input(full, stdin)
        except FileNotFoundError:
            return CommandResult(127, "", f"{full[0]}: command not found")
        except subprocess.TimeoutExpired:
            return CommandResult(-1, "", f"{argv[0]} timed out after {self.timeout}s")
        return CommandResult(proc.returncode, proc.stdout, proc.stderr)

    def _spawn_with_input(self, argv: list[str], text: str) -> subprocess.CompletedProcess[str]:
        """Input from an unlinked temporary file rather than a pipe: feeding a pipe
        takes the GIL for every 4 KiB, which crawls while another thread computes
        (the iptables driver restores on a worker thread while it plans)."""
        try:
            source = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
        except OSError:  # no writable temporary directory: a pipe still works
            return self._spawn(argv, input=text)
        with source:
            source.write(text.encode())
            source.seek(0)
            return self._spawn(argv, stdin=source)

    def _spawn(
        self, argv: list[str], *, stdin: IO[bytes] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            stdin=stdin,
            input=input,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )


def run_checked(runner: CommandRunner, argv: Sequence[str], stdin: str | None = None) -> str:
    """Run and return stdout; a non-zero exit raises :class:`CommandFailedError`."""
    result = runner.run(argv, stdin)
    if result.returncode != 0:
        raise CommandFailedError(argv, result.returncode, result.stderr, stdin)
    return result.stdout


Handler = Callable[[Sequence[str], str | None], CommandResult]


@dataclass
class FakeRunner:
    """In-memory runner: ``handlers`` maps a program name to its emulation.

    ``fail_next(program, result)`` makes the next call to ``program`` return
    ``result`` instead of reaching the handler (failure injection).
    """

    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)
    _failures: dict[str, list[CommandResult]] = field(default_factory=dict)

    def register(self, handler: Handler, *programs: str) -> None:
        for program in programs:
            self.handlers[program] = handler

    def fail_next(self, program: str, result: CommandResult) -> None:
        self._failures.setdefault(program, []).append(result)

    def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        self.calls.append((tuple(argv), stdin))
        program = argv[0]
        if self._failures.get(program):
            return self._failures[program].pop(0)
        handler = self.handlers.get(program)
        if handler is None:
            return CommandResult(127, "", f"{program}: command not found")
        return handler(argv, stdin)

    def calls_to(self, program: str) -> list[tuple[tuple[str, ...], str | None]]:
        return [c for c in self.calls if c[0][0] == program]
