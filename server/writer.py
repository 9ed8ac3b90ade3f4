"""Group commit: one thread owns the history's write connection and commits in batches.

Every fsync costs what the disk says (well under a millisecond here, 5-50 ms on a laptop disk,
an SD card or Windows' FlushFileBuffers). Paid once per event on the event loop, that was the
room's ceiling: at 20 ms a host stored 44 messages a second and nothing else ran meanwhile. Here
the loop only queues an append; this thread takes everything that queued up while the previous
commit was syncing, writes it in one transaction and syncs once. The loop is told afterwards,
once per batch, so an event is still broadcast only after the commit that holds it returned:
an acknowledgement still means "on disk".

Ids are given here, in queue order, so they stay strictly ordered. A batch whose commit fails
(disk full, read-only, locked) is rolled back whole and every append in it fails with
:class:`~server.store.StoreError`; the next batch tries again, so the host recovers when the
fault clears.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .conversation import Change, Columns, Prepared, Refused, index_step, purge_step
from .protocol import encode

log = logging.getLogger(__name__)

MAX_BATCH = 2000  # appends in one transaction: bounds how long one commit holds the lock


class WriteFailed(Exception):
    """A batch could not be committed; ``detail`` says why in words."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Stored:
    """An append's outcome: the event as stored, its JSON text, and whether it is new (False:
    the same person had already stored this ``client_msg_id``, which is returned instead)."""

    event: dict[str, Any]
    payload: str
    is_new: bool
    # The two people a private event belongs to (None: the room), and a shared file whose
    # bytes are to be removed now that the delete holding it is committed.
    audience: tuple[str, str] | None = None
    erase_file: tuple[str, int] | None = None


Outcome = Stored | WriteFailed | Refused
Done = Callable[[Outcome], None]


@dataclass
class _Append:
    event: dict[str, Any]
    user_id: str | None
    client_msg_id: str | None
    done: Done
    loop: asyncio.AbstractEventLoop | None
    columns: Columns | None = None
    change: Change | None = None


@dataclass
class _Call:
    """Any other write (file metadata, a health probe), run in order with the appends."""

    fn: Callable[[sqlite3.Connection], Any]
    done: Callable[[Any, BaseException | None], None]
    loop: asyncio.AbstractEventLoop | None


@dataclass
class _Bulk:
    """Many events in one transaction (imports, benchmarks); ``done`` gets the last id."""

    events: list[dict[str, Any]]
    done: Done


@dataclass
class _Person:
    """The latest name of a person: written with the next batch, never in a commit of its own."""

    user_id: str
    name: str


_STOP = object()


class Writer:
    """The thread that writes. ``on_committed(last_id, error)`` runs on the submitting loop (or
    this thread, for callers without a loop) before the batch's ``done`` callbacks, and
    ``on_batch_done()`` after them; ``error`` is why the batch failed, or None."""

    def __init__(self, db: sqlite3.Connection, last_id: int,
                 on_committed: Callable[[int, str | None], None],
                 on_batch_done: Callable[[], None] = lambda: None,
                 indexing: bool = False) -> None:
        """``indexing``: a migration left old messages to index while idle."""
        self._db = db
        self._last_id = last_id
        self._on_committed = on_committed
        self._on_batch_done = on_batch_done
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lanchat-writer", daemon=True)
        self.batches = 0  # commits made (for benchmarks and tests)
        self.appended = 0
        self._purging = False
        # Names of people to keep (the people table), written inside the next commit: a crowd
        # joining at once must not cost one sync each on a slow disk.
        self._people: dict[str, str] = {}
        self._indexing = indexing
        self._thread.start()

    def append(self, event: dict[str, Any], user_id: str | None, client_msg_id: str | None,
               done: Done, on_loop: bool = True, columns: Columns | None = None,
               change: Change | None = None) -> None:
        """Queue ``event``; ``done`` gets its :class:`Stored`, :class:`WriteFailed` or (for a
        ``change`` that its checks refuse) :class:`Refused`, on the caller's event loop
        (``on_loop``) or on this thread. A ``change`` stores what its ``apply`` returns."""
        loop = _running_loop() if on_loop else None
        self._queue.put(_Append(event, user_id, client_msg_id, done, loop, columns, change))

    def call(self, fn: Callable[[sqlite3.Connection], Any],
             done: Callable[[Any, BaseException | None], None], on_loop: bool = True) -> None:
        """Run ``fn(connection)`` in order with the appends; ``done(result, error)`` after."""
        self._queue.put(_Call(fn, done, _running_loop() if on_loop else None))

    def remember(self, user_id: str, name: str) -> None:
        """Keep ``name`` as the latest name of ``user_id``, written with the next batch."""
        self._queue.put(_Person(user_id, name))

    def bulk(self, events: list[dict[str, Any]], done: Done) -> None:
        """Append ``events`` in one transaction; ``done`` runs on this thread."""
        self._queue.put(_Bulk(events, done))

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    # The thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:  # with a purge or indexing pending, an idle queue is the time to do it
                first = self._queue.get(block=not (self._purging or self._indexing))
            except queue.Empty:
                self._maintain()
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            self._write([item for item in batch if item is not _STOP])
            if stop:
                return

    def _maintain(self) -> None:
        """One bounded step of indexing what a migration left (:func:`server.conversation.
        index_step`), else of erasing what deletes left behind (:func:`~server.conversation.
        purge_step`); a failed step is tried again later."""
        try:
            if self._indexing:
                self._indexing = index_step(self._db)
            else:
                self._purging = purge_step(self._db)
        except sqlite3.Error as exc:
            log.warning("indexing or erasing deleted text is waiting: %s", exc)
            time.sleep(0.5)
            return
        time.sleep(0.001)  # let a waiting batch in first

    @property
    def purging(self) -> bool:
        """True while deleted text may still linger in the index or the WAL."""
        return self._purging

    @property
    def indexing(self) -> bool:
        """True while a migrated history's old messages are still being indexed."""
        return self._indexing

    def _write(self, batch: list[Any]) -> None:
        appends: list[_Append] = []
        for item in batch:
            if isinstance(item, _Append):
                appends.append(item)
                continue
            if isinstance(item, _Person):
                self._people[item.user_id] = item.name
                continue
            self._flush(appends)
            appends = []
            if isinstance(item, _Call):
                self._run_call(item)
            else:
                self._run_bulk(item)
        self._flush(appends)
        if self._people:  # a batch of names alone (a rename refused later, a hello resumed)
            self._write_people()

    def _write_people(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._store_people()
            self._db.execute("COMMIT")
            self._people.clear()
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            log.warning("names of people not kept yet: %s", exc)

    def _store_people(self) -> None:
        """Write the pending names inside the open transaction; they are dropped from the
        pending ones only by the caller's commit succeeding (see :meth:`_commit`)."""
        if self._people:
            self._db.executemany("INSERT OR REPLACE INTO people (id, name) VALUES (?, ?)",
                                 list(self._people.items()))

    def _run_bulk(self, item: _Bulk) -> None:
        rows = []
        next_id = self._last_id
        for event in item.events:
            next_id += 1
            stored = {"type": event["type"], "id": next_id, **event}
            rows.append((next_id, event["type"], None, None, encode(stored), None, None,
                         None, None, None, event.get("text") if event["type"] == "message"
                         else None))
        try:
            self._db.execute("BEGIN IMMEDIATE")
            _insert(self._db, rows)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            item.done(WriteFailed(str(exc)))
            return
        self._last_id = next_id
        self._on_committed(next_id, None)
        item.done(Stored({"id": next_id}, "", True))

    def _run_call(self, item: _Call) -> None:
        try:
            result, error = item.fn(self._db), None
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, not swallowed
            result, error = None, exc
        _deliver(item.loop, lambda: item.done(result, error))

    def _flush(self, appends: list[_Append]) -> None:
        if not appends:
            return
        error: str | None = None
        try:
            outcomes = self._commit(appends)
        except sqlite3.Error as exc:
            log.error("could not store %d event(s): %s", len(appends), exc)
            error = str(exc)
            outcomes = [WriteFailed(error)] * len(appends)
        last_id = self._last_id
        by_loop: dict[asyncio.AbstractEventLoop | None, list[tuple[Done, Outcome]]] = {}
        for item, outcome in zip(appends, outcomes, strict=True):
            by_loop.setdefault(item.loop, []).append((item.done, outcome))
        for loop, calls in by_loop.items():
            _deliver(loop, functools.partial(self._finish, last_id, error, calls))

    def _finish(self, last_id: int, error: str | None,
                calls: list[tuple[Done, Outcome]]) -> None:
        self._on_committed(last_id, error)
        try:
            for done, outcome in calls:
                try:
                    done(outcome)
                except Exception:  # one caller's bug must not stop the others
                    log.exception("a store callback failed")
        finally:
            self._on_batch_done()

    def _commit(self, appends: list[_Append]) -> list[Outcome]:
        """One transaction, one sync, for the whole batch. Few statements, each for many
        rows: this thread needs the GIL back after every SQLite call, and while the event loop
        is busy each hand-back can wait a switch interval (5 ms). A change (edit, reply...)
        reads the history, so the rows queued before it are written first."""
        db = self._db
        earlier = self._stored_before(appends)
        next_id = self._last_id
        outcomes: list[Outcome] = []
        rows: list[tuple[Any, ...]] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for item in appends:
                key = (item.user_id, item.client_msg_id)
                if item.client_msg_id is not None and key in earlier:
                    outcomes.append(dataclasses.replace(earlier[key], is_new=False))
                    continue
                outcome = self._one(item, next_id + 1, rows)
                if isinstance(outcome, Stored):
                    next_id += 1
                    if item.client_msg_id is not None:
                        earlier[key] = outcome  # a retry later in this same batch
                outcomes.append(outcome)
            _insert(db, rows)
            self._store_people()
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._people.clear()
        self._last_id = next_id
        self.batches += 1
        self.appended += len(appends)
        return outcomes

    def _one(self, item: _Append, new_id: int, rows: list[tuple[Any, ...]]) -> Outcome:
        """The row for one append, added to ``rows``; a change is applied first (after the
        rows before it are written, so it sees them)."""
        erase: tuple[str, int] | None = None
        if item.change is None:
            stored = {"type": item.event["type"], "id": new_id, **item.event}
            cols = item.columns or Columns()
        else:
            _insert(self._db, rows)
            rows.clear()
            prepared = self._apply(item.change, new_id)
            if isinstance(prepared, Refused):
                return prepared
            stored, cols, erase = prepared.event, prepared.columns, prepared.erase_file
            self._purging = self._purging or prepared.purge
        outcome = Stored(stored, encode(stored), True, cols.audience, erase)
        rows.append((new_id, item.event["type"], item.user_id, item.client_msg_id,
                     outcome.payload, cols.target, cols.reply_to, cols.file_id, cols.vis_a,
                     cols.vis_b, stored.get("text") if stored["type"] == "message" else None))
        return outcome

    def _apply(self, change: Change, new_id: int) -> Prepared | Refused:
        """Apply one change inside a savepoint: a refused change, or one that fails on data it
        did not expect, leaves nothing behind, and the rest of the batch still commits."""
        db = self._db
        db.execute("SAVEPOINT change")
        try:
            outcome = change.apply(db, new_id)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.exception("could not apply a %s to event %d", change.kind, change.target)
            outcome = Refused("unknown_target", f"that message cannot be changed ({exc})")
        except BaseException:
            db.execute("ROLLBACK TO change")
            db.execute("RELEASE change")
            raise
        if isinstance(outcome, Refused):
            db.execute("ROLLBACK TO change")
        db.execute("RELEASE change")
        return outcome

    def _stored_before(self, appends: list[_Append]) -> dict[tuple[str | None, str | None],
                                                                 Stored]:
        """Retried sends (same person, same client_msg_id) already in the history, found with
        one query for the whole batch."""
        keys = list({(a.user_id, a.client_msg_id) for a in appends
                     if a.client_msg_id is not None})
        found: dict[tuple[str | None, str | None], Stored] = {}
        for start in range(0, len(keys), _ROWS_PER_INSERT):
            chunk = keys[start:start + _ROWS_PER_INSERT]
            # A join on the keys, so each is one seek in events_dedup: a row-value IN scans
            # the whole table (a million rows: a third of a second per batch).
            sql = ("SELECT e.user_id, e.client_msg_id, e.payload, e.vis_a, e.vis_b FROM (VALUES "
                   + ",".join(["(?,?)"] * len(chunk)) + ") AS k JOIN events e ON "
                   "e.user_id = k.column1 AND e.client_msg_id = k.column2 "
                   "WHERE e.client_msg_id IS NOT NULL")
            for user_id, cmid, payload, vis_a, vis_b in self._db.execute(
                    sql, [v for k in chunk for v in k]):
                found[(user_id, cmid)] = Stored(json.loads(payload), str(payload), False,
                                                Columns(vis_a=vis_a, vis_b=vis_b).audience)
        return found


def _insert(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Write ``rows`` (ten columns, then the text to index or None) and index the texts."""
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        db.execute(_INSERT + ",".join(["(?,?,?,?,?,?,?,?,?,?)"] * len(chunk)),
                   [v for row in chunk for v in row[:10]])
    texts = [(row[0], row[10]) for row in rows if row[10]]
    if texts:
        db.executemany("INSERT INTO search (rowid, text) VALUES (?, ?)", texts)


_INSERT = ("INSERT INTO events (id, type, user_id, client_msg_id, payload, target, reply_to, "
           "file_id, vis_a, vis_b) VALUES ")
_ROWS_PER_INSERT = 300  # 3,000 parameters: well inside SQLite's limit


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _deliver(loop: asyncio.AbstractEventLoop | None, fn: Callable[[], None]) -> None:
    """Run ``fn`` on ``loop`` (in order with earlier deliveries), or here without a loop."""
    if loop is None:
        fn()
        return
    try:
        loop.call_soon_threadsafe(fn)
    except RuntimeError:  # the loop is closed: the host is gone, nobody is waiting
        log.debug("a store result arrived after its loop closed")
