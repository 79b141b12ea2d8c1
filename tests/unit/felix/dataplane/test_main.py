"""The calico-felix command line: help, one-line errors, structured logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from calico.felix.main import KeyValueFormatter, main


@pytest.fixture(autouse=True)
def _keep_root_logger() -> Iterator[None]:
    """main() reconfigures the root logger; give pytest its handlers back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "calico-felix" in capsys.readouterr().out


def test_a_bad_parameter_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATASTORE_TYPE", "memory")
    monkeypatch.setenv("CALICO_FELIX_CONFIG_FILE", "/nonexistent/felix.cfg")
    monkeypatch.setenv("FELIX_DEFAULTENDPOINTTOHOSTACTION", "Sometimes")
    assert main([]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("calico-felix: environment FELIX_DefaultEndpointToHostAction")
    assert "'Sometimes'" in err


def test_log_lines_are_key_value() -> None:
    record = logging.LogRecord("calico.felix.x", logging.WARNING, __file__, 1,
                               'said "hi"\nthere', None, None)  # fmt: skip
    record.created, record.msecs, record.threadName = 0.0, 5.0, "felix-dataplane"
    assert KeyValueFormatter().format(record) == (
        "time=1970-01-01T00:00:00.005Z level=WARNING logger=calico.felix.x "
        'thread=felix-dataplane msg="said \\"hi\\"\\nthere"'
    )
