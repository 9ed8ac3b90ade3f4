"""A standby's copy of a room's history, written from the rows its host sends.

The host sends every stored row of ``events`` as it was committed (private ones included), in id
order, never skipping one. Rows are written here with their own ids, so the replica is the same
history file a host opens: once a standby takes the room over, a plain
:class:`~server.store.HistoryStore` serves it and its next event follows the last replicated id.

Edits, deletes and reactions change an earlier message's row on the host (its current state is
what history pages serve), so they are applied here the same way, by the same code
(:class:`~server.conversation.Change`), before their own row is written. A row sent again after
a reconnect, or a change already reflected in the row it targets, leaves the same state.

All methods block (SQLite with ``synchronous=FULL``): the standby calls them off its event loop.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import schema
from .conversation import Change, Refused
from .paths import private_file, private_folder

log = logging.getLogger(__name__)

# The columns of a row on the wire, in this order (a JSON array per row).
COLUMNS = ("id", "type", "user_id", "client_msg_id", "payload", "target", "reply_to",
           "file_id", "vis_a", "vis_b")
SELECT_ROWS = ("SELECT " + ", ".join(COLUMNS) + " FROM events WHERE id > ? AND id <= ? "
               "ORDER BY id LIMIT ?")
_CHANGES = {"edit", "delete", "react"}
_INSERT = ("INSERT INTO events (" + ", ".join(COLUMNS) + ") VALUES (?,?,?,?,?,?,?,?,?,?)")


T = TypeVar("T")


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """One call at a time on the connection: a call still running on a worker thread (its
    caller cancelled) finishes before :meth:`Replica.close` closes the connection."""
    @functools.wraps(method)
    def call(self: Replica, *args: Any) -> T:
        with self._lock:
            return method(self, *args)
    return call


class ReplicaError(Exception):
    """The replica cannot follow this host (another room's history, a row out of order)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Applied:
    """What one batch of rows did: the last id now held, and stored file names to remove
    (files of deleted messages)."""

    last_id: int
    erase: list[str]


class Replica:
    """The replica's SQLite file (``history.sqlite3`` in the standby's data folder)."""

    def __init__(self, path: Path) -> None:
        private_folder(path.parent)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                   timeout=5.0)
        private_file(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA secure_delete=ON")
        schema.prepare(self._db)
        self.last_id = int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events")
                           .fetchone()[0])

    @_locked
    def close(self) -> None:
        self._db.close()

    @_locked
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def room_id(self) -> str | None:
        """The room this replica holds; None while it holds no history yet (a fresh folder,
        or one whose own room never stored an event, which the standby may take over)."""
        if self.last_id == 0:
            return None
        return self.meta("room_id")

    @_locked
    def adopt(self, values: dict[str, str]) -> None:
        """Keep the room's identity (``room_id``, ``secret``, ``term``, ``hosts``) in ``meta``:
        a host opening this file later serves the same room with the same sessions."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 list(values.items()))
            self._db.execute("COMMIT")
        except BaseException:
            _rollback(self._db)
            raise

    @_locked
    def set_people(self, people: dict[str, str]) -> None:
        """Everyone the room has known (user id -> latest name)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO people (id, name) VALUES (?, ?)",
                                 list(people.items()))
            self._db.execute("COMMIT")
        except BaseException:
            _rollback(self._db)
            raise

    @_locked
    def apply(self, rows: list[list[Any]]) -> Applied:
        """Write ``rows`` (each as :data:`COLUMNS`) in one transaction; rows this replica
        already holds are skipped, a gap is refused (:class:`ReplicaError`)."""
        db = self._db
        last = self.last_id
        erase: list[str] = []
        plain: list[list[Any]] = []  # rows that change nothing else, written together
        db.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                if len(row) != len(COLUMNS) or not isinstance(row[0], int):
                    raise ReplicaError("a replicated row has the wrong shape")
                if row[0] <= last:
                    continue
                if row[0] != last + 1:
                    raise ReplicaError(f"rows skip from {last} to {row[0]}")
                if row[1] in _CHANGES:
                    self._insert(plain)
                    plain = []
                    erase.extend(self._write(row))
                else:
                    plain.append(row)
                last = row[0]
            self._insert(plain)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self.last_id = last
        return Applied(last, erase)

    def _insert(self, rows: list[list[Any]]) -> None:
        """Rows as they are, and their messages' words in the search index."""
        if not rows:
            return
        self._db.executemany(_INSERT, rows)
        texts = []
        for row in rows:
            if row[1] == "message":
                text = json.loads(row[4]).get("text")
                if isinstance(text, str) and text:
                    texts.append((row[0], text))
        self._db.executemany("INSERT INTO search (rowid, text) VALUES (?, ?)", texts)

    def _write(self, row: list[Any]) -> list[str]:
        """One row: an edit, delete or reaction is applied to its message first."""
        event = json.loads(row[4])
        erase: list[str] = []
        if row[1] in _CHANGES and row[5] is not None:
            change = Change(row[1], event, str(row[2] or ""), int(row[5]), moderator=True,
                            max_reactions=1 << 30)
            self._db.execute("SAVEPOINT change")
            outcome = change.apply(self._db, int(row[0]))
            if isinstance(outcome, Refused):  # already reflected (a message deleted later)
                self._db.execute("ROLLBACK TO change")
            elif outcome.erase_file is not None:
                erase.append(outcome.erase_file[0])
            self._db.execute("RELEASE change")
        self._db.execute(_INSERT, row)
        return erase

    @_locked
    def add_file(self, record: dict[str, Any]) -> None:
        """A shared file's metadata (its bytes may follow, or never: see the standby)."""
        self._db.execute(
            "INSERT OR REPLACE INTO files (id, name, size, mime, stored_name, uploader, ts) "
            "VALUES (?,?,?,?,?,?,?)", (record["id"], record["name"], int(record["size"]),
                                       record["mime"], record["stored_name"],
                                       record.get("uploader"), record["ts"]))



def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("ROLLBACK")


class ReplicaFiles:
    """The shared files' bytes a replica keeps, at most ``max_bytes`` of them: the oldest go
    first to make room for a new one, and a file larger than the quota is not kept."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        private_folder(folder)
        self.folder = folder
        self.max_bytes = max_bytes
        self.held: dict[str, int] = {}  # stored name -> size, oldest first
        for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime):
            if path.is_file() and not path.name.startswith("."):
                self.held[path.name] = path.stat().st_size

    def make_room(self, size: int) -> bool:
        """Free space for ``size`` more bytes; False when it can never fit."""
        if size > self.max_bytes:
            return False
        while self.held and sum(self.held.values()) + size > self.max_bytes:
            self.erase(next(iter(self.held)))
        return True

    def erase(self, stored_name: str) -> None:
        self.held.pop(stored_name, None)
        try:
            (self.folder / stored_name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove the replicated file %s: %s", stored_name, exc)

    def keep(self, stored_name: str, size: int) -> None:
        self.held[stored_name] = size


def mark_unavailable(path: Path, folder: Path) -> int:
    """Before serving a replica: messages whose file's bytes it lacks say ``available: false``
    (clients show the name and who shared it, not a broken link). Returns how many files."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        missing = [str(i) for i, name in db.execute("SELECT id, stored_name FROM files")
                   if not (folder / str(name)).is_file()]
        db.execute("BEGIN IMMEDIATE")
        db.executemany("UPDATE events SET payload=json_set(payload, '$.file.available', "
                       "json('false')) WHERE file_id=? AND json_extract(payload, '$.file') "
                       "IS NOT NULL", [(i,) for i in missing])
        db.execute("COMMIT")
        return len(missing)
    finally:
        db.close()
