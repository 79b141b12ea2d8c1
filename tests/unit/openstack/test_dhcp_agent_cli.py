"""calico-dhcp-agent's command line: user errors are one line and exit status 1."""

from __future__ import annotations

import pytest

from calico.openstack.dhcp_agent import host_name, main, parse_args


@pytest.fixture(autouse=True)
def memory_datastore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATASTORE_TYPE", "memory")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--region", "Bad_Region"], "calico-dhcp-agent: OpenStack region must be a DNS label"),
        (
            ["--dnsmasq", "/nonexistent/dnsmasq"],
            "calico-dhcp-agent: --dnsmasq: /nonexistent/dnsmasq not found",
        ),
        (
            ["--lease-time", "60"],
            "calico-dhcp-agent: --lease-time must be at least 120 seconds (value 60)",
        ),
    ],
)
def test_user_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "h1", *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [message] or err[-1].startswith(message)


def test_bad_datastore_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATASTORE_TYPE", "zookeeper")
    assert main(["--host", "h1"]) == 1
    assert capsys.readouterr().err.startswith("calico-dhcp-agent: DATASTORE_TYPE=zookeeper")


def test_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODENAME", "from-env")
    assert host_name("explicit") == "explicit"
    assert host_name(None) == "from-env"
    monkeypatch.delenv("NODENAME")
    assert host_name(None)  # the machine's host name


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALICO_OPENSTACK_REGION", "r1")
    args = parse_args([])
    assert args.state_dir == "/var/lib/calico/dhcp"
    assert args.region == "r1"
    assert args.lease_time == 86400
