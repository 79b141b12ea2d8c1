"""LabState persistence: records survive the process, edits are atomic and serialised."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from calico.errors import ConfigError
from calico.lab.state import (
    STATE_ROOT_ENV,
    LabState,
    ProcessRecord,
    StateData,
    state_root,
    validate_lab_name,
)

REC = ProcessRecord(
    name="server-a",
    pid=4242,
    start_time=123456,
    netns="lab1-wl-a",
    argv=("python", "-m", "calico.lab.server"),
    log="/x/logs/server-a.log",
    pidfile="/x/run/server-a.pid",
)


def test_an_unrecorded_lab_has_empty_state(tmp_path: Path) -> None:
    state = LabState("lab1", tmp_path)
    assert not state.exists()
    assert state.load() == StateData("lab1")
    assert state.section("fabric") is None


def test_records_round_trip_through_the_file(tmp_path: Path) -> None:
    state = LabState("lab1", tmp_path)
    state.record_namespace("lab1-fabric")
    state.record_namespace("lab1-host1")
    state.record_namespace("lab1-host1")  # idempotent
    state.record_process(REC)
    state.record_file(tmp_path / "bird.conf")
    state.set_section("fabric", {"subnets": ["10.99.4.0/24"]})

    again = LabState("lab1", tmp_path).load()
    assert again.namespaces == ["lab1-fabric", "lab1-host1"]
    assert again.processes == [REC]
    assert again.files == [str(tmp_path / "bird.conf")]
    assert again.sections == {"fabric": {"subnets": ["10.99.4.0/24"]}}
    raw = json.loads((tmp_path / "lab1" / "state.json").read_text())
    assert raw["version"] == 1
    assert raw["processes"][0]["argv"] == ["python", "-m", "calico.lab.server"]
    assert sorted(p.name for p in (tmp_path / "lab1").iterdir()) == ["lock", "state.json"]


def test_forgetting_a_namespace_forgets_its_processes(tmp_path: Path) -> None:
    state = LabState("lab1", tmp_path)
    state.record_namespace("lab1-wl-a")
    state.record_process(REC)
    state.forget_namespace("lab1-wl-a")
    assert state.load().namespaces == []
    assert state.load().processes == []


def test_a_process_record_replaces_one_of_the_same_name(tmp_path: Path) -> None:
    state = LabState("lab1", tmp_path)
    state.record_process(REC)
    newer = ProcessRecord(**{**REC.to_json(), "pid": 5000, "argv": ("x",)})
    state.record_process(newer)
    assert state.load().processes == [newer]
    state.forget_process("server-a")
    assert state.load().processes == []


def test_a_failed_edit_writes_nothing(tmp_path: Path) -> None:
    state = LabState("lab1", tmp_path)
    state.record_namespace("lab1-host1")

    def fail_half_way() -> None:
        with state.edit() as data:
            data.namespaces.append("lab1-host2")
            raise RuntimeError("half-way")

    with pytest.raises(RuntimeError):
        fail_half_way()
    assert state.load().namespaces == ["lab1-host1"]


def test_only_the_labs_own_namespace_names_are_recorded(tmp_path: Path) -> None:
    state = LabState("lab1", tmp_path)
    for foreign in ("lab12-host1", "lab1-other", "other-host1", "lab1-host"):
        with pytest.raises(ConfigError, match="not named like"):
            state.record_namespace(foreign)


@pytest.mark.parametrize("bad", ["", "Calico", "my-lab", "1lab", "lab_1", "a" * 17])
def test_lab_names_are_letters_and_digits(bad: str) -> None:
    with pytest.raises(ConfigError, match="lab name"):
        validate_lab_name(bad)


def test_state_root_honours_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATE_ROOT_ENV, raising=False)
    assert state_root() == Path("/run/calico-lab")
    monkeypatch.setenv(STATE_ROOT_ENV, "/tmp/elsewhere")
    assert state_root() == Path("/tmp/elsewhere")
    assert LabState("lab1").dir == Path("/tmp/elsewhere/lab1")


def _record_many(root: str, worker: int) -> None:
    state = LabState("lab1", Path(root))
    for i in range(25):
        state.record_namespace(f"lab1-host{worker * 100 + i}")


def test_concurrent_writers_lose_no_record(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_record_many, args=(str(tmp_path), w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        assert w.exitcode == 0
    recorded = LabState("lab1", tmp_path).load().namespaces
    assert len(recorded) == 100
    assert len(set(recorded)) == 100
