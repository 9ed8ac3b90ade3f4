"""The history's tables, and the migration from the schema before conversations.

Schema 1 (LAN Chat up to 0.2) kept every event as a JSON text with its type, author and
``client_msg_id``. Schema 2 adds what conversations need, as columns so that SQL can filter
without reading JSON: ``target`` (what an edit, delete or react acts on), ``reply_to``,
``file_id`` (which files a message holds, for the download check), and ``vis_a``/``vis_b`` (the
two people a private event belongs to; NULL for the room). It adds ``people`` (everyone the
room has known, for ``to`` and mentions) and ``search``, a full-text index that keeps no text
of its own (``content=''``): only its index, which :mod:`server.conversation` rewrites after a
delete so a deleted word leaves nothing behind.

A migration runs in one transaction: SQLite's schema changes are transactional, so one that
fails rolls back whole and the file stays as the old version left it. The old messages' words
are not indexed in it (that took about 40 s for a million events): the migration only notes
which ids wait (``index_pending_from`` < id <= ``index_pending_to`` in ``meta``), and the writer
indexes them in small steps while it is idle (:func:`server.conversation.index_step`), so a
migrated history opens in a few seconds and its search fills in from the oldest events up.
"""

from __future__ import annotations

import logging
import sqlite3
import time

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2

BASE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    user_id TEXT,
    client_msg_id TEXT,
    payload TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events (user_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    stored_name TEXT NOT NULL,
    uploader TEXT,
    ts TEXT NOT NULL
);
"""

_V2 = """
ALTER TABLE events ADD COLUMN target INTEGER;
ALTER TABLE events ADD COLUMN reply_to INTEGER;
ALTER TABLE events ADD COLUMN file_id TEXT;
ALTER TABLE events ADD COLUMN vis_a TEXT;
ALTER TABLE events ADD COLUMN vis_b TEXT;
CREATE INDEX events_target ON events (target) WHERE target IS NOT NULL;
CREATE INDEX events_reply ON events (reply_to) WHERE reply_to IS NOT NULL;
CREATE INDEX events_file ON events (file_id) WHERE file_id IS NOT NULL;
CREATE INDEX events_type ON events (type) WHERE type = 'remove';
CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE VIRTUAL TABLE search USING fts5 (
    text, content='', tokenize='unicode61 remove_diacritics 2');
"""

# What schema 1 holds, brought into the new columns and tables.
_V2_FILL = """
UPDATE events SET file_id = json_extract(payload, '$.file.id')
    WHERE type = 'message' AND json_extract(payload, '$.file.id') IS NOT NULL;
INSERT INTO people (id, name)
    SELECT uid, name FROM (
        SELECT json_extract(payload, '$.user.id') AS uid,
               json_extract(payload, '$.user.name') AS name, max(id)
        FROM events WHERE type IN ('join', 'rename') GROUP BY uid)
    WHERE uid IS NOT NULL;
INSERT INTO meta (key, value) VALUES ('index_pending_from', '0');
INSERT INTO meta (key, value) SELECT 'index_pending_to', coalesce(max(id), 0) FROM events;
"""


class MigrationError(Exception):
    """The history could not be brought to this version; the file is as it was."""


def version_of(db: sqlite3.Connection) -> int:
    """The schema version of an open history (1 for one written before versions were kept)."""
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    return int(row[0]) if row is not None else 1


def prepare(db: sqlite3.Connection) -> None:
    """Create a new history, or bring an older one to :data:`SCHEMA_VERSION`, in one
    transaction; raises :class:`MigrationError` (after rolling back) when that fails."""
    db.execute("BEGIN IMMEDIATE")
    try:
        fresh = db.execute("SELECT 1 FROM sqlite_master WHERE name='events'").fetchone() is None
        _script(db, BASE)
        version = SCHEMA_VERSION if fresh else version_of(db)
        if version > SCHEMA_VERSION:
            raise MigrationError(f"this history was written by a newer LAN Chat (schema "
                                 f"{version}); update LAN Chat to open it")
        if fresh:
            _script(db, _V2)
        elif version < 2:
            started = time.perf_counter()
            _script(db, _V2 + _V2_FILL)
            log.info("history migrated to schema 2 in %.2f s", time.perf_counter() - started)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        db.execute("COMMIT")
    except BaseException as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise MigrationError(f"the history could not be upgraded ({exc}); it was left "
                                 "as it was") from exc
        raise


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: ``executescript`` would commit the open transaction."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)
