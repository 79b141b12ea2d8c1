"""Bad input to the real daemons: one clear line, non-zero exit, nothing created.

``calico-node --startup-only``, ``calico-felix``, ``calico-bgp --once`` and
``calico-dhcp-agent`` are run as subprocesses with a bad environment variable,
flag or config file.  Each must exit non-zero with exactly one non-empty line
on stderr naming the variable, flag or file and the bad value, no traceback,
and without having created its datastore, state or config directories.

All of them should fail before they touch the kernel, but a regression could
make one go further (felix would start programming iptables), so every case
runs inside a network namespace this module creates and deletes, and under a
timeout.  The cases are independent and run concurrently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

TIMEOUT = 30.0
DB = "calico.db"


def _exe(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name) or name


TRUE = shutil.which("true") or "/bin/true"
# calico-node variables without a common prefix: never inherited from the test's environment.
NODE_VARS = frozenset(
    {"IP", "IP6", "AS", "NODENAME", "IP_AUTODETECTION_METHOD", "IP6_AUTODETECTION_METHOD"}
)


@dataclass(frozen=True)
class Case:
    """``program args`` with ``env`` added; ``expect``: substrings of the stderr line;
    ``absent``: paths (relative to the case's directory) that must not exist after."""

    id: str
    program: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    code: int = 1
    files: Mapping[str, str] = field(default_factory=dict)
    absent: tuple[str, ...] = (DB,)


NODE_ARGS = ("--startup-only", "--state-dir", "state", "--log-dir", "log")
NODE_ABSENT = (DB, "state", "log")


def node(
    case_id: str,
    env: Mapping[str, str],
    expect: tuple[str, ...],
    *,
    args: tuple[str, ...] = (),
    code: int = 1,
) -> Case:
    argv = (*NODE_ARGS, *args)
    return Case(case_id, "calico-node", argv, expect, env, code=code, absent=NODE_ABSENT)


FELIX_CFG_BAD_VALUE = "[global]\nDefaultEndpointToHostAction = maybe\n"
ETCD_BAD_URL = {"DATASTORE_TYPE": "etcdv3", "ETCD_ENDPOINTS": "not-a-url"}
API_CFG_BAD_TYPE = (
    "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\n"
    "spec:\n  datastoreType: bogus\n"
)
BGP_ARGS = ("--once", "--node", "n1", "--config-dir", "bird", "--socket", "bird.ctl")
BGP_ABSENT = (DB, "bird")
DHCP_ARGS = ("--host", "h1", "--state-dir", "dhcp", "--dnsmasq", TRUE)
DHCP_ABSENT = (DB, "dhcp")

CASES: list[Case] = [
    # -- calico-node ------------------------------------------------------------------------------
    node("node-pool-cidr", {"CALICO_IPV4POOL_CIDR": "bad"}, ("CALICO_IPV4POOL_CIDR=bad",)),
    node(
        "node-block-size-range",
        {"CALICO_IPV4POOL_BLOCK_SIZE": "99"},
        ("CALICO_IPV4POOL_BLOCK_SIZE=99", "20", "32"),
    ),
    node(
        "node-block-size-text",
        {"CALICO_IPV4POOL_BLOCK_SIZE": "abc"},
        ("CALICO_IPV4POOL_BLOCK_SIZE=abc",),
    ),
    node("node-vxlan-mode", {"CALICO_IPV4POOL_VXLAN": "maybe"}, ("CALICO_IPV4POOL_VXLAN=maybe",)),
    node(
        "node-ipip-and-vxlan",
        {"CALICO_IPV4POOL_IPIP": "Always", "CALICO_IPV4POOL_VXLAN": "CrossSubnet"},
        ("CALICO_IPV4POOL_IPIP", "CALICO_IPV4POOL_VXLAN", "both"),
    ),
    node(
        "node-nat-outgoing",
        {"CALICO_IPV4POOL_NAT_OUTGOING": "maybe"},
        ("CALICO_IPV4POOL_NAT_OUTGOING=maybe",),
    ),
    node(
        "node-pool-selector",
        {"CALICO_IPV4POOL_NODE_SELECTOR": "a =="},
        ("CALICO_IPV4POOL_NODE_SELECTOR=a ==", "invalid selector"),
    ),
    node("node-ip", {"IP": "notanip"}, ("IP=notanip",)),
    node(
        "node-autodetect-method",
        {"IP_AUTODETECTION_METHOD": "bogus"},
        ("IP_AUTODETECTION_METHOD=bogus",),
    ),
    node(
        "node-autodetect-method-unused",
        {"IP": "10.0.0.1", "IP_AUTODETECTION_METHOD": "bogus"},
        ("IP_AUTODETECTION_METHOD=bogus",),
    ),
    node("node-as-number", {"AS": "abc"}, ("AS=abc",)),
    node(
        "node-backend",
        {"CALICO_NETWORKING_BACKEND": "bgp"},
        ("CALICO_NETWORKING_BACKEND=bgp",),
    ),
    node("node-datastore-type", {"DATASTORE_TYPE": "bogus"}, ("DATASTORE_TYPE=bogus",)),
    node("node-etcd-endpoints", ETCD_BAD_URL, ("ETCD_ENDPOINTS=not-a-url",)),
    node("node-log-level", {}, ("--log-level", "'loud'"), args=("--log-level", "loud"), code=2),
    node("node-unknown-flag", {}, ("--bogus",), args=("--bogus",), code=2),
    # -- calico-felix -----------------------------------------------------------------------------
    Case(
        "felix-endpoint-to-host",
        "calico-felix",
        (),
        ("DefaultEndpointToHostAction", "'maybe'"),
        {"FELIX_DEFAULTENDPOINTTOHOSTACTION": "maybe"},
    ),
    Case(
        "felix-vxlan-port", "calico-felix", (), ("VXLANPort", "'abc'"), {"FELIX_VXLANPORT": "abc"}
    ),
    Case(
        "felix-health-port-range",
        "calico-felix",
        (),
        ("HealthPort", "99999"),
        {"FELIX_HEALTHENABLED": "true", "FELIX_HEALTHPORT": "99999"},
    ),
    Case(
        "felix-bool", "calico-felix", (), ("Ipv6Support", "'maybe'"), {"FELIX_IPV6SUPPORT": "maybe"}
    ),
    Case(
        "felix-datastore-type",
        "calico-felix",
        (),
        ("DATASTORE_TYPE=bogus",),
        {"DATASTORE_TYPE": "bogus"},
    ),
    Case(
        "felix-config-file-value",
        "calico-felix",
        ("--config-file", "felix.cfg"),
        ("config file", "DefaultEndpointToHostAction", "'maybe'"),
        files={"felix.cfg": FELIX_CFG_BAD_VALUE},
    ),
    Case(
        "felix-config-file-env",
        "calico-felix",
        (),
        ("config file", "DefaultEndpointToHostAction", "'maybe'"),
        {"CALICO_FELIX_CONFIG_FILE": "felix.cfg"},
        files={"felix.cfg": FELIX_CFG_BAD_VALUE},
    ),
    Case(
        "felix-config-file-not-ini",
        "calico-felix",
        ("-c", "felix.cfg"),
        ("felix config file felix.cfg", "section"),
        files={"felix.cfg": "this is not ini\n"},
    ),
    Case(
        "felix-config-file-missing",
        "calico-felix",
        ("-c", "missing.cfg"),
        ("--config-file missing.cfg", "no such file"),
    ),
    Case(
        "felix-config-file-directory",
        "calico-felix",
        ("-c", "."),
        ("felix config file .", "directory"),
    ),
    Case("felix-unknown-flag", "calico-felix", ("--bogus",), ("--bogus",), code=2),
    # -- calico-bgp --once ------------------------------------------------------------------------
    Case(
        "bgp-datastore-type",
        "calico-bgp",
        BGP_ARGS,
        ("DATASTORE_TYPE=bogus",),
        {"DATASTORE_TYPE": "bogus"},
        absent=BGP_ABSENT,
    ),
    Case(
        "bgp-etcd-endpoints",
        "calico-bgp",
        BGP_ARGS,
        ("ETCD_ENDPOINTS=not-a-url",),
        ETCD_BAD_URL,
        absent=BGP_ABSENT,
    ),
    Case(
        "bgp-etcd-unreachable",
        "calico-bgp",
        BGP_ARGS,
        ("etcd", "http://127.0.0.1:1"),
        {"DATASTORE_TYPE": "etcdv3", "ETCD_ENDPOINTS": "http://127.0.0.1:1"},
        absent=BGP_ABSENT,
    ),
    Case(
        "bgp-config-missing",
        "calico-bgp",
        (*BGP_ARGS, "-c", "missing.cfg"),
        ("config file missing.cfg does not exist",),
        absent=BGP_ABSENT,
    ),
    Case(
        "bgp-config-datastore-type",
        "calico-bgp",
        (*BGP_ARGS, "-c", "api.cfg"),
        ("api.cfg", "spec.datastoreType=bogus"),
        files={"api.cfg": API_CFG_BAD_TYPE},
        absent=BGP_ABSENT,
    ),
    Case(
        "bgp-log-level",
        "calico-bgp",
        (*BGP_ARGS, "--log-level", "loud"),
        ("--log-level", "'loud'"),
        code=2,
        absent=BGP_ABSENT,
    ),
    # -- calico-dhcp-agent ------------------------------------------------------------------------
    Case(
        "dhcp-lease-time-text",
        "calico-dhcp-agent",
        (*DHCP_ARGS, "--lease-time", "abc"),
        ("--lease-time", "'abc'"),
        code=2,
        absent=DHCP_ABSENT,
    ),
    Case(
        "dhcp-lease-time-short",
        "calico-dhcp-agent",
        (*DHCP_ARGS, "--lease-time", "60"),
        ("--lease-time", "60"),
        absent=DHCP_ABSENT,
    ),
    Case(
        "dhcp-dnsmasq-missing",
        "calico-dhcp-agent",
        (*DHCP_ARGS, "--dnsmasq", "no-such-dnsmasq"),
        ("--dnsmasq", "no-such-dnsmasq"),
        absent=DHCP_ABSENT,
    ),
    Case(
        "dhcp-region",
        "calico-dhcp-agent",
        (*DHCP_ARGS, "--region", "Bad_Region"),
        ("--region", "'Bad_Region'"),
        absent=DHCP_ABSENT,
    ),
    Case(
        "dhcp-log-level",
        "calico-dhcp-agent",
        (*DHCP_ARGS, "--log-level", "loud"),
        ("--log-level", "'loud'"),
        code=2,
        absent=DHCP_ABSENT,
    ),
    Case(
        "dhcp-datastore-type",
        "calico-dhcp-agent",
        DHCP_ARGS,
        ("DATASTORE_TYPE=bogus",),
        {"DATASTORE_TYPE": "bogus"},
        absent=DHCP_ABSENT,
    ),
    Case(
        "dhcp-config-missing",
        "calico-dhcp-agent",
        (*DHCP_ARGS, "-c", "missing.cfg"),
        ("config file missing.cfg does not exist",),
        absent=DHCP_ABSENT,
    ),
]


@dataclass(frozen=True)
class Outcome:
    code: int
    stderr: str
    present: tuple[str, ...]  # the case's ``absent`` paths that exist after all


def _environment(directory: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATASTORE_", "CALICO_", "ETCD_", "FELIX_")) and k not in NODE_VARS
    }
    env |= {
        "DATASTORE_TYPE": "sqlite",
        "CALICO_SQLITE_PATH": str(directory / DB),
        "NODENAME": "n1",
        # Not /etc/calico/felix.cfg: a missing file here is "no file values".
        "CALICO_FELIX_CONFIG_FILE": str(directory / "no-felix.cfg"),
    }
    return env | dict(extra)


def _run_case(case: Case, directory: Path, netns: str) -> Outcome:
    directory.mkdir(parents=True)
    for name, text in case.files.items():
        (directory / name).write_text(text)
    argv = ["ip", "netns", "exec", netns, _exe(case.program), *case.args]
    try:
        proc = subprocess.run(
            argv,
            cwd=directory,
            env=_environment(directory, case.env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        code, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:  # it accepted the bad input and kept running
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        code, stderr = 0, f"still running after {TIMEOUT}s\n{err}"
    present = tuple(p for p in case.absent if (directory / p).exists())
    return Outcome(code, stderr, present)


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    """A throwaway network namespace, deleted afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2")
    name = f"cbi-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, netns: str) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("bad-input-daemons")
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 2))) as executor:
        futures = {
            case.id: executor.submit(_run_case, case, root / case.id, netns) for case in CASES
        }
        return {case_id: future.result() for case_id, future in futures.items()}


def test_case_ids_are_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_one_clear_line(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.id]
    assert "Traceback" not in outcome.stderr
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.stderr
    assert outcome.code == case.code, outcome.stderr
    for text in case.expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert outcome.present == (), f"created for rejected input: {outcome.present}"
