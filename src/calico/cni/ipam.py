"""Delegated IPAM: running the ``ipam.type`` plugin exactly as a runtime would.

SPEC section 4: the delegate is looked up in ``CNI_PATH``, exec'd with the
same environment and the *complete* network config on stdin, and its stderr
goes to ours.  It answers the abbreviated result (``ips``, ``routes``,
``dns``; no interfaces).  On DEL, CHECK, GC and STATUS the delegate is called
too.  ``calico-ipam`` and ``host-local`` are both driven this way; nothing
here knows which one it is talking to.  A delegate that predates spec 1.1
(Debian's host-local speaks up to 1.0.0) does not know GC and STATUS, so
those are forwarded only if its VERSION answer lists 1.1.0, as libcni
decides for the plugins of a network.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Sequence
from typing import Any

from calico.cni.result import Result
from calico.cni.spec import INTERNAL, INVALID_CONFIG, CmdArgs, CniError, at_least

_log = logging.getLogger(__name__)


def find_plugin(name: str, paths: Sequence[str]) -> str:
    """The executable ``name`` in the first ``CNI_PATH`` directory holding it."""
    for directory in paths:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise CniError(INVALID_CONFIG, f'failed to find plugin "{name}" in path {list(paths)}')


def exec_plugin(
    name: str, command: str, args: CmdArgs, stdin: bytes | None = None
) -> dict[str, Any] | None:
    """Run plugin ``name`` for ``command``; its decoded stdout (None if empty).

    A failing delegate's own error (code, msg, details) is raised as a
    CniError, with the message saying which plugin it came from.
    """
    path = find_plugin(name, args.path)
    env = {**os.environ, "CNI_COMMAND": command}
    _log.debug("Running %s %s", path, command)
    proc = subprocess.run(
        [path],
        input=args.stdin if stdin is None else stdin,
        env=env,
        stdout=subprocess.PIPE,
        check=False,
    )
    reply = _decode(name, proc.stdout)
    if proc.returncode != 0:
        raise _delegate_error(name, command, proc.returncode, reply)
    return reply


def add(name: str, args: CmdArgs) -> Result:
    reply = exec_plugin(name, "ADD", args)
    result = Result.from_json(reply or {}, f"result of IPAM plugin {name}")
    if not result.ips:
        raise CniError(INTERNAL, f"IPAM plugin {name} returned no IP addresses")
    return result


def delete(name: str, args: CmdArgs) -> None:
    exec_plugin(name, "DEL", args)


def release_quietly(name: str, args: CmdArgs) -> None:
    """Undo an ADD after a later step failed; the original error matters more."""
    try:
        exec_plugin(name, "DEL", args)
    except Exception as exc:
        _log.error("Could not release the IP addresses of the failed ADD: %s", exc)


def check(name: str, args: CmdArgs) -> None:
    exec_plugin(name, "CHECK", args)


def gc_or_status(name: str, command: str, args: CmdArgs) -> None:
    """Forward GC or STATUS, unless the delegate predates them (it has nothing to do)."""
    if not supports(name, "1.1.0", args):
        _log.info("IPAM plugin %s predates spec 1.1.0; not forwarding %s", name, command)
        return
    exec_plugin(name, command, args)


def supports(name: str, version: str, args: CmdArgs) -> bool:
    """Whether the delegate's VERSION answer lists ``version`` (or a later one)."""
    stdin = json.dumps({"cniVersion": version}).encode()
    reply = exec_plugin(name, "VERSION", args, stdin) or {}
    listed = reply.get("supportedVersions") or []
    return any(isinstance(v, str) and at_least(v, version) for v in listed)


def _decode(name: str, stdout: bytes) -> dict[str, Any] | None:
    if not stdout.strip():
        return None
    try:
        reply = json.loads(stdout)
    except ValueError:
        raise CniError(
            INTERNAL,
            f"IPAM plugin {name} printed something that is not JSON",
            stdout.decode(errors="replace")[:500],
        ) from None
    if not isinstance(reply, dict):
        raise CniError(INTERNAL, f"IPAM plugin {name} printed JSON that is not an object")
    return reply


def _delegate_error(name: str, command: str, rc: int, reply: dict[str, Any] | None) -> CniError:
    if reply is not None and isinstance(reply.get("code"), int):
        msg = f"IPAM plugin {name} {command} failed: {reply.get('msg', '')}"
        return CniError(reply["code"], msg, str(reply.get("details", "")))
    return CniError(INTERNAL, f"IPAM plugin {name} {command} failed (exit status {rc})")
