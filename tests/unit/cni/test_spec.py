"""The protocol layer: environment, stdin, versions, error objects, dispatch."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from calico.cni import spec
from calico.cni.spec import CmdArgs, CniError

ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "abc123",
    "CNI_NETNS": "/run/netns/x",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin:/usr/lib/cni",
}
CONFIG = {"cniVersion": "1.0.0", "name": "net", "type": "calico"}


def run(env: dict[str, str], stdin: bytes, handler: Any = None) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    handlers = {"ADD": handler or (lambda args: {"cniVersion": args.version, "ok": True})}
    rc = spec.run(
        handlers, "about", lambda exc: CniError(999, str(exc)), env, io.BytesIO(stdin), out
    )
    return rc, json.loads(out.getvalue()) if out.getvalue() else {}


def test_a_valid_invocation_reaches_the_handler() -> None:
    seen: list[CmdArgs] = []

    def handler(args: CmdArgs) -> dict[str, Any]:
        seen.append(args)
        return {"done": 1}

    env = {**ENV, "CNI_ARGS": "K8S_POD_NAME=p;IgnoreUnknown=1"}
    rc, out = run(env, json.dumps(CONFIG).encode(), handler)
    assert (rc, out) == (0, {"done": 1})
    args = seen[0]
    assert args.path == ("/opt/cni/bin", "/usr/lib/cni")
    assert args.cni_args() == {"K8S_POD_NAME": "p", "IgnoreUnknown": "1"}
    assert args.config == CONFIG
    assert args.version == "1.0.0"


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        ("ADD", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]),
        ("DEL", ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]),
        ("CHECK", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]),
        ("GC", ["CNI_PATH"]),
        ("STATUS", ["CNI_PATH"]),
    ],
)
def test_missing_variables_are_error_4_naming_them(command: str, missing: list[str]) -> None:
    rc, out = run({"CNI_COMMAND": command}, json.dumps(CONFIG).encode())
    assert rc == 1
    assert out["code"] == spec.INVALID_ENV
    assert out["msg"] == f"required env variables [{','.join(missing)}] missing"


def test_del_does_not_need_a_netns() -> None:
    env = {k: v for k, v in ENV.items() if k != "CNI_NETNS"} | {"CNI_COMMAND": "DEL"}
    args = spec.args_from_env(env, json.dumps(CONFIG).encode())
    assert args.netns == ""


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("CNI_CONTAINERID", "-starts-with-dash"),
        ("CNI_CONTAINERID", "has space"),
        ("CNI_IFNAME", "a" * 16),
        ("CNI_IFNAME", "eth/0"),
        ("CNI_IFNAME", "eth:0"),
        ("CNI_IFNAME", ".."),
        ("CNI_COMMAND", "FROB"),
        ("CNI_ARGS", "novalue"),
    ],
)
def test_invalid_variables_are_error_4(var: str, value: str) -> None:
    rc, out = run({**ENV, var: value}, json.dumps(CONFIG).encode())
    assert (rc, out["code"]) == (1, spec.INVALID_ENV)


@pytest.mark.parametrize(
    ("stdin", "code"),
    [
        (b"{not json", spec.DECODE_FAILURE),
        (b"\xff\xfe", spec.DECODE_FAILURE),
        (b"[1, 2]", spec.DECODE_FAILURE),
        (b'{"cniVersion": "1.0.0"}', spec.INVALID_CONFIG),
        (b'{"cniVersion": "1.0.0", "name": "bad name!"}', spec.INVALID_CONFIG),
        (b'{"cniVersion": 1, "name": "n"}', spec.DECODE_FAILURE),
        (b'{"cniVersion": "x.y", "name": "n"}', spec.DECODE_FAILURE),
        (b'{"cniVersion": "9.9.9", "name": "n"}', spec.INCOMPATIBLE_VERSION),
        (b'{"cniVersion": "0.2.0", "name": "n"}', spec.INCOMPATIBLE_VERSION),
        (b'{"name": "n"}', spec.INCOMPATIBLE_VERSION),  # no version means 0.1.0
    ],
)
def test_bad_config_codes(stdin: bytes, code: int) -> None:
    rc, out = run(ENV, stdin)
    assert (rc, out["code"]) == (1, code)
    assert set(out) == {"cniVersion", "code", "msg", "details"}


@pytest.mark.parametrize(
    ("command", "version", "allowed"),
    [
        ("CHECK", "0.3.1", False),
        ("CHECK", "0.4.0", True),
        ("GC", "1.0.0", False),
        ("GC", "1.1.0", True),
        ("STATUS", "1.0.0", False),
        ("STATUS", "1.1.0", True),
        ("ADD", "0.3.0", True),
    ],
)
def test_commands_need_their_spec_version(command: str, version: str, allowed: bool) -> None:
    if allowed:
        spec.check_version(command, version)
    else:
        with pytest.raises(CniError) as info:
            spec.check_version(command, version)
        assert info.value.code == spec.INCOMPATIBLE_VERSION


def test_version_command_echoes_the_requested_version_and_needs_nothing_else() -> None:
    rc, out = run({"CNI_COMMAND": "VERSION"}, b'{"cniVersion": "0.4.0"}')
    assert rc == 0
    assert out == {"cniVersion": "0.4.0", "supportedVersions": list(spec.SUPPORTED_VERSIONS)}
    assert spec.version_reply(b"")["cniVersion"] == spec.LATEST_VERSION


def test_no_command_prints_about_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run({}, b"")
    assert (rc, out) == (0, {})
    err = capsys.readouterr().err
    assert "about" in err
    assert "CNI protocol versions supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0" in err


def test_handler_errors_become_error_objects() -> None:
    def fails(args: CmdArgs) -> None:
        raise CniError(spec.TRY_AGAIN_LATER, "not yet", "calico-node is starting")

    rc, out = run(ENV, json.dumps(CONFIG).encode(), fails)
    assert rc == 1
    assert out == {
        "cniVersion": "1.0.0",
        "code": 11,
        "msg": "not yet",
        "details": "calico-node is starting",
    }


def test_unexpected_exceptions_are_classified() -> None:
    def crashes(args: CmdArgs) -> None:
        raise RuntimeError("boom")

    rc, out = run(ENV, json.dumps(CONFIG).encode(), crashes)
    assert (rc, out["code"], out["msg"]) == (1, 999, "boom")


def test_version_key() -> None:
    assert spec.version_key("") == (0, 1, 0)
    assert spec.version_key("1.1") == (1, 1, 0)
    assert spec.at_least("1.1.0", "1.0.0")
    assert not spec.at_least("0.4.0", "1.0.0")
