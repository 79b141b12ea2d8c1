"""Node diagnostics: one tarball with everything needed to debug a host.

What ``calicoctl node diags`` gathers (``calicoctl/commands/node/diags.go``):
the date and host name, routes, addresses, links and neighbours, the
iptables / ip6tables / ipset / nftables state, sockets, BIRD's view
(``show protocols all`` and ``show route`` through its control socket) and
the Calico logs.  It runs in the current network namespace, so run it inside
the host's namespace (``ip netns exec``) to diagnose a lab host.

A diagnostics run must not give up half-way: the host being debugged is
often broken.  Every command's outcome goes into the tarball: its output in
``<name>.txt`` or, when it failed or is missing, the reason in the same
file, and a one-line summary per command in ``index.txt``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from calico.bgp.bird_process import DEFAULT_SOCKET
from calico.bgp.birdcl import BirdClient, BirdError

COMMAND_TIMEOUT = 20.0

# (file name in the tarball, argv)
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("date", ("date", "--iso-8601=seconds")),
    ("hostname", ("hostname",)),
    ("ipv4_route", ("ip", "-4", "route", "show", "table", "all")),
    ("ipv6_route", ("ip", "-6", "route", "show", "table", "all")),
    ("ip_rule", ("ip", "rule", "show")),
    ("ipv4_addr", ("ip", "-4", "addr", "show")),
    ("ipv6_addr", ("ip", "-6", "addr", "show")),
    ("ip_link", ("ip", "-d", "link", "show")),
    ("ip_neigh", ("ip", "neigh", "show")),
    ("bridge_fdb", ("bridge", "fdb", "show")),
    ("iptables_save", ("iptables-save", "-c")),
    ("ip6tables_save", ("ip6tables-save", "-c")),
    ("ipset_list", ("ipset", "list")),
    ("nft_ruleset", ("nft", "-n", "-a", "list", "ruleset")),
    ("ss", ("ss", "-a", "-n")),
)
BIRD_COMMANDS = (("bird_protocols", "show protocols all"), ("bird_routes", "show route"))


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    what: str  # the command, for the index
    ok: bool
    detail: str  # "ok" or why not


def collect_diags(
    dest: str | Path,
    log_dirs: Sequence[str | Path] = (),
    bird_socket: str | Path = DEFAULT_SOCKET,
    *,
    commands: Sequence[tuple[str, Sequence[str]]] = COMMANDS,
    timeout: float = COMMAND_TIMEOUT,
) -> Path:
    """Write the diagnostics tarball and return its path.

    ``dest`` is the tarball itself if it ends in ``.tar.gz`` or ``.tgz``,
    otherwise a directory that receives ``diags-<host>-<time>.tar.gz``.
    """
    top = f"diags-{socket.gethostname()}-{datetime.now().strftime('%Y%m%d_%H%M%S')}"
    target = _target(Path(dest), top)
    with tempfile.TemporaryDirectory(prefix="calico-diags-") as tmp:
        work = Path(tmp) / top
        work.mkdir()
        outcomes = [_run(work, name, argv, timeout) for name, argv in commands]
        outcomes += [_bird(work, name, cmd, str(bird_socket)) for name, cmd in BIRD_COMMANDS]
        outcomes += [_copy_logs(work, Path(d)) for d in log_dirs]
        (work / "index.txt").write_text("".join(_index_line(o) for o in outcomes))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(work, arcname=top)
        os.replace(partial, target)  # never leave a half-written tarball behind
    return target


def _target(dest: Path, top: str) -> Path:
    if dest.name.endswith((".tar.gz", ".tgz")):
        return dest
    return dest / f"{top}.tar.gz"


def _run(work: Path, name: str, argv: Sequence[str], timeout: float) -> Outcome:
    what = " ".join(argv)
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        return _failed(work, name, what, f"{argv[0]}: command not found")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _failed(work, name, what, str(exc))
    if proc.returncode != 0:
        reason = f"exit code {proc.returncode}: {proc.stderr.strip() or 'no error output'}"
        return _failed(work, name, what, reason, proc.stdout)
    (work / f"{name}.txt").write_text(proc.stdout)
    return Outcome(name, what, True, "ok")


def _bird(work: Path, name: str, command: str, sock: str) -> Outcome:
    what = f"birdc -s {sock} {command}"
    try:
        with BirdClient(sock, timeout=10.0) as bird:
            reply = bird.command(command)
    except (OSError, BirdError) as exc:
        return _failed(work, name, what, f"BIRD not reachable: {exc}")
    (work / f"{name}.txt").write_text(f"{reply}\n")
    return Outcome(name, what, True, "ok")


def _copy_logs(work: Path, log_dir: Path) -> Outcome:
    name = f"logs/{log_dir.name or 'root'}"
    what = f"copy {log_dir}"
    if not log_dir.is_dir():
        return Outcome(name, what, False, "no such directory")
    dest = work / name
    try:
        # Only regular files: sockets and FIFOs in a log dir are not logs.
        shutil.copytree(log_dir, dest, ignore=_not_regular, dirs_exist_ok=True)
    except (OSError, shutil.Error) as exc:
        return Outcome(name, what, False, f"partly copied: {exc}")
    return Outcome(name, what, True, "ok")


def _not_regular(directory: str, names: list[str]) -> list[str]:
    base = Path(directory)
    return [n for n in names if not (base / n).is_dir() and not (base / n).is_file()]


def _failed(work: Path, name: str, what: str, reason: str, output: str = "") -> Outcome:
    text = f"# {what}\n# FAILED: {reason}\n{output}"
    (work / f"{name}.txt").write_text(text)
    return Outcome(name, what, False, reason)


def _index_line(outcome: Outcome) -> str:
    state = "ok    " if outcome.ok else "FAILED"
    first = outcome.detail.splitlines()[0] if outcome.detail else ""
    suffix = "" if outcome.ok else f" ({first})"
    return f"{state} {outcome.name}: {outcome.what}{suffix}\n"
