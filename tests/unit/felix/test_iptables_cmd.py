"""The command seam: real subprocess runner and the recording fake."""

from __future__ import annotations

import tempfile

import pytest

from calico.errors import CommandFailedError
from calico.felix.iptables import CommandResult, FakeRunner, SubprocessRunner, run_checked


def test_subprocess_runner_passes_stdin_and_reports_exit_codes() -> None:
    runner = SubprocessRunner()
    assert runner.run(["cat"], "hello\n") == CommandResult(0, "hello\n", "")
    assert runner.run(["sh", "-c", "echo oops >&2; exit 3"]).returncode == 3
    assert runner.run(["no-such-program-calico"]).returncode == 127


def test_subprocess_runner_feeds_big_inputs_whole_even_without_a_temp_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = "".join(f"-A cali-x{i} --jump ACCEPT\n" for i in range(50_000))  # ~1.4 MB
    runner = SubprocessRunner()
    assert runner.run(["cat"], big).stdout == big

    def no_temp_dir() -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temp_dir)
    assert runner.run(["cat"], big).stdout == big  # through a pipe instead
    assert runner.run(["cat"], "").stdout == ""


def test_subprocess_runner_times_out() -> None:
    result = SubprocessRunner(timeout=0.2).run(["sleep", "5"])
    assert result.returncode == -1
    assert "timed out" in result.stderr


def test_run_checked_raises_with_context() -> None:
    runner = SubprocessRunner()
    with pytest.raises(CommandFailedError) as caught:
        run_checked(runner, ["sh", "-c", "echo bad line >&2; exit 2"], "input")
    assert caught.value.returncode == 2
    assert caught.value.stdin == "input"
    assert str(caught.value) == "sh -c echo bad line >&2; exit 2 exited 2: bad line"


def test_fake_runner_dispatches_records_and_injects_failures() -> None:
    runner = FakeRunner()
    runner.register(lambda argv, stdin: CommandResult(0, (stdin or "").upper()), "up", "UP")
    assert runner.run(["up"], "x").stdout == "X"
    runner.fail_next("up", CommandResult(9, "", "boom"))
    assert runner.run(["up"]).returncode == 9
    assert runner.run(["up"]).returncode == 0
    assert runner.run(["missing"]).returncode == 127
    assert [argv for argv, _ in runner.calls_to("up")] == [("up",), ("up",), ("up",)]
