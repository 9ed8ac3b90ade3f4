"""The room's history: every event and every shared file's metadata, in one SQLite file.

Durability: the database runs in WAL mode with ``synchronous=FULL`` by default, so an event is
fsync'ed to the log before the host is told it is stored, and only then is it broadcast (the
sender's echo is its acknowledgement). A host killed with SIGKILL loses nothing it
acknowledged, since the WAL is on disk; with FULL, neither does a power cut or kernel panic.
Commits are grouped (:mod:`server.writer`): everything that arrives while one commit syncs goes
into the next, so a slow disk costs one sync per batch, not per message, and never stalls the
event loop. ``synchronous=NORMAL`` would skip the sync and may drop the last transactions on
power loss; it is not used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import schema
from .conversation import Change, Columns, Refused
from .paths import private_file, private_folder
from .writer import Done, Stored, WriteFailed, Writer

__all__ = ["Done", "FileRecord", "HistoryStore", "Page", "Refused", "Stored", "StoreError",
           "WriteFailed"]

# Events a viewer may see: the room's, and the private ones they are one of the two people of.
_VISIBLE = "(vis_a IS NULL OR vis_a = :me OR vis_b = :me)"

log = logging.getLogger(__name__)

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


class BatchListener(Protocol):
    """Told when a committed batch's results start and stop arriving on the loop."""

    def batch_started(self) -> None: ...

    def batch_ended(self) -> None: ...


class HistoryStore:
    """Append-only event log plus file metadata.

    Writes go through one :class:`~server.writer.Writer` thread in batches (group commit); the
    event loop reads on a connection of its own, which in WAL mode never waits for a commit.
    Reads see only events up to :attr:`visible_id`: the last id the loop has been told is
    committed, or less while the hub holds back some committed events to broadcast them
    together (:meth:`hold`). So a page or welcome never holds an event whose broadcast is still
    on its way, and every event after it still reaches the new connection live.
    """

    def __init__(self, path: Path, *, synchronous: str = "FULL",
                 busy_timeout: float = 2.0) -> None:
        """Open (or create) the history. ``busy_timeout``: how long a write waits for a lock
        held by another program before it fails (the writer thread waits, not the loop)."""
        self.path = path
        try:
            # SQLite gives its -wal and -shm files the database file's own permissions.
            private_folder(path.parent)
            for owned in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
                if owned == path or owned.exists():
                    private_file(owned)
            wdb = _connect(path, busy_timeout)
            wdb.execute("PRAGMA journal_mode=WAL")
            wdb.execute(f"PRAGMA synchronous={synchronous}")
            # Freed space is zeroed, so a deleted message's bytes do not linger in the file.
            wdb.execute("PRAGMA secure_delete=ON")
            try:
                schema.prepare(wdb)
            except schema.MigrationError:
                wdb.close()  # the file stays as it was, and no longer open
                raise
            self.room_id = _room_id(wdb)
            last = wdb.execute("SELECT MAX(id) FROM events").fetchone()[0]
            pending = wdb.execute("SELECT 1 FROM meta WHERE key='index_pending_to'").fetchone()
            self._db = _connect(path, busy_timeout)
            # Searches walk the full-text index: keep more of it in memory than the 2 MB
            # default (it grows to this only when used).
            self._db.execute("PRAGMA cache_size=-32768")
        except (sqlite3.Error, OSError, schema.MigrationError) as exc:
            raise StoreError(f"cannot open the history at {path}: {exc}") from exc
        self.last_id: int = int(last or 0)
        self.last_write_error: str | None = None  # why the latest write failed, until one works
        self._held_from: int | None = None  # first committed id not yet broadcast (hold())
        self._listener: BatchListener | None = None
        self._watchers: list[Callable[[int], None]] = []
        self._writer = Writer(wdb, self.last_id, self._committed, self._batch_ended,
                              indexing=pending is not None)

    def listen(self, listener: BatchListener) -> None:
        """``listener`` hears, on the loop, when a batch's results start and stop arriving (the
        hub sends a batch's broadcasts together)."""
        self._listener = listener

    @property
    def visible_id(self) -> int:
        """The newest id reads return: every event up to it has been handed to every socket."""
        held = self._held_from
        return self.last_id if held is None else min(self.last_id, held - 1)

    def hold(self, first_id: int) -> None:
        """Events from ``first_id`` on are committed but their broadcast is held back: reads
        stop before them until :meth:`release` (a welcome built now must not carry them, since
        the connection will get them live)."""
        if self._held_from is None:
            self._held_from = first_id

    def release(self) -> None:
        """The held events were handed to every socket: reads may return them."""
        self._held_from = None

    def watch(self, watcher: Callable[[int], None]) -> None:
        """``watcher(last_id)`` runs after every commit, on whichever thread committed (the
        loop for the chat, the writer for imports): the replication link wakes on it."""
        self._watchers.append(watcher)

    def _committed(self, last_id: int, error: str | None) -> None:
        self.last_id = max(self.last_id, last_id)
        self.last_write_error = error
        for watcher in self._watchers:
            watcher(self.last_id)
        if self._listener is not None:
            self._listener.batch_started()

    def _batch_ended(self) -> None:
        if self._listener is not None:
            self._listener.batch_ended()

    def close(self) -> None:
        """Write what is queued, then close both connections."""
        self._writer.close()
        self._db.close()

    @property
    def commits(self) -> int:
        """Transactions the writer has committed (each one sync)."""
        return self._writer.batches

    def secret(self) -> bytes:
        """A random secret kept with the history (it keys the room's session tokens)."""
        row = self._db.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        if row is not None:
            return bytes.fromhex(str(row[0]))
        value = secrets.token_bytes(32)
        try:
            self._call(lambda db: db.execute("INSERT INTO meta VALUES ('secret', ?)",
                                             (value.hex(),)))
        except sqlite3.Error as exc:
            log.warning("session secret not stored (%s); sessions end with this run", exc)
        return value

    def meta(self, key: str) -> str | None:
        """A value of the history's ``meta`` table (``term``, ``hosts``...), or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def async_set_meta(self, key: str, value: str) -> None:
        """Keep ``value`` under ``key`` in ``meta``, written in order with the events."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(_result: object, error: BaseException | None) -> None:
            if not future.done():
                future.set_result(None)
            if error is not None:
                log.warning("could not keep %s in the history: %s", key, error)
        self._writer.call(lambda db: db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)), done)
        await future

    @property
    def term(self) -> int:
        """How many times this room has been handed to another host (0: never)."""
        return int(self.meta("term") or 0)

    # Events -------------------------------------------------------------------------------

    def submit(self, event: dict[str, Any], done: Done, *, user_id: str | None = None,
               client_msg_id: str | None = None, columns: Columns | None = None,
               change: Change | None = None) -> None:
        """Queue ``event`` for the next commit; ``done`` runs on this loop afterwards with a
        :class:`Stored` (``is_new`` False for a retried ``client_msg_id``: nothing was written
        and the earlier event comes back), a :class:`WriteFailed`, or for a ``change`` that
        its checks refused a :class:`Refused`. Never blocks. ``columns`` say who may see the
        event and what it refers to (:mod:`server.schema`)."""
        self._writer.append(event, user_id, client_msg_id, done, columns=columns,
                            change=change)

    @property
    def purging(self) -> bool:
        """True while a deleted message's words may still be in the index or the WAL."""
        return self._writer.purging

    @property
    def indexing(self) -> bool:
        """True while old messages of a migrated history are still being indexed for search
        (searches meanwhile miss the oldest ones not reached yet)."""
        return self._writer.indexing

    def append(self, event: dict[str, Any], *, user_id: str | None = None,
               client_msg_id: str | None = None) -> tuple[dict[str, Any], str, bool]:
        """:meth:`submit` and wait: for tools and tests, never on the event loop."""
        outcome = self._wait(lambda done: self._writer.append(
            event, user_id, client_msg_id, done, on_loop=False))
        if isinstance(outcome, WriteFailed | Refused):
            raise StoreError(f"the host could not save this ({outcome.detail}); "
                             "nothing was sent")
        return outcome.event, outcome.payload, outcome.is_new

    def append_change(self, change: Change) -> dict[str, Any]:
        """Apply an edit, delete or reaction and wait for it (tools and tests, never on the
        event loop); raises :class:`StoreError` when it is refused or cannot be written."""
        cmid = change.event.get("client_msg_id")
        outcome = self._wait(lambda done: self._writer.append(
            change.event, change.actor, cmid, done, on_loop=False, change=change))
        if isinstance(outcome, WriteFailed | Refused):
            raise StoreError(f"the change was not made ({outcome.detail})")
        event: dict[str, Any] = outcome.event
        return event

    def after(self, since: int, limit: int, max_bytes: int | None = None,
              viewer: str | None = None) -> Page:
        """Events with id > since that ``viewer`` (a user id; None: nobody in particular) may
        see, oldest first: at most ``limit`` of them and, when ``max_bytes`` is given, no more
        than fit in it (always at least one)."""
        return read_after(self._db, since, self.visible_id, limit, max_bytes, viewer)

    def before(self, before: int | None, limit: int, max_bytes: int | None = None,
               viewer: str | None = None) -> Page:
        """The ``limit`` events ``viewer`` may see just before id ``before`` (or the newest),
        oldest first; with ``max_bytes``, only the newest of them that fit in it (always at
        least one)."""
        return read_before(self._db, before, self.visible_id, limit, max_bytes, viewer)

    def search(self, query: str, limit: int, before: int | None,
               viewer: str | None) -> Page:
        """Messages matching ``query`` (an FTS5 expression, see :func:`fts_query`) that
        ``viewer`` may see, newest first, in their current state."""
        return read_search(self._db, query, self.last_id, limit, before, viewer)

    def file_visible(self, file_id: str, viewer: str | None) -> bool:
        """May ``viewer`` download this file? Yes unless every message holding it is private
        to others (a file not yet attached is known only to whoever uploaded it)."""
        return read_file_visible(self._db, file_id, viewer)

    def people(self) -> dict[str, str]:
        """Everyone the room has known: user id -> latest name."""
        return {str(i): str(n) for i, n in self._db.execute("SELECT id, name FROM people")}

    def remember_person(self, user_id: str, name: str) -> None:
        """Keep ``name`` as the latest name of ``user_id``: written inside the next batch's
        commit, so a crowd joining at once costs no sync of its own."""
        self._writer.remember(user_id, name)

    def removals(self) -> list[dict[str, Any]]:
        """The stored ``remove`` events (moderation), oldest first."""
        return [json.loads(p) for (p,) in self._db.execute(
            "SELECT payload FROM events WHERE type='remove' ORDER BY id")]

    async def health(self, timeout: float = 2.0) -> History:
        """Can the history be read, and could a write start now? The write check runs on the
        writer thread between batches, without writing and without waiting for another
        program's lock; a writer stuck for ``timeout`` s counts as not writable either."""
        try:
            self._db.execute("SELECT id FROM events ORDER BY id DESC LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            return History(False, False, f"the history cannot be read: {exc}",
                           self.last_write_error)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        def done(_result: object, error: BaseException | None) -> None:
            if not future.done():
                future.set_result(str(error) if error else None)
        self._writer.call(_write_probe, done)
        try:
            problem = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            problem = f"the history's writer has been busy for over {timeout:g} s"
        if problem is not None:
            return History(True, False, f"the history cannot be written: {problem}",
                           self.last_write_error)
        return History(True, True, None, self.last_write_error)

    async def async_flush(self) -> None:
        """Wait until everything queued before this call is committed and its callbacks have
        run on this loop (results reach a loop in the order they were queued)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(_result: object, _error: BaseException | None) -> None:
            if not future.done():
                future.set_result(None)
        self._writer.call(lambda _db: None, done)
        await future

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def bulk_append(self, events: Iterable[dict[str, Any]]) -> None:
        """Insert many events in one transaction (benchmarks and imports), waiting for it."""
        batch = list(events)
        last = self._wait(lambda done: self._writer.bulk(batch, done))
        if isinstance(last, WriteFailed):
            raise StoreError(f"the host could not save the import ({last.detail})")

    # Files --------------------------------------------------------------------------------

    def add_file(self, record: FileRecord) -> None:
        """Record a shared file (waits for the writer: call it off the loop, or use
        :meth:`async_add_file`)."""
        try:
            self._call(lambda db: _insert_file(db, record))
        except sqlite3.Error as exc:
            log.error("could not store file metadata: %s", exc)
            raise StoreError(f"the host could not save the file ({exc})") from exc

    async def async_add_file(self, record: FileRecord) -> None:
        """Record a shared file without blocking the loop."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(_result: object, error: BaseException | None) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
        self._writer.call(lambda db: _insert_file(db, record), done)
        try:
            await future
        except sqlite3.Error as exc:
            log.error("could not store file metadata: %s", exc)
            raise StoreError(f"the host could not save the file ({exc})") from exc

    def get_file(self, file_id: str) -> FileRecord | None:
        return read_file(self._db, file_id)

    def total_file_bytes(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM files").fetchone()[0])

    # Waiting for the writer (off the loop only) ------------------------------------------

    def _call(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        box: list[tuple[Any, BaseException | None]] = []
        finished = threading.Event()

        def done(result: Any, error: BaseException | None) -> None:
            box.append((result, error))
            finished.set()
        self._writer.call(fn, done, on_loop=False)
        finished.wait()
        result, error = box[0]
        if error is not None:
            raise error
        return result

    def _wait(self, start: Callable[[Done], None]) -> Any:
        box: list[Any] = []
        finished = threading.Event()

        def done(outcome: Any) -> None:
            box.append(outcome)
            finished.set()
        start(done)
        finished.wait()
        return box[0]


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=busy_timeout)


def _room_id(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT value FROM meta WHERE key='room_id'").fetchone()
    if row is not None:
        return str(row[0])
    room_id = uuid.uuid4().hex
    db.execute("INSERT INTO meta VALUES ('room_id', ?)", (room_id,))
    return room_id


def _insert_file(db: sqlite3.Connection, record: FileRecord) -> None:
    db.execute("INSERT INTO files VALUES (?,?,?,?,?,?,?)",
               (record.id, record.name, record.size, record.mime, record.stored_name,
                record.uploader, record.ts))


def _write_probe(db: sqlite3.Connection) -> None:
    """Take the write lock and let it go, without waiting for another program's lock."""
    timeout = db.execute("PRAGMA busy_timeout").fetchone()[0]
    db.execute("PRAGMA busy_timeout=0")
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    finally:
        db.execute(f"PRAGMA busy_timeout={int(timeout)}")



# Reads, shared by the host's store and a standby's read-only replica (server/readonly.py), so
# both show a viewer exactly the same events and files.

def read_after(db: sqlite3.Connection, since: int, last: int, limit: int,
               max_bytes: int | None, viewer: str | None) -> Page:
    """See :meth:`HistoryStore.after`; ``last``: the newest id that may be shown."""
    rows = db.execute(
        f"SELECT payload FROM events WHERE id > :since AND id <= :last AND {_VISIBLE} "
        "ORDER BY id LIMIT :n",
        {"since": since, "last": last, "me": viewer, "n": limit + 1})
    payloads, more = _take(rows, limit, max_bytes)
    return Page(payloads, more)


def read_before(db: sqlite3.Connection, before: int | None, last: int, limit: int,
                max_bytes: int | None, viewer: str | None) -> Page:
    """See :meth:`HistoryStore.before`; ``last``: the newest id that may be shown."""
    top = last + 1
    bound = top if before is None else min(before, top)
    rows = db.execute(
        f"SELECT payload FROM events WHERE id < :bound AND {_VISIBLE} "
        "ORDER BY id DESC LIMIT :n", {"bound": bound, "me": viewer, "n": limit + 1})
    newest_first, more = _take(rows, limit, max_bytes)
    return Page(newest_first[::-1], more)


def read_search(db: sqlite3.Connection, query: str, last: int, limit: int,
                before: int | None, viewer: str | None) -> Page:
    """See :meth:`HistoryStore.search`; ``last``: the newest id held."""
    bound = last + 1 if before is None else min(before, last + 1)
    rows = db.execute(
        "SELECT e.payload FROM search JOIN events e ON e.id = search.rowid "
        f"WHERE search MATCH :q AND search.rowid < :bound AND {_VISIBLE} "
        "ORDER BY search.rowid DESC LIMIT :n",
        {"q": query, "bound": bound, "me": viewer, "n": limit + 1})
    payloads, more = _take(rows, limit, None)
    return Page(payloads, more)


def read_file_visible(db: sqlite3.Connection, file_id: str, viewer: str | None) -> bool:
    """See :meth:`HistoryStore.file_visible`."""
    rows = db.execute("SELECT vis_a, vis_b FROM events WHERE file_id=?", (file_id,)).fetchall()
    return not rows or any(a is None or viewer in (a, b) for a, b in rows)


def read_file(db: sqlite3.Connection, file_id: str) -> FileRecord | None:
    """A shared file's record, or None."""
    row = db.execute(
        "SELECT id, name, size, mime, stored_name, uploader, ts FROM files WHERE id=?",
        (file_id,),
    ).fetchone()
    return FileRecord(*row) if row else None

def _take(rows: sqlite3.Cursor, limit: int, max_bytes: int | None) -> tuple[list[str], bool]:
    """The leading payloads of ``rows``: at most ``limit``, and whose UTF-8 size adds up to at
    most ``max_bytes`` (at least one, so a client paging on always moves); and whether more were
    left. Rows are read one by one, so a page of huge events is never all in memory. Sizes are
    counted in bytes: an event of control characters is six times its text's size as JSON."""
    payloads: list[str] = []
    total = 0
    try:
        for (payload,) in rows:
            if len(payloads) == limit:
                return payloads, True
            if max_bytes is not None:
                total += len(payload) if payload.isascii() else len(payload.encode())
                if total > max_bytes and payloads:
                    return payloads, True
            payloads.append(payload)
        return payloads, False
    finally:
        rows.close()  # ends the read at once, not when the cursor is collected


def check_data_dir(data_dir: Path) -> None:
    """Fail early, with one clear sentence, when the data folder cannot hold history and files."""
    try:
        private_folder(private_folder(data_dir) / "files")
        probe = data_dir / "files" / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise StoreError(f"cannot write to the data folder {data_dir}: {exc.strerror}. "
                         "Free some space, make it writable, or choose another with --data-dir."
                         ) from exc
    store = HistoryStore(data_dir / "history.sqlite3")
    store.close()
