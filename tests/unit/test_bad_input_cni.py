"""Bad input to the real CNI plugins: the CNI error object, the right code, nothing else.

A runtime parses the plugin's stdout, so a bad invocation must print exactly
one JSON error object there (``cniVersion``, ``code``, ``msg``, ``details``),
exit 1, say in ``msg``/``details`` which variable or field is wrong and its
value, and leave logs (never a traceback) to stderr.  Codes are the CNI
SPEC's: 1 incompatible version, 2 unsupported field, 4 invalid environment
variables, 6 decoding failure, 7 invalid network config.

Every case fails before the plugin looks at a network namespace
(``CNI_NETNS`` names one that does not exist) and before it opens the
datastore, whose file must not exist afterwards.  The cases run concurrently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


def _exe(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name) or name


CALICO, CALICO_IPAM = _exe("calico"), _exe("calico-ipam")
CNI_PATH = str(Path(CALICO_IPAM).parent)  # where the delegate, calico-ipam, is found
DB = "calico.db"
TIMEOUT = 30.0

INCOMPATIBLE_VERSION, UNSUPPORTED_FIELD, INVALID_ENV, DECODE_FAILURE, INVALID_CONFIG = 1, 2, 4, 6, 7

CONFIG: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "name": "net",
    "type": "calico",
    "ipam": {"type": "calico-ipam"},
    "nodename": "n1",
    "nodename_file_optional": True,
}
ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "abc123",
    "CNI_NETNS": "/run/netns/calico-bad-input-does-not-exist",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": CNI_PATH,
}


def with_config(**changes: Any) -> bytes:
    """CONFIG with keys changed (a value of None removes the key), as JSON."""
    conf = {k: v for k, v in {**CONFIG, **changes}.items() if v is not None}
    return json.dumps(conf).encode()


@dataclass(frozen=True)
class Case:
    """``env`` is merged into ENV (None unsets a variable); ``expect``: substrings of
    ``msg + ' ' + details``; ``version``: the cniVersion the error must carry."""

    id: str
    code: int
    expect: tuple[str, ...]
    stdin: bytes = field(default_factory=with_config)
    env: Mapping[str, str | None] = field(default_factory=dict)
    plugin: str = CALICO
    version: str = "1.0.0"


def _missing(command: str, var: str, plugin: str = CALICO) -> Case:
    name = "ipam" if plugin == CALICO_IPAM else "calico"
    return Case(
        f"{name}-{command.lower()}-without-{var.lower()}",
        INVALID_ENV,
        (var, "missing"),
        env={"CNI_COMMAND": command, var: None},
        plugin=plugin,
    )


CASES: list[Case] = [
    # -- the environment ------------------------------------------------------------------------
    *(_missing("ADD", var) for var in ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")),
    _missing("DEL", "CNI_CONTAINERID"),
    _missing("CHECK", "CNI_NETNS"),
    _missing("ADD", "CNI_CONTAINERID", CALICO_IPAM),
    Case("command-unknown", INVALID_ENV, ("CNI_COMMAND", "FROB"), env={"CNI_COMMAND": "FROB"}),
    Case("command-lower-case", INVALID_ENV, ("CNI_COMMAND", "add"), env={"CNI_COMMAND": "add"}),
    Case(
        "ipam-command-unknown",
        INVALID_ENV,
        ("CNI_COMMAND", "FROB"),
        env={"CNI_COMMAND": "FROB"},
        plugin=CALICO_IPAM,
    ),
    Case(
        "containerid", INVALID_ENV, ("containerID", "-bad id"), env={"CNI_CONTAINERID": "-bad id"}
    ),
    Case("ifname-long", INVALID_ENV, ("CNI_IFNAME", "x" * 16), env={"CNI_IFNAME": "x" * 16}),
    Case("ifname-slash", INVALID_ENV, ("CNI_IFNAME", "eth/0"), env={"CNI_IFNAME": "eth/0"}),
    Case("cni-args-no-equals", INVALID_ENV, ("CNI_ARGS", "'novalue'"), env={"CNI_ARGS": "novalue"}),
    Case(
        "cni-args-no-key",
        INVALID_ENV,
        ("CNI_ARGS", "'=b'"),
        env={"CNI_ARGS": "K8S_POD_NAME=a;=b"},
    ),
    Case(
        "del-cni-args",
        INVALID_ENV,
        ("CNI_ARGS", "'x'"),
        env={"CNI_COMMAND": "DEL", "CNI_ARGS": "x"},
    ),
    # -- decoding the config --------------------------------------------------------------------
    Case("json-syntax", DECODE_FAILURE, ("unmarshalling", "line 1"), b"{bad", version="1.1.0"),
    Case("json-not-utf8", DECODE_FAILURE, ("unmarshalling",), b"\xff\xfe", version="1.1.0"),
    Case("json-array", DECODE_FAILURE, ("not a JSON object",), b"[]", version="1.1.0"),
    Case("json-empty", DECODE_FAILURE, ("unmarshalling",), b"", version="1.1.0"),
    Case(
        "ipam-json-syntax",
        DECODE_FAILURE,
        ("unmarshalling",),
        b"{bad",
        plugin=CALICO_IPAM,
        version="1.1.0",
    ),
    # -- the protocol fields --------------------------------------------------------------------
    Case("name-missing", INVALID_CONFIG, ("network name",), with_config(name=None)),
    Case("name-bad", INVALID_CONFIG, ("network name", "bad/name"), with_config(name="bad/name")),
    Case(
        "ipam-name-missing",
        INVALID_CONFIG,
        ("network name",),
        with_config(name=None),
        plugin=CALICO_IPAM,
    ),
    Case("type-missing", INVALID_CONFIG, ("field type", "required"), with_config(type=None)),
    Case("type-not-string", INVALID_CONFIG, ("field type", "7"), with_config(type=7)),
    Case(
        "version-missing",
        INCOMPATIBLE_VERSION,
        ("incompatible", "''"),
        with_config(cniVersion=None),
        version="1.1.0",
    ),
    Case(
        "version-unsupported",
        INCOMPATIBLE_VERSION,
        ("incompatible", "'9.9.9'"),
        with_config(cniVersion="9.9.9"),
        version="1.1.0",
    ),
    Case(
        "version-too-old",
        INCOMPATIBLE_VERSION,
        ("incompatible", "'0.2.0'"),
        with_config(cniVersion="0.2.0"),
        version="1.1.0",
    ),
    Case(
        "version-garbage",
        DECODE_FAILURE,
        ("cniVersion", "'x.y'"),
        with_config(cniVersion="x.y"),
        version="1.1.0",
    ),
    Case(
        "version-not-string",
        DECODE_FAILURE,
        ("cniVersion",),
        with_config(cniVersion=1),
        version="1.1.0",
    ),
    Case(
        "check-needs-0.4.0",
        INCOMPATIBLE_VERSION,
        ("CHECK",),
        with_config(cniVersion="0.3.1"),
        env={"CNI_COMMAND": "CHECK"},
        version="0.3.1",
    ),
    Case(
        "status-needs-1.1.0",
        INCOMPATIBLE_VERSION,
        ("STATUS",),
        env={"CNI_COMMAND": "STATUS"},
    ),
    # -- Calico's fields --------------------------------------------------------------------------
    Case("ipam-missing", INVALID_CONFIG, ("ipam.type", "required"), with_config(ipam=None)),
    Case("ipam-type-empty", INVALID_CONFIG, ("ipam.type",), with_config(ipam={"type": ""})),
    Case("ipam-type-not-string", INVALID_CONFIG, ("ipam.type", "5"), with_config(ipam={"type": 5})),
    Case(
        "ipam-type-with-slash",
        INVALID_CONFIG,
        ("ipam.type", "'../x'"),
        with_config(ipam={"type": "../x"}),
    ),
    Case(
        "ipam-type-unknown",
        INVALID_CONFIG,
        ('"no-such-ipam"', "ipam.type"),
        with_config(ipam={"type": "no-such-ipam"}),
    ),
    Case(
        "ipam-not-object", INVALID_CONFIG, ("ipam", "'host-local'"), with_config(ipam="host-local")
    ),
    Case(
        "ipam-assign-ipv4",
        INVALID_CONFIG,
        ("ipam.assign_ipv4", "'maybe'"),
        with_config(ipam={"type": "calico-ipam", "assign_ipv4": "maybe"}),
    ),
    Case(
        "ipam-pools-not-list",
        INVALID_CONFIG,
        ("ipam.ipv4_pools", "'10.0.0.0/8'"),
        with_config(ipam={"type": "calico-ipam", "ipv4_pools": "10.0.0.0/8"}),
    ),
    Case("mtu-string", INVALID_CONFIG, ("field mtu", "'1500'"), with_config(mtu="1500")),
    Case("mtu-bool", INVALID_CONFIG, ("field mtu", "True"), with_config(mtu=True)),
    Case("mtu-float", INVALID_CONFIG, ("field mtu", "1.5"), with_config(mtu=1.5)),
    Case("mtu-negative", INVALID_CONFIG, ("mtu=-1",), with_config(mtu=-1)),
    Case("log-level", INVALID_CONFIG, ("log_level=loud",), with_config(log_level="loud")),
    Case(
        "nodename-not-string",
        INVALID_CONFIG,
        ("field nodename", "['n1']"),
        with_config(nodename=["n1"]),
    ),
    Case(
        "datastore-type-unsupported",
        UNSUPPORTED_FIELD,
        ("datastore_type=kubernetes",),
        with_config(datastore_type="kubernetes"),
    ),
    Case(
        "policy-type-unsupported",
        UNSUPPORTED_FIELD,
        ("policy.type=weird",),
        with_config(policy={"type": "weird"}),
    ),
    Case(
        "device-type-unsupported",
        UNSUPPORTED_FIELD,
        ("device_type=tap",),
        with_config(device_type="tap"),
    ),
    Case(
        "env-datastore-type",
        INVALID_CONFIG,
        ("DATASTORE_TYPE=bogus",),
        env={"DATASTORE_TYPE": "bogus"},
    ),
    Case(
        "env-etcd-endpoints",
        INVALID_CONFIG,
        ("ETCD_ENDPOINTS=not-a-url",),
        env={"DATASTORE_TYPE": "etcdv3", "ETCD_ENDPOINTS": "not-a-url"},
    ),
    Case(
        "config-etcd-endpoints",
        INVALID_CONFIG,
        ("ETCD_ENDPOINTS=not-a-url",),
        with_config(datastore_type="etcdv3", etcd_endpoints="not-a-url"),
    ),
]


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    db_exists: bool


def _environment(directory: Path, extra: Mapping[str, str | None]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CNI_", "DATASTORE_", "CALICO_", "ETCD_"))
    }
    env |= {**ENV, "DATASTORE_TYPE": "sqlite", "CALICO_SQLITE_PATH": str(directory / DB)}
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _run(plugin: str, stdin: bytes, directory: Path, env: Mapping[str, str | None]) -> Outcome:
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [plugin],
        input=stdin,
        cwd=directory,
        env=_environment(directory, env),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    return Outcome(proc.returncode, out, err, (directory / DB).exists())


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("bad-input-cni")
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 2))) as executor:
        futures = {
            case.id: executor.submit(_run, case.plugin, case.stdin, root / case.id, case.env)
            for case in CASES
        }
        return {case_id: future.result() for case_id, future in futures.items()}


def test_case_ids_are_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_a_cni_error(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.id]
    assert outcome.code == 1, outcome.stderr
    assert outcome.stdout.endswith("\n"), outcome.stdout
    assert outcome.stdout.count("\n") == 1, outcome.stdout
    reply = json.loads(outcome.stdout)  # nothing on stdout but the error object
    assert set(reply) == {"cniVersion", "code", "msg", "details"}
    assert reply["code"] == case.code, reply
    assert reply["cniVersion"] == case.version, reply
    text = f"{reply['msg']} {reply['details']}"
    for expected in case.expect:
        assert expected in text, f"{expected!r} not in {text!r}"
    assert "Traceback" not in outcome.stderr
    assert not outcome.db_exists, "the datastore was opened for a rejected invocation"


@pytest.mark.parametrize("plugin", [CALICO, CALICO_IPAM], ids=["calico", "calico-ipam"])
def test_empty_cni_command_only_describes_the_plugin(plugin: str, tmp_path: Path) -> None:
    """libcni skel: an empty CNI_COMMAND is not an error; it names the plugin on stderr."""
    outcome = _run(plugin, with_config(), tmp_path, {"CNI_COMMAND": ""})
    assert (outcome.code, outcome.stdout) == (0, "")
    assert "CNI protocol versions supported" in outcome.stderr
    assert not outcome.db_exists
