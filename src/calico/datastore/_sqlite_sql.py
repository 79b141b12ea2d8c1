"""The SQL of the sqlite datastore, kept apart so the Python reads as logic.

See ``calico.datastore.sqlite`` for the design of the ``kv`` table.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# Runs on every open inside one IMMEDIATE transaction, so concurrent first
# opens of a fresh file are serialised; IF NOT EXISTS / OR IGNORE make it
# idempotent.
SCHEMA = f"""
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS kv (
    revision        INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT    NOT NULL,
    created         INTEGER NOT NULL,  -- first row of this key's current life
    deleted         INTEGER NOT NULL,  -- tombstone
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,  -- the key's previous row, 0 if none
    value           TEXT,              -- NULL for tombstones
    expires_at      REAL,              -- unix time; only on a key's latest row
    UNIQUE (key, prev_revision)
);
CREATE INDEX IF NOT EXISTS kv_key_revision ON kv (key, revision);
CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', {SCHEMA_VERSION});
INSERT OR IGNORE INTO meta (name, value) VALUES ('compact_revision', 0);
-- An empty store is at revision 1 (as etcd is): seed the sequence.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'kv', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'kv');
COMMIT;
"""

STORE_REVISION = "SELECT seq FROM sqlite_sequence WHERE name = 'kv'"
COMPACT_REVISION = "SELECT value FROM meta WHERE name = 'compact_revision'"
SET_COMPACT_REVISION = "UPDATE meta SET value = ? WHERE name = 'compact_revision'"

LATEST_ROW = """
SELECT revision, deleted, create_revision, value FROM kv
WHERE key = ? ORDER BY revision DESC LIMIT 1
"""

INSERT_ROW = """
INSERT INTO kv (revision, key, created, deleted, create_revision, prev_revision, value, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""

CLEAR_EXPIRY = "UPDATE kv SET expires_at = NULL WHERE revision = ? AND expires_at IS NOT NULL"

ANY_EXPIRED = "SELECT 1 FROM kv WHERE expires_at <= ? LIMIT 1"
# IS NOT NULL lets the planner use the partial index despite the ORDER BY.
EXPIRED_ROWS = """
SELECT revision, key, create_revision FROM kv
WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY revision
"""

# A row is superseded once a later row of its key exists at or below the
# compaction point; tombstones at or below it are no longer needed either.
DELETE_SUPERSEDED = """
DELETE FROM kv WHERE revision IN (
    SELECT prev_revision FROM kv WHERE revision <= ? AND prev_revision > 0
)
"""
DELETE_TOMBSTONES = "DELETE FROM kv WHERE deleted = 1 AND revision <= ?"


def list_latest_rows(bounded: bool) -> str:
    """Latest row of every key in [lo, hi): SQLite's documented MAX() bare-column rule
    makes the other columns come from the row holding the maximum revision."""
    upper = "AND key < ?" if bounded else ""
    return f"""
SELECT key, value, MAX(revision), create_revision, deleted FROM kv
WHERE key >= ? {upper} GROUP BY key ORDER BY key
"""


def rows_since(bounded: bool) -> str:
    """Every row at or above a revision with a key in [lo, hi), in revision order."""
    upper = "AND key < ?" if bounded else ""
    return f"""
SELECT revision, key, deleted, value FROM kv
WHERE revision >= ? AND key >= ? {upper} ORDER BY revision
"""


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix``.

    SQLite compares TEXT as UTF-8 bytes, which orders like code points, so
    bumping the last bumpable character works; surrogates cannot be stored
    and are skipped.  None means unbounded (empty prefix, or all U+10FFFF).
    """
    for i in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[i]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return prefix[:i] + chr(code)
    return None
