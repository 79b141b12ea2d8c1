"""Random operation sequences give identical results on sqlite and memory.

memory is the reference implementation of the contract; every rule applies
one operation to both stores and requires the same return value or the same
exception type, and the invariants compare the whole visible state (list,
revision, every key) and the replayed watch history after each step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from calico.datastore import Datastore, MemoryDatastore, WatchEvent
from calico.datastore.sqlite import SqliteDatastore
from calico.errors import DatastoreError

T = TypeVar("T")

# Few keys, with prefix edge cases ("/a" is a prefix of "/a/1" and "/ab").
KEYS = st.sampled_from(["/a", "/a/1", "/a/2", "/ab", "/b/1", "/b/2/x"])
PREFIXES = st.sampled_from(["", "/", "/a", "/a/", "/b/", "/c/"])
VALUES = st.text(max_size=6)
# An expected revision: the key's real one (None here) or any small number.
EXPECTED = st.one_of(st.none(), st.integers(min_value=0, max_value=40))


def outcome(op: Callable[[Datastore], T], store: Datastore) -> T | str:
    """The op's result, or the name of the DatastoreError it raised."""
    try:
        return op(store)
    except DatastoreError as exc:
        return type(exc).__name__


class SqliteMatchesMemory(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="calico-hyp-")
        self.memory = MemoryDatastore()
        self.sqlite = SqliteDatastore(os.path.join(self.dir, "calico.db"))

    def same(self, op: Callable[[Datastore], object]) -> None:
        expected, actual = outcome(op, self.memory), outcome(op, self.sqlite)
        assert actual == expected, f"sqlite gave {actual!r}, memory gave {expected!r}"

    def expected_revision(self, key: str, choice: int | None) -> int:
        if choice is not None:
            return choice
        kv = self.memory.get(key)
        return kv.mod_revision if kv else 1

    @rule(key=KEYS, value=VALUES)
    def create(self, key: str, value: str) -> None:
        self.same(lambda s: s.create(key, value))

    @rule(key=KEYS, value=VALUES, choice=EXPECTED)
    def update(self, key: str, value: str, choice: int | None) -> None:
        expected = self.expected_revision(key, choice)
        self.same(lambda s: s.update(key, value, expected))

    @rule(key=KEYS, value=VALUES)
    def put(self, key: str, value: str) -> None:
        self.same(lambda s: s.put(key, value))

    @rule(key=KEYS, choice=st.one_of(st.just("unconditional"), EXPECTED))
    def delete(self, key: str, choice: int | str | None) -> None:
        expected = None if choice == "unconditional" else self.expected_revision(key, None)
        if isinstance(choice, int):
            expected = choice
        self.same(lambda s: s.delete(key, expected))

    @precondition(lambda self: self.memory.current_revision() > 1)
    @rule(back=st.integers(min_value=-2, max_value=10))
    def compact(self, back: int) -> None:
        revision = self.memory.current_revision() - back
        self.same(lambda s: s.compact(revision))

    @rule(prefix=PREFIXES, back=st.integers(min_value=0, max_value=40))
    def watch_replays_the_same_history(self, prefix: str, back: int) -> None:
        start = max(0, self.memory.current_revision() + 1 - back)

        def replay(store: Datastore) -> list[WatchEvent]:
            with store.watch(prefix, start) as watcher:
                return watcher.get(timeout=0)

        self.same(replay)

    @invariant()
    def same_state(self) -> None:
        for prefix in ("", "/a", "/a/", "/b/"):
            assert self.sqlite.list(prefix) == self.memory.list(prefix)
        assert self.sqlite.current_revision() == self.memory.current_revision()

    def teardown(self) -> None:
        self.sqlite.close()
        shutil.rmtree(self.dir, ignore_errors=True)


SqliteMatchesMemory.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None
)
TestSqliteMatchesMemory = SqliteMatchesMemory.TestCase
