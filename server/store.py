"""The room's history: every event and every shared file's metadata, in one SQLite file.

Durability: the database runs in WAL mode with ``synchronous=FULL`` by default, so an event is
fsync'ed to the log before :meth:`HistoryStore.append` returns, and only then is it broadcast
(the sender's echo is its acknowledgement). A host killed with SIGKILL loses nothing it
acknowledged, since the WAL is on disk; with FULL, neither does a power cut or kernel panic.
``synchronous=NORMAL`` is about 9x faster here but may drop the last transactions on power loss
(never on a process crash) and never corrupts the file. Chat rates are far below what FULL
sustains, so FULL is the default: an acknowledged message is a stored message.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .protocol import encode

log = logging.getLogger(__name__)

_SCHEMA = """
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


class StoreError(Exception):
    """The history could not be read or written (disk full, read-only, locked, corrupt)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class FileRecord:
    id: str
    name: str
    size: int
    mime: str
    stored_name: str
    uploader: str | None
    ts: str

    def public(self) -> dict[str, Any]:
        """What clients see of a file: never where it lies on the host's disk."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "mime": self.mime,
            "url": f"/api/files/{self.id}",
        }


@dataclass(frozen=True)
class Page:
    """Some stored events, oldest first, already encoded as JSON texts."""

    payloads: list[str]
    has_more: bool

    def json_array(self) -> str:
        return "[" + ",".join(self.payloads) + "]"


@dataclass(frozen=True)
class History:
    """What ``/api/health`` says of the history: ``problem`` is None when it can serve."""

    readable: bool
    writable: bool
    problem: str | None
    last_write_error: str | None

    def public(self) -> dict[str, Any]:
        return {"readable": self.readable, "writable": self.writable,
                "last_write_error": self.last_write_error}


class HistoryStore:
    """Append-only event log plus file metadata. One writer: the host's event loop."""

    def __init__(self, path: Path, *, synchronous: str = "FULL",
                 busy_timeout: float = 2.0) -> None:
        """Open (or create) the history. ``busy_timeout``: how long a write waits for a lock
        held by another process before it fails; the event loop waits with it, so keep it short."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=busy_timeout)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='room_id'").fetchone()
            if row is None:
                self.room_id = uuid.uuid4().hex
                self._db.execute("INSERT INTO meta VALUES ('room_id', ?)", (self.room_id,))
            else:
                self.room_id = str(row[0])
            last = self._db.execute("SELECT MAX(id) FROM events").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the history at {path}: {exc}") from exc
        self.last_id: int = int(last or 0)
        self.busy_ms = int(busy_timeout * 1000)
        self.last_write_error: str | None = None  # why the latest write failed, until one works

    def close(self) -> None:
        self._db.close()

    def secret(self) -> bytes:
        """A random secret kept with the history (it keys the room's session tokens)."""
        row = self._db.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        if row is not None:
            return bytes.fromhex(str(row[0]))
        value = secrets.token_bytes(32)
        try:
            self._db.execute("INSERT INTO meta VALUES ('secret', ?)", (value.hex(),))
        except sqlite3.Error as exc:
            log.warning("session secret not stored (%s); sessions end with this run", exc)
        return value

    # Events -------------------------------------------------------------------------------

    def append(self, event: dict[str, Any], *, user_id: str | None = None,
               client_msg_id: str | None = None) -> tuple[dict[str, Any], str, bool]:
        """Store ``event`` with the next id and return it, its JSON text and whether it is new.

        When the same user already stored ``client_msg_id``, nothing is written and the stored
        event comes back with ``False``: a retried send is acknowledged, never stored twice.
        """
        if client_msg_id is not None:
            row = self._db.execute(
                "SELECT payload FROM events WHERE user_id=? AND client_msg_id=?",
                (user_id, client_msg_id),
            ).fetchone()
            if row is not None:
                return json.loads(row[0]), str(row[0]), False
        event_id = self.last_id + 1
        stored = {"type": event["type"], "id": event_id, **event}
        payload = encode(stored)
        try:
            self._db.execute(
                "INSERT INTO events (id, type, user_id, client_msg_id, payload) VALUES (?,?,?,?,?)",
                (event_id, event["type"], user_id, client_msg_id, payload),
            )
        except sqlite3.Error as exc:
            log.error("could not store a %s event: %s", event["type"], exc)
            self.last_write_error = str(exc)
            raise StoreError(f"the host could not save this ({exc}); nothing was sent") from exc
        self.last_write_error = None
        self.last_id = event_id
        return stored, payload, True

    def after(self, since: int, limit: int, max_bytes: int | None = None) -> Page:
        """Events with id > since, oldest first: at most ``limit`` of them and, when
        ``max_bytes`` is given, no more than fit in it (always at least one)."""
        rows = self._db.execute(
            "SELECT payload FROM events WHERE id > ? ORDER BY id LIMIT ?", (since, limit + 1)
        ).fetchall()
        payloads = _fit([r[0] for r in rows[:limit]], max_bytes)
        return Page(payloads, len(rows) > len(payloads))

    def before(self, before: int | None, limit: int, max_bytes: int | None = None) -> Page:
        """The ``limit`` events just before id ``before`` (or the newest), oldest first; with
        ``max_bytes``, only the newest of them that fit in it (always at least one)."""
        bound = self.last_id + 1 if before is None else before
        rows = self._db.execute(
            "SELECT payload FROM events WHERE id < ? ORDER BY id DESC LIMIT ?", (bound, limit + 1)
        ).fetchall()
        newest_first = _fit([r[0] for r in rows[:limit]], max_bytes)
        return Page(newest_first[::-1], len(rows) > len(newest_first))

    def health(self) -> History:
        """Can the history be read, and could a write start now? Checked without writing
        anything and without waiting: another program holding the database's write lock
        makes ``writable`` false at once instead of stalling the caller."""
        try:
            self._db.execute("SELECT id FROM events ORDER BY id DESC LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            return History(False, False, f"the history cannot be read: {exc}",
                           self.last_write_error)
        try:
            self._db.execute("PRAGMA busy_timeout=0")
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            return History(True, False, f"the history cannot be written: {exc}",
                           self.last_write_error)
        finally:
            self._db.execute(f"PRAGMA busy_timeout={self.busy_ms}")
        return History(True, True, None, self.last_write_error)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def bulk_append(self, events: Iterable[dict[str, Any]]) -> None:
        """Insert many events in one transaction (benchmarks and imports)."""
        rows = []
        for event in events:
            self.last_id += 1
            stored = {"type": event["type"], "id": self.last_id, **event}
            rows.append((self.last_id, event["type"], None, None, encode(stored)))
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO events VALUES (?,?,?,?,?)", rows)

    # Files --------------------------------------------------------------------------------

    def add_file(self, record: FileRecord) -> None:
        try:
            self._db.execute(
                "INSERT INTO files VALUES (?,?,?,?,?,?,?)",
                (record.id, record.name, record.size, record.mime, record.stored_name,
                 record.uploader, record.ts),
            )
        except sqlite3.Error as exc:
            log.error("could not store file metadata: %s", exc)
            raise StoreError(f"the host could not save the file ({exc})") from exc

    def get_file(self, file_id: str) -> FileRecord | None:
        row = self._db.execute(
            "SELECT id, name, size, mime, stored_name, uploader, ts FROM files WHERE id=?",
            (file_id,),
        ).fetchone()
        return FileRecord(*row) if row else None

    def total_file_bytes(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM files").fetchone()[0])


def _fit(payloads: list[str], max_bytes: int | None) -> list[str]:
    """The leading payloads whose UTF-8 size adds up to at most ``max_bytes`` (at least one, so
    a client paging on always moves). Sizes are counted in bytes: an event of control characters
    is six times its text's size as JSON, and a page is bounded by what it costs to send."""
    if max_bytes is None:
        return payloads
    total = 0
    for i, payload in enumerate(payloads):
        total += len(payload) if payload.isascii() else len(payload.encode())
        if total > max_bytes and i > 0:
            return payloads[:i]
    return payloads


def check_data_dir(data_dir: Path) -> None:
    """Fail early, with one clear sentence, when the data folder cannot hold history and files."""
    try:
        (data_dir / "files").mkdir(parents=True, exist_ok=True)
        probe = data_dir / "files" / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise StoreError(f"cannot write to the data folder {data_dir}: {exc.strerror}. "
                         "Free some space, make it writable, or choose another with --data-dir."
                         ) from exc
    store = HistoryStore(data_dir / "history.sqlite3")
    store.close()
