"""The CNI protocol as a plugin sees it (SPEC.md 1.1.0 and libcni's ``pkg/skel``).

A plugin is exec'd once per operation.  Its parameters come from environment
variables, its network configuration as JSON on stdin; it answers with JSON on
stdout and exits 0, or prints an error object on stdout and exits non-zero.
Logs go to stderr (or a file), never stdout: the runtime parses stdout.

libcni's ``skel`` fixes details the SPEC leaves open, and runtimes depend on
them, so :func:`run` reproduces them:

* which variables each command requires (a missing one is error 4 naming it;
  an empty value counts as missing) and the syntax of the container ID and
  interface name;
* no ``CNI_COMMAND`` at all prints an "about" line and the supported versions
  on stderr and exits 0 (how an operator asks a plugin what it is);
* the config must decode (6) and carry a valid ``name`` (7); its
  ``cniVersion`` must be one we support (1); CHECK needs >= 0.4.0 and
  GC/STATUS >= 1.1.0;
* the error object goes to **stdout** (``types.Error.Print``), exit code 1.

This module knows nothing about Calico: the commands are handlers passed to
:func:`run`, and ``classify`` turns the exceptions they raise into CNI errors.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
LATEST_VERSION = "1.1.0"

# Well-known error codes (SPEC section 5, plus libcni's 8 and 999).
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENV = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
INVALID_NETNS = 8
TRY_AGAIN_LATER = 11
NOT_AVAILABLE = 50
INTERNAL = 999
# Calico's own codes (100+ is the plugin-specific range).
IPAM_FAILURE = 100
DATAPLANE_FAILURE = 101
DATASTORE_FAILURE = 102
CHECK_FAILED = 103

COMMANDS = ("ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION")
# Which commands require each variable (skel ``getCmdArgsFromEnv``).
_REQUIRED_BY = {
    "CNI_CONTAINERID": ("ADD", "CHECK", "DEL"),
    "CNI_NETNS": ("ADD", "CHECK"),
    "CNI_IFNAME": ("ADD", "CHECK", "DEL"),
    "CNI_PATH": ("ADD", "CHECK", "DEL", "GC", "STATUS"),
}
# Commands that only exist from a given spec version on.
_MIN_VERSION = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}
_VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")
_MAX_IFNAME = 15  # IFNAMSIZ - 1

_log = logging.getLogger(__name__)


class CniError(Exception):
    """An error the plugin reports to the runtime as ``{code, msg, details}``."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"{msg}: {details}" if details else msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, version: str) -> dict[str, Any]:
        return {"cniVersion": version, "code": self.code, "msg": self.msg, "details": self.details}


@dataclass(frozen=True)
class CmdArgs:
    """One invocation: the environment parameters and the decoded config."""

    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: str = ""  # CNI_ARGS, "K1=V1;K2=V2"
    path: tuple[str, ...] = ()
    stdin: bytes = b""
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.config.get("cniVersion", ""))

    def cni_args(self) -> dict[str, str]:
        return parse_cni_args(self.args)


Handler = Callable[[CmdArgs], "dict[str, Any] | None"]
Classifier = Callable[[Exception], CniError]


def parse_cni_args(text: str) -> dict[str, str]:
    """``CNI_ARGS`` as a dict; a pair without ``=`` is error 4 (libcni LoadArgs)."""
    pairs: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CniError(INVALID_ENV, "invalid CNI_ARGS", f"pair {item!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


def version_key(version: str) -> tuple[int, int, int]:
    """``"1.0.0"`` -> (1, 0, 0); an empty version means 0.1.0, as in libcni."""
    if version == "":
        return (0, 1, 0)
    parts = version.split(".")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if not 1 <= len(numbers) <= 3:
        raise CniError(
            DECODE_FAILURE, "invalid cniVersion", f"{version!r} is not MAJOR.MINOR.PATCH"
        )
    major, minor, patch = [*numbers, 0, 0][:3]
    return major, minor, patch


def at_least(version: str, minimum: str) -> bool:
    return version_key(version) >= version_key(minimum)


# -- reading the invocation ------------------------------------------------------


def args_from_env(env: Mapping[str, str], stdin: bytes) -> CmdArgs:
    """Validate the environment and stdin for the command ``env`` asks for."""
    command = env.get("CNI_COMMAND", "")
    if command not in COMMANDS:
        raise CniError(INVALID_ENV, f"unknown CNI_COMMAND: {command}")
    missing = [v for v, cmds in _REQUIRED_BY.items() if command in cmds and not env.get(v)]
    if missing:
        raise CniError(INVALID_ENV, f"required env variables [{','.join(missing)}] missing")
    args = CmdArgs(
        command=command,
        container_id=env.get("CNI_CONTAINERID", ""),
        netns=env.get("CNI_NETNS", ""),
        ifname=env.get("CNI_IFNAME", ""),
        args=env.get("CNI_ARGS", ""),
        path=tuple(p for p in env.get("CNI_PATH", "").split(":") if p),
        stdin=stdin,
    )
    if command in _REQUIRED_BY["CNI_CONTAINERID"]:
        validate_container_id(args.container_id)
        validate_ifname(args.ifname)
        parse_cni_args(args.args)
    if command == "VERSION":
        return args
    config = decode_config(stdin)
    check_version(command, str(config.get("cniVersion", "")))
    return dataclasses.replace(args, config=config)


def decode_config(stdin: bytes) -> dict[str, Any]:
    """The network config: a JSON object with a valid ``name`` (6 / 7 otherwise)."""
    try:
        config = json.loads(stdin)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
        raise CniError(DECODE_FAILURE, "error unmarshalling network config", str(exc)) from None
    if not isinstance(config, dict):
        raise CniError(DECODE_FAILURE, "error unmarshalling network config", "not a JSON object")
    name = config.get("name")
    if not name:
        raise CniError(INVALID_CONFIG, "missing network name")
    if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
        raise CniError(INVALID_CONFIG, "invalid characters found in network name", str(name))
    if not isinstance(config.get("cniVersion", ""), str):
        raise CniError(DECODE_FAILURE, "invalid cniVersion", "cniVersion must be a string")
    return config


def check_version(command: str, version: str) -> None:
    """Error 1 unless ``version`` is supported and allows ``command``."""
    version_key(version)  # 6 if it does not even parse
    if version not in SUPPORTED_VERSIONS:
        raise CniError(
            INCOMPATIBLE_VERSION,
            "incompatible CNI versions",
            f"config is {version!r}, plugin supports {list(SUPPORTED_VERSIONS)}",
        )
    minimum = _MIN_VERSION.get(command)
    if minimum and not at_least(version, minimum):
        raise CniError(INCOMPATIBLE_VERSION, f"config version does not allow {command}")


def validate_container_id(container_id: str) -> None:
    if not _VALID_NAME.fullmatch(container_id):
        raise CniError(INVALID_ENV, "invalid characters in containerID", container_id)


def validate_ifname(ifname: str) -> None:
    problem = ""
    if len(ifname) > _MAX_IFNAME:
        problem = f"interface name is too long (max {_MAX_IFNAME} characters)"
    elif ifname in (".", ".."):
        problem = "interface name is . or .."
    elif any(c in "/:" or c.isspace() for c in ifname):
        problem = "interface name contains / or : or whitespace characters"
    if problem:
        raise CniError(INVALID_ENV, f"invalid CNI_IFNAME: {problem}", ifname)


# -- the dispatcher --------------------------------------------------------------


def run(
    handlers: Mapping[str, Handler],
    about: str,
    classify: Classifier,
    env: Mapping[str, str] = os.environ,
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run one plugin invocation; returns the process exit code."""
    out = stdout or sys.stdout
    if not env.get("CNI_COMMAND"):
        print(about, file=sys.stderr)
        print(f"CNI protocol versions supported: {', '.join(SUPPORTED_VERSIONS)}", file=sys.stderr)
        return 0
    raw = b""
    try:
        raw = _read_stdin(stdin or sys.stdin.buffer)
        reply = _dispatch(handlers, args_from_env(env, raw))
    except Exception as exc:
        error = _as_cni_error(exc, classify)
        _log.error("CNI %s failed: %s", env.get("CNI_COMMAND"), error)
        _write(out, error.to_json(_error_version(raw)))
        return 1
    if reply is not None:
        _write(out, reply)
    return 0


def _dispatch(handlers: Mapping[str, Handler], args: CmdArgs) -> dict[str, Any] | None:
    if args.command == "VERSION":
        return version_reply(args.stdin)
    handler = handlers.get(args.command)
    if handler is None:
        raise CniError(INVALID_ENV, f"unknown CNI_COMMAND: {args.command}")
    return handler(args)


def _as_cni_error(exc: Exception, classify: Classifier) -> CniError:
    if isinstance(exc, CniError):
        return exc
    error = classify(exc)
    if error.code == INTERNAL:  # a bug, not a condition: keep the traceback
        _log.error("Unexpected failure:\n%s", traceback.format_exc())
    return error


def version_reply(stdin: bytes) -> dict[str, Any]:
    """VERSION echoes the ``cniVersion`` it was given (or the latest)."""
    try:
        given = json.loads(stdin or b"{}").get("cniVersion") or LATEST_VERSION
    except (ValueError, AttributeError):
        given = LATEST_VERSION
    return {"cniVersion": given, "supportedVersions": list(SUPPORTED_VERSIONS)}


def _read_stdin(stream: BinaryIO) -> bytes:
    try:
        return stream.read()
    except OSError as exc:
        raise CniError(IO_FAILURE, "error reading from stdin", str(exc)) from None


def _error_version(raw: bytes) -> str:
    """The version to stamp on an error: the request's, if we speak it."""
    try:
        version = json.loads(raw).get("cniVersion")
    except (ValueError, AttributeError):
        return LATEST_VERSION
    return version if version in SUPPORTED_VERSIONS else LATEST_VERSION


def _write(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj))
    out.write("\n")
    out.flush()
