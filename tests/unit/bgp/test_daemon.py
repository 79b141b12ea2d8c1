"""BirdConfigWriter: render -> bird -p -> atomic replace -> configure, and its watch loop."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from calico.bgp.daemon import BirdConfigWriter, Outcome
from calico.bgp.model import BGPInputs
from calico.bgp.render import render_config
from calico.datastore import MemoryDatastore, Watcher
from calico.errors import CompactedError

from ._store import Store
from .fakebird import CONFIGURE, CONFIGURE_ERROR, FakeBird

pytestmark = pytest.mark.skipif(shutil.which("bird") is None, reason="needs bird -p")


def writer(store: Store, short_dir: Path, **kwargs: object) -> BirdConfigWriter:
    return BirdConfigWriter(store.ds, "node1", short_dir / "conf", short_dir / "bird.ctl",
                            debounce=0.02, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_writes_the_render_then_nothing_while_unchanged(short_dir: Path) -> None:
    store = Store().nodes(2)
    w = writer(store, short_dir)
    assert w.sync() is Outcome.WRITTEN  # no BIRD listening: it reads the file at start
    assert w.config_path.read_text() == render_config(store.inputs("node1"))
    assert w.sync() is Outcome.UNCHANGED
    assert sorted(p.name for p in w.config_path.parent.iterdir()) == ["bird.cfg"]


def test_a_render_bird_rejects_never_replaces_the_live_file(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store().nodes(2)
    w = writer(store, short_dir)
    w.sync()
    good = w.config_path.read_text()

    def broken(inputs: BGPInputs) -> str:
        return render_config(inputs) + "protocol bgp Broken { neighbor 10.9.9.9 as 0; }\n"

    w.render = broken
    store.node("node3", "10.0.0.3/24")
    with caplog.at_level(logging.ERROR):
        assert w.sync() is Outcome.REJECTED
        assert w.sync() is Outcome.REJECTED
    assert w.config_path.read_text() == good
    assert sorted(p.name for p in w.config_path.parent.iterdir()) == ["bird.cfg"]
    rejections = [r for r in caplog.records if "BIRD rejected" in r.getMessage()]
    assert len(rejections) == 1  # logged once per distinct bad render
    assert "as 0" in rejections[0].getMessage() or "AS" in rejections[0].getMessage()
    w.render = render_config
    assert w.sync() is Outcome.WRITTEN
    assert "Mesh_10_0_0_3" in w.config_path.read_text()


def test_inputs_bird_rejects_are_refused_too(short_dir: Path) -> None:
    store = Store().nodes(1)
    w = writer(store, short_dir)
    w.sync()
    store.peer("bad", peerIP="10.0.0.254", asNumber=65001, keepaliveTime="0s")
    assert w.sync() is Outcome.REJECTED
    assert "Global_10_0_0_254" not in w.config_path.read_text()


def test_bird_is_told_to_reconfigure(short_dir: Path) -> None:
    store = Store().nodes(2)
    with FakeBird(short_dir / "bird.ctl", {"configure": CONFIGURE}) as bird:
        assert writer(store, short_dir).sync() is Outcome.RELOADED
    assert bird.commands == ["configure"]


def test_bird_refusing_to_reconfigure_is_reported_and_retried(short_dir: Path) -> None:
    store = Store().nodes(2)
    w = writer(store, short_dir)
    with FakeBird(short_dir / "bird.ctl", {"configure": CONFIGURE_ERROR}):
        assert w.sync() is Outcome.RELOAD_FAILED
    (short_dir / "bird.ctl").unlink()
    with FakeBird(short_dir / "bird.ctl", {"configure": CONFIGURE}) as bird:
        assert w.sync() is Outcome.RELOADED  # same text, but BIRD never loaded it
        assert w.sync() is Outcome.UNCHANGED
    assert bird.commands == ["configure"]


def test_no_config_for_an_unknown_node(short_dir: Path) -> None:
    w = writer(Store(), short_dir)
    assert w.sync() is Outcome.NO_CONFIG
    assert not w.config_path.exists()


def run_in_thread(w: BirdConfigWriter) -> threading.Thread:
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    return thread


def stop(w: BirdConfigWriter, thread: threading.Thread) -> None:
    started = time.monotonic()
    w.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2.0  # stop() wakes the loop at once


def test_run_follows_every_watched_prefix(short_dir: Path) -> None:
    store = Store().nodes(1)
    w = writer(store, short_dir)
    thread = run_in_thread(w)
    try:
        wait_until(w.config_path.exists)
        store.affinity("node1", "10.65.0.0/26")
        wait_until(lambda: "route 10.65.0.0/26 blackhole;" in w.config_path.read_text())
        store.node("node2", "10.0.0.2/24")
        wait_until(lambda: "Mesh_10_0_0_2" in w.config_path.read_text())
        store.pool("10.65.0.0/16", disableBGPExport=True)
        wait_until(lambda: "BGP export is disabled" in w.config_path.read_text())
        store.peer("tor", peerIP="10.0.0.254", asNumber=65001)
        wait_until(lambda: "Global_10_0_0_254" in w.config_path.read_text())
        store.bgp_config(asNumber=65123)
        wait_until(lambda: "local as 65123;" in w.config_path.read_text())
    finally:
        stop(w, thread)


class CompactingStore(MemoryDatastore):
    """Its first watch on each prefix fails as if the revision had been compacted."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: set[str] = set()

    def watch(self, prefix: str, start_revision: int) -> Watcher:
        if prefix not in self.failed:
            self.failed.add(prefix)
            raise CompactedError("compacted", revision=start_revision, compact_revision=99)
        return super().watch(prefix, start_revision)


def test_a_broken_watch_is_reopened(short_dir: Path) -> None:
    store = Store()
    store.ds = CompactingStore()
    store.nodes(1)
    w = writer(store, short_dir)
    thread = run_in_thread(w)
    try:
        wait_until(w.config_path.exists)
        wait_until(lambda: len(store.ds.failed) == 5)  # type: ignore[attr-defined]
        time.sleep(1.2)  # past the back-off: watches are open again
        store.node("node2", "10.0.0.2/24")
        wait_until(lambda: "Mesh_10_0_0_2" in w.config_path.read_text())
    finally:
        stop(w, thread)
