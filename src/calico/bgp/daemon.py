"""calico-bgp's loop: datastore changes -> rendered config -> checked -> BIRD reloaded.

confd's job for BIRD (``conf.d/bird.toml``: render the templates, ``check_cmd
= bird -p -c {{.src}}``, then ``reload_cmd``), done as one small loop:

1. Watch every prefix the config depends on (``model.watched_prefixes``):
   nodes, BGP configurations, BGP peers, IP pools and this node's block
   affinities.  Any event only marks the config dirty.
2. After a short debounce (a burst of writes, such as a pool and its blocks,
   is rendered once) read the whole input again and render it.  Re-reading
   everything instead of applying deltas keeps the output a pure function of
   the datastore, whatever order the events came in.
3. If the text differs from the live file: write a temporary file beside it,
   run ``bird -p`` on it, and only if BIRD accepts it rename it over the live
   file (atomic) and ask BIRD to ``configure`` through its control socket.

A render that ``bird -p`` refuses is logged and dropped: the live file and
BIRD keep the last good config, so one bad BGPPeer cannot take a node's
routing down.  The next change is rendered afresh.  A full re-render also runs
every ``resync_interval`` seconds in case a watch silently missed something.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from calico.bgp.bird_process import CONFIG_NAME, CheckResult, check_config
from calico.bgp.birdcl import BirdClient, BirdError
from calico.bgp.model import BGPInputs, load_inputs, watched_prefixes
from calico.bgp.passwords import SecretReader, no_secrets
from calico.bgp.render import render_config
from calico.datastore import Datastore
from calico.errors import CalicoError

_log = logging.getLogger(__name__)

Renderer = Callable[[BGPInputs], str]
Checker = Callable[[Path], CheckResult]
WATCH_POLL = 0.5  # how often watch threads look at the stop flag
ERROR_BACKOFF = 1.0  # before re-opening a broken watch


class Outcome(enum.Enum):
    UNCHANGED = "unchanged"  # the rendered text is already live
    RELOADED = "reloaded"  # written, and BIRD re-read it
    WRITTEN = "written"  # written; BIRD not running (it reads the file when it starts)
    RELOAD_FAILED = "reload failed"  # written, but BIRD refused to reconfigure
    REJECTED = "rejected"  # bird -p refused the render; live file untouched
    NO_CONFIG = "no config"  # the inputs could not be rendered (e.g. node missing)

    @property
    def ok(self) -> bool:
        return self in (Outcome.UNCHANGED, Outcome.RELOADED, Outcome.WRITTEN)


class BirdConfigWriter:
    """Keeps ``<config_dir>/bird.cfg`` equal to the render of the datastore."""

    def __init__(
        self,
        datastore: Datastore,
        node_name: str,
        config_dir: str | Path,
        socket_path: str | Path,
        *,
        secrets: SecretReader = no_secrets,
        render: Renderer = render_config,
        check: Checker = check_config,
        debounce: float = 0.2,
        resync_interval: float = 60.0,
    ) -> None:
        self.datastore = datastore
        self.node_name = node_name
        self.config_path = Path(config_dir) / CONFIG_NAME
        self.socket_path = str(socket_path)
        self.secrets = secrets
        self.render = render
        self.check = check
        self.debounce = debounce
        self.resync_interval = resync_interval
        self._last_rejected: str | None = None
        self._reload_pending = False  # the live file is newer than what BIRD runs
        self._changed = threading.Event()  # something under a watched prefix changed
        self._stop = threading.Event()

    # -- one pass ----------------------------------------------------------

    def sync(self) -> Outcome:
        """Read the datastore, render, and apply the result."""
        try:
            inputs = load_inputs(self.datastore, self.node_name, self.secrets)
            text = self.render(inputs)
        except (CalicoError, ValueError) as exc:
            _log.error("Cannot render BIRD config for node %s: %s", self.node_name, exc)
            return Outcome.NO_CONFIG
        return self.apply(text)

    def apply(self, text: str) -> Outcome:
        """Make ``text`` the live config if BIRD accepts it, then reload BIRD."""
        if self._live_text() == text:
            # A file BIRD refused to load at runtime is retried on the next pass.
            return self._reload() if self._reload_pending else Outcome.UNCHANGED
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.config_path.with_name(f".{CONFIG_NAME}.{os.getpid()}.tmp")
        _write_synced(tmp, text)
        try:
            result = self.check(tmp)
            if not result.ok:
                self._report_rejected(text, result.message)
                return Outcome.REJECTED
            os.replace(tmp, self.config_path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.config_path.parent)
        self._last_rejected = None
        _log.info("Wrote new BIRD config %s", self.config_path)
        return self._reload()

    def _live_text(self) -> str | None:
        try:
            return self.config_path.read_text()
        except FileNotFoundError:
            return None

    def _report_rejected(self, text: str, message: str) -> None:
        # Log each distinct bad render once, not on every resync.
        if text != self._last_rejected:
            _log.error("BIRD rejected the rendered config; keeping the live one: %s", message)
        self._last_rejected = text

    def _reload(self) -> Outcome:
        try:
            with BirdClient(self.socket_path) as bird:
                reply = bird.configure()
        except OSError as exc:
            _log.info("BIRD not reachable on %s (%s); it reads the config when it starts",
                      self.socket_path, exc)  # fmt: skip
            return Outcome.WRITTEN
        except BirdError as exc:
            _log.error("BIRD refused to reconfigure: %s", exc)
            self._reload_pending = True
            return Outcome.RELOAD_FAILED
        self._reload_pending = False
        _log.info("BIRD reconfigured: %s", reply.replace("\n", "; "))
        return Outcome.RELOADED

    # -- the loop ----------------------------------------------------------

    def run(self) -> None:
        """Sync now, then on every change (debounced) until ``stop()`` is called."""
        start = self.datastore.current_revision() + 1  # taken before reading: no gap
        threads = [
            threading.Thread(target=self._follow, args=(prefix, start), daemon=True,
                             name=f"calico-bgp-watch-{prefix}")
            for prefix in watched_prefixes(self.node_name)
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        self.sync()
        while not self._stop.is_set():
            if self._changed.wait(self.resync_interval):
                self._stop.wait(self.debounce)  # let a burst of writes settle
            if self._stop.is_set():
                break
            self._changed.clear()  # before reading: a later write sets it again
            self.sync()
        for thread in threads:
            thread.join(timeout=2 * WATCH_POLL)

    def stop(self) -> None:
        """Make ``run`` return soon (safe from a signal handler or another thread)."""
        self._stop.set()
        self._changed.set()

    def _follow(self, prefix: str, start: int) -> None:
        """Set ``_changed`` on every event under ``prefix``; survive broken watches."""
        revision = start
        while not self._stop.is_set():
            try:
                with self.datastore.watch(prefix, revision) as watcher:
                    while not self._stop.is_set():
                        events = watcher.get(WATCH_POLL)
                        if events:
                            revision = events[-1].revision + 1
                            self._changed.set()
            except CalicoError as exc:
                # Compacted or broken: restart from now; the full re-render
                # that `_changed` triggers covers whatever was missed.
                _log.warning("Watch on %s failed (%s); re-listing", prefix, exc)
                self._stop.wait(ERROR_BACKOFF)
                revision = self._current_revision(revision)
                self._changed.set()

    def _current_revision(self, fallback: int) -> int:
        try:
            return self.datastore.current_revision() + 1
        except CalicoError:
            return fallback


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
