"""Edits, deletes, reactions and replies, applied to the history on the writer thread.

Each of these reads the message it acts on and changes it, so they run where every write runs
(:mod:`server.writer`), in order, inside the transaction that stores the new event: two
reactions sent at the same moment each see the other, a reply never quotes a message deleted
a moment before, and a refused change stores nothing. The message row itself is kept in its
current state (text, ``edited_at``, ``reactions``, or a tombstone), so history pages serve
stored JSON as they always did; the edit, delete and react events are stored as well, so a
client resuming from an id can apply them to what it already shows.

Deleting erases: the message's text, the texts of its edits, the quotes of it in replies and
its file are overwritten or removed, the write connection runs with ``secure_delete`` so freed
space is zeroed, and the full-text index, which keeps old terms in segments until they are
merged, is merged whole again in small steps while the writer is idle (:func:`purge_step`);
then the WAL is checkpointed and truncated, so the last copy of the old pages goes too.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from .protocol import encode

EXCERPT_CHARS = 120
MERGE_PAGES = 200  # index pages rewritten per purge step: a few tens of ms on a laptop


@dataclass(frozen=True)
class Refused:
    """A change that cannot be made; ``code`` and ``detail`` go in the ``error`` event."""

    code: str
    detail: str


@dataclass
class Columns:
    """What SQL filters on besides the JSON text: see :mod:`server.schema`."""

    target: int | None = None
    reply_to: int | None = None
    file_id: str | None = None
    vis_a: str | None = None
    vis_b: str | None = None

    @property
    def audience(self) -> tuple[str, str] | None:
        """The two people a private event belongs to, or None for the room."""
        if self.vis_a is None:
            return None
        return (self.vis_a, self.vis_b or self.vis_a)


@dataclass
class Prepared:
    """A change that may be stored: the event (with its id), its columns, and what to do
    once it is committed (a file whose bytes to remove; an index to purge)."""

    event: dict[str, Any]
    columns: Columns
    erase_file: tuple[str, int] | None = None  # (stored name, size)
    purge: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Change:
    """What a client asked for, checked on the writer thread. ``kind`` is edit, delete, react
    or message (a reply); ``actor`` the asking person's user id."""

    kind: str
    event: dict[str, Any]
    actor: str
    target: int
    moderator: bool = False
    max_reactions: int = 20
    columns: Columns = field(default_factory=Columns)

    def apply(self, db: sqlite3.Connection, new_id: int) -> Prepared | Refused:
        found = _load(db, self.target, self.actor)
        if found is None:
            return Refused("unknown_target", "there is no such message")
        message, cols = found
        if self.kind == "message":
            return _reply(self, message, cols, new_id)
        if message.get("deleted"):
            return Refused("unknown_target", "that message was deleted")
        author = (message.get("user") or {}).get("id")
        if self.kind == "edit":
            if author != self.actor:
                return Refused("forbidden", "you can edit only your own messages")
            return _edit(db, self, message, cols, new_id)
        if self.kind == "delete":
            if author != self.actor and not self.moderator:
                return Refused("forbidden", "you can delete only your own messages")
            return _delete(db, self, message, cols, new_id)
        return _react(db, self, message, cols, new_id)


def _load(db: sqlite3.Connection, event_id: int,
          viewer: str) -> tuple[dict[str, Any], Columns] | None:
    """The message ``event_id`` if ``viewer`` may see it."""
    row = db.execute("SELECT type, payload, vis_a, vis_b FROM events WHERE id=?",
                     (event_id,)).fetchone()
    if row is None or row[0] != "message":
        return None
    cols = Columns(vis_a=row[2], vis_b=row[3])
    if cols.vis_a is not None and viewer not in (cols.vis_a, cols.vis_b):
        return None
    return json.loads(row[1]), cols


def _stored(change: Change, new_id: int, cols: Columns, **more: Any) -> Prepared:
    event = {"type": change.kind, "id": new_id, **change.event, "target": change.target}
    return Prepared(event, Columns(target=change.target, vis_a=cols.vis_a, vis_b=cols.vis_b),
                    **more)


def _save(db: sqlite3.Connection, event_id: int, message: dict[str, Any]) -> None:
    db.execute("UPDATE events SET payload=? WHERE id=?", (encode(message), event_id))


def _unindex(db: sqlite3.Connection, event_id: int, text: str) -> None:
    # The index keeps no text: a 'delete' must name exactly what was indexed, and nothing
    # for a message that is not indexed yet (a migrated one waiting for index_step).
    if text and _indexed(db, event_id):
        db.execute("INSERT INTO search (search, rowid, text) VALUES ('delete', ?, ?)",
                   (event_id, text))


def _pending(db: sqlite3.Connection) -> tuple[int, int] | None:
    """The ids (after, up to) whose words still wait to be indexed, if any."""
    rows = dict(db.execute("SELECT key, value FROM meta WHERE key IN "
                           "('index_pending_from', 'index_pending_to')").fetchall())
    if len(rows) != 2:
        return None
    return int(rows["index_pending_from"]), int(rows["index_pending_to"])


def _indexed(db: sqlite3.Connection, event_id: int) -> bool:
    pending = _pending(db)
    return pending is None or not pending[0] < event_id <= pending[1]


def index_step(db: sqlite3.Connection, chunk: int = 2000) -> bool:
    """Index the words of up to ``chunk`` more events that a migration left unindexed, in one
    transaction; True while more wait."""
    db.execute("BEGIN IMMEDIATE")
    try:
        pending = _pending(db)
        if pending is None:
            db.execute("COMMIT")
            return False
        low, high = pending[0], min(pending[0] + chunk, pending[1])
        db.execute("INSERT INTO search (rowid, text) SELECT id, json_extract(payload, '$.text') "
                   "FROM events WHERE id > ? AND id <= ? AND type = 'message' AND "
                   "coalesce(json_extract(payload, '$.text'), '') != ''", (low, high))
        if high >= pending[1]:
            db.execute("DELETE FROM meta WHERE key IN ('index_pending_from', "
                       "'index_pending_to')")
        else:
            db.execute("UPDATE meta SET value=? WHERE key='index_pending_from'", (str(high),))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return high < pending[1]


def _edit(db: sqlite3.Connection, change: Change, message: dict[str, Any], cols: Columns,
          new_id: int) -> Prepared | Refused:
    text = change.event["text"]
    if not text.strip() and not message.get("file"):
        return Refused("empty", "a message needs text or a file; delete it instead")
    _unindex(db, change.target, message.get("text") or "")
    if text and _indexed(db, change.target):
        db.execute("INSERT INTO search (rowid, text) VALUES (?, ?)", (change.target, text))
    message.update(text=text, edited_at=change.event["ts"],
                   mentions=change.event.get("mentions", []))
    _save(db, change.target, message)
    return _stored(change, new_id, cols)


def _delete(db: sqlite3.Connection, change: Change, message: dict[str, Any], cols: Columns,
            new_id: int) -> Prepared:
    target = change.target
    _unindex(db, target, message.get("text") or "")
    erase: tuple[str, int] | None = None
    file_id = (message.get("file") or {}).get("id")
    if file_id:
        row = db.execute("SELECT stored_name, size FROM files WHERE id=?", (file_id,)).fetchone()
        if row is not None:
            erase = (str(row[0]), int(row[1]))
        db.execute("DELETE FROM files WHERE id=?", (file_id,))
        db.execute("UPDATE events SET file_id=NULL, payload=json_set(payload, '$.file', "
                   "json('null')) WHERE file_id=? AND id != ?", (file_id, target))
        db.execute("UPDATE events SET file_id=NULL WHERE id=?", (target,))
    for key in ("reactions", "edited_at"):
        message.pop(key, None)
    message.update(text="", file=None, deleted=True, mentions=[])
    _save(db, target, message)
    db.execute("UPDATE events SET payload=json_set(payload, '$.text', '') "
               "WHERE target=? AND type='edit'", (target,))
    db.execute("UPDATE events SET payload=json_set(payload, '$.reply_to.text', json('null')) "
               "WHERE reply_to=?", (target,))
    return _stored(change, new_id, cols, erase_file=erase, purge=True)


def _react(db: sqlite3.Connection, change: Change, message: dict[str, Any], cols: Columns,
           new_id: int) -> Prepared | Refused:
    emoji: str = change.event["emoji"]
    person: dict[str, Any] = change.event["user"]
    reactions: dict[str, list[dict[str, Any]]] = message.get("reactions") or {}
    people = [p for p in reactions.get(emoji, []) if p.get("id") != person["id"]]
    if change.event["on"]:
        if emoji not in reactions and len(reactions) >= change.max_reactions:
            return Refused("too_many_reactions", f"a message holds at most "
                                                 f"{change.max_reactions} different reactions")
        people.append({"id": person["id"], "name": person["name"]})
    if people:
        reactions[emoji] = people
    else:
        reactions.pop(emoji, None)
    if reactions:
        message["reactions"] = reactions
    else:
        message.pop("reactions", None)
    _save(db, change.target, message)
    return _stored(change, new_id, cols)


def _reply(change: Change, message: dict[str, Any], cols: Columns,
           new_id: int) -> Prepared | Refused:
    """A message answering ``change.target``: it gets a short quote of it. A private message
    may be answered only inside its own conversation, so its words never reach the room."""
    own = change.columns
    if cols.vis_a is not None and {cols.vis_a, cols.vis_b} != {own.vis_a, own.vis_b}:
        return Refused("unknown_target", "a private message can be answered only in its "
                                         "own conversation")
    text = None if message.get("deleted") else (message.get("text") or "")[:EXCERPT_CHARS]
    event = {"type": "message", "id": new_id, **change.event,
             "reply_to": {"id": change.target, "user": message.get("user"), "text": text}}
    return Prepared(event, Columns(reply_to=change.target, file_id=own.file_id,
                                   vis_a=own.vis_a, vis_b=own.vis_b))


def purge_step(db: sqlite3.Connection) -> bool:
    """Rewrite a bounded part of the full-text index, merging away what deleted messages left
    in it; True while more remains. When the index is one clean segment, checkpoint the WAL
    and truncate it (False only once that worked: a reader may hold it a moment)."""
    before = db.total_changes
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT INTO search (search, rank) VALUES ('merge', ?)", (-MERGE_PAGES,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    if db.total_changes - before >= 2:
        return True
    busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return bool(busy)
