"""Succession, the host's side: the standbys that replicate the room, their order, and handing
the room over to the best of them.

A standby connects to ``/ws/standby`` (:mod:`server.api.standby`) and proves what a host's admin
proves (:func:`may_stand_by`). The host then sends it the room's identity (``replica``), every
stored row of the history in id order from where the standby's replica ends (catch-up, then
live, private events and the join and leave lines the hub still holds back included), the
people the room has known, and the list of successors. Rows are read on a connection of each
link's own, off the event loop, up to the last committed id: the chat never waits for a standby.

Successors are ordered: standbys that are caught up (their ack reached the host's last id
within the last second) first, then the longest connected. Clients get the list in their
welcome and a ``successors`` event when it changes; standbys get it too, to know their rank.

A clean hand-over (:meth:`Succession.async_hand_over`) stops taking events, flushes the writer,
waits until the best standby holds every row, sends it ``take_over`` and waits for ``serving``;
the next standby is tried when one does not answer in time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import protocol
from .replica import SELECT_ROWS
from .store import HistoryStore

log = logging.getLogger(__name__)

CAUGHT_UP_SECONDS = 1.0  # an ack of the last id the host had this long ago is caught up
MARK_SECONDS = 0.1
TAKE_OVER_SECONDS = 5.0  # how long a standby has to serve the room once asked
ROWS_PER_FRAME = 2000
MAX_KNOWN = 16  # standbys' URLs remembered
FRAME_BYTES = 512 * 1024  # rows in one frame stop past this (always at least one row)

SendText = Callable[[str], Awaitable[None]]


class StandbyRefused(Exception):
    """A standby that may not follow this room; ``code``/``reason`` go in the close frame."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class StandbyHello:
    """The first frame of a replication link."""

    standby_id: str
    after: int
    room_id: str | None
    port: int
    tls: bool
    name: str
    password: str | None
    admin_password: str | None


def parse_standby_hello(raw: str | bytes) -> StandbyHello:
    """Check a standby's first frame; raises :class:`protocol.ProtocolError`."""
    data = protocol.parse_object(raw)
    if data.get("type") != "standby":
        raise protocol.ProtocolError("hello_required", "the first frame must be "
                                                       "{'type': 'standby', ...}")
    after, port = data.get("after", 0), data.get("port")
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise protocol.ProtocolError("bad_field", "'after' must be an event id")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise protocol.ProtocolError("bad_field", "'port' must be a TCP port")
    room_id = data.get("room_id")
    secrets = [data.get(k) for k in ("password", "admin_password")]
    if any(s is not None and not isinstance(s, str) for s in secrets):
        raise protocol.ProtocolError("bad_field", "passwords must be strings")
    name = data.get("name")
    return StandbyHello(
        standby_id=protocol.clean_id(data.get("standby_id"), "standby_id"), after=after,
        room_id=protocol.clean_id(room_id, "room_id") if room_id is not None else None,
        port=port, tls=bool(data.get("tls")), name=str(name)[:64] if name else "standby",
        password=secrets[0], admin_password=secrets[1])


def base_url(address: str, port: int, tls: bool) -> str:
    """A host's base URL, as successors and ``moved`` carry it (no trailing slash)."""
    host = f"[{address}]" if ":" in address else address
    return f"{'https' if tls else 'http'}://{host}:{port}"


@dataclass(eq=False)
class Link:
    """One connected standby."""

    hello: StandbyHello
    url: str
    send: SendText
    connected_at: float = field(default_factory=time.monotonic)
    acked: int = 0
    sent: int = 0  # the last row id sent to it
    files_sent: int = 0  # the last rowid of ``files`` sent to it
    # What it shows to download shared files' bytes (GET /api/files/<id>, header
    # x-lanchat-standby), good while this link is open.
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    people_sent: dict[str, str] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    serving: asyncio.Future[str] | None = None
    asked: bool = False  # take_over was sent to it
    closed: bool = False

    async def send_json(self, event: dict[str, Any]) -> None:
        await self.send_text(protocol.encode(event))

    async def send_text(self, text: str) -> None:
        async with self.lock:
            await self.send(text)


class Succession:
    """The standbys of one room, on the host's event loop."""

    def __init__(self, store: HistoryStore, people: Callable[[], dict[str, str]],
                 replica_info: Callable[[Link], dict[str, Any]],
                 on_change: Callable[[list[str]], None]) -> None:
        """``replica_info(link)``: the ``replica`` frame for a new link; ``on_change(urls)``:
        the successors list changed (the hub tells clients)."""
        self.store = store
        self._people = people
        self._replica_info = replica_info
        self._on_change = on_change
        self.links: list[Link] = []
        # A standby was asked to take the room over and never said it serves: it may yet.
        self.uncertain = False
        self.urls: list[str] = []
        # The standbys this host has had, latest last: one cut off from it may have taken the
        # room over meanwhile (server/rivals.py looks there).
        self.known: list[str] = []
        # (when, last id) samples of the last few seconds: "caught up" is an ack of the id
        # the host had a second ago.
        self._marks: deque[tuple[float, int]] = deque(maxlen=int(3 / MARK_SECONDS))
        self._loop = asyncio.get_running_loop()
        store.watch(self._committed)

    def _committed(self, _last_id: int) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake_all)
        except RuntimeError:  # the loop is closed: nobody to wake
            pass

    def _wake_all(self) -> None:
        now = time.monotonic()
        if not self._marks or now - self._marks[-1][0] >= MARK_SECONDS:
            self._marks.append((now, self.store.last_id))
        for link in self.links:
            link.wake.set()

    def _last_id_at(self, moment: float) -> int:
        """The host's last id at ``moment`` (to within :data:`MARK_SECONDS`)."""
        found = 0
        for at, last_id in self._marks:
            if at > moment:
                break
            found = last_id
        return found

    # Links --------------------------------------------------------------------------------

    async def serve(self, link: Link) -> None:
        """Send ``link`` the room, then every row as it is committed, until it closes."""
        link.acked = link.sent = link.hello.after
        self.links.append(link)
        self.known = [*(u for u in self.known if u != link.url), link.url][-MAX_KNOWN:]
        db = RowReader(self.store.path)
        try:
            await link.send_json(self._replica_info(link))
            self.reorder(force_send=link)
            while not link.closed:
                await self._send_files(link, db)
                await self._send_rows(link, db)
                await self._send_people(link)
                try:
                    await asyncio.wait_for(link.wake.wait(), CAUGHT_UP_SECONDS)
                except TimeoutError:
                    self.reorder()
                link.wake.clear()
        finally:
            link.closed = True
            if link in self.links:
                self.links.remove(link)
            db.close()
            self.reorder()

    async def _send_rows(self, link: Link, db: RowReader) -> None:
        while not link.closed and link.sent < self.store.last_id:
            frame, last = await asyncio.to_thread(db.rows_frame, link.sent, self.store.last_id)
            if last <= link.sent:
                return
            await link.send_text(frame)
            link.sent = last

    async def _send_files(self, link: Link, db: RowReader) -> None:
        """Shared files' records, before the rows that attach them."""
        found = await asyncio.to_thread(db.files_after, link.files_sent)
        for row in found:
            record = dict(zip(("id", "name", "size", "mime", "stored_name", "uploader", "ts"),
                              row[1:], strict=True))
            await link.send_json({"type": "file", "record": record})
            link.files_sent = int(row[0])

    def holds_token(self, token: str | None) -> bool:
        """``token`` is an open standby link's: it may download any shared file."""
        return bool(token) and any(link.token == token and not link.closed
                                   for link in self.links)

    async def _send_people(self, link: Link) -> None:
        people = self._people()
        if people != link.people_sent:
            link.people_sent = dict(people)
            await link.send_json({"type": "people", "people": link.people_sent})

    def receive(self, link: Link, raw: str | bytes) -> None:
        """A frame from a standby: ``ack`` or ``serving`` (others are ignored)."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return
        if not isinstance(data, dict):
            return
        if data.get("type") == "ack" and isinstance(data.get("id"), int):
            link.acked = max(link.acked, int(data["id"]))
            self.reorder()
        elif data.get("type") == "serving" and isinstance(data.get("url"), str):
            if link.serving is not None and not link.serving.done():
                link.serving.set_result(str(data["url"])[:300])

    def drop(self, link: Link) -> None:
        """The link closed."""
        link.closed = True
        link.wake.set()
        if link.serving is not None and not link.serving.done():
            link.serving.set_exception(ConnectionError("the standby went away"))

    def mismatch(self, hello: StandbyHello) -> StandbyRefused | None:
        """A replica that is not a copy of this history (another room's, or one holding ids
        this host never gave) is refused: following would mix two histories."""
        if hello.room_id is not None and hello.room_id != self.store.room_id:
            return StandbyRefused(4409, "the standby holds another room's history")
        if hello.after > self.store.last_id:
            return StandbyRefused(4409, "the standby holds events this host does not have")
        return None

    # Order --------------------------------------------------------------------------------

    def ranked(self) -> list[Link]:
        """Standbys best first: caught up, then the longest connected."""
        now, last = time.monotonic(), self.store.last_id
        if self._marks and now - self._marks[-1][0] <= CAUGHT_UP_SECONDS:  # still writing
            last = min(last, self._last_id_at(now - CAUGHT_UP_SECONDS))

        def key(link: Link) -> tuple[bool, float]:
            return (link.acked < last, link.connected_at)
        return sorted((k for k in self.links if not k.closed), key=key)

    def reorder(self, force_send: Link | None = None) -> None:
        """Work the successors list out again; when it changed, clients and standbys hear."""
        urls = list(dict.fromkeys(link.url for link in self.ranked()))
        changed = urls != self.urls
        self.urls = urls
        if changed:
            self._on_change(urls)
        frame = protocol.encode({"type": "successors", "urls": urls})
        for link in list(self.links):
            if changed or link is force_send:
                self._spawn(link.send_text(frame))

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:  # noqa: BLE001 - a standby gone mid-send: its reader notices
                log.debug("a successors frame did not reach a standby")
        self._loop.create_task(guarded())

    # Hand-over ----------------------------------------------------------------------------

    async def async_hand_over(self, term: int) -> str | None:
        """Pass the room to the best standby that takes it: its URL, or None. The caller has
        stopped taking events and flushed the history."""
        last = self.store.last_id
        for link in self.ranked():
            try:
                url = await asyncio.wait_for(self._pass_to(link, last, term), TAKE_OVER_SECONDS)
            except (TimeoutError, ConnectionError, OSError, RuntimeError) as exc:
                log.warning("standby %s did not take the room over (%r)", link.url, exc)
                if link.asked:  # it may serve the room yet: asking another could make two
                    self.uncertain = True
                    return None
                continue
            log.info("handed the room over to %s (term %d, last id %d)", url, term + 1, last)
            return url
        return None

    async def _pass_to(self, link: Link, last: int, term: int) -> str:
        link.serving = self._loop.create_future()
        link.wake.set()
        while link.sent < last:  # every row goes before take_over, on the same socket
            if link.closed:
                raise ConnectionError("the standby went away")
            await asyncio.sleep(0.01)
        link.asked = True
        await link.send_json({"type": "take_over", "last_id": last, "term": term})
        return await link.serving

    async def async_moved(self, url: str) -> None:
        """Tell the other standbys where the room went, so they follow its new host."""
        await self._tell_all({"type": "moved", "url": url}, but=url)

    async def async_closing(self) -> None:
        """The room closes for good, handed to nobody: standbys must not take it over (its
        people were told it closed); they follow the host again if it comes back."""
        await self._tell_all({"type": "closing"})

    async def _tell_all(self, event: dict[str, Any], but: str | None = None) -> None:
        for link in list(self.links):
            if link.url != but and not link.closed:
                try:
                    await asyncio.wait_for(link.send_json(event), 1.0)
                except (TimeoutError, Exception):  # noqa: BLE001 - it reconnects anyway
                    pass


class RowReader:
    """A link's own read-only connection to the history, used off the loop one call at a
    time; closing waits for a read still running on its thread (a cancelled link's)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def rows_frame(self, after: int, upto: int) -> tuple[str, int]:
        """A ``rows`` frame of the rows after ``after`` (up to ``upto``), and its last id."""
        rows: list[list[Any]] = []
        size = 0
        with self._lock:
            for row in self._db.execute(SELECT_ROWS, (after, upto, ROWS_PER_FRAME)):
                rows.append(list(row))
                size += len(row[4]) + 100
                if size > FRAME_BYTES:
                    break
        last = rows[-1][0] if rows else after
        # ``last_id``: the host's newest id when this was read, so a standby knows when it
        # has caught up.
        return json.dumps({"type": "rows", "rows": rows, "last_id": upto}, ensure_ascii=False,
                          separators=(",", ":")), int(last)

    def files_after(self, rowid: int) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(
                "SELECT rowid, id, name, size, mime, stored_name, uploader, ts FROM files "
                "WHERE rowid > ? ORDER BY rowid", (rowid,)).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def may_stand_by(hello: StandbyHello, admin_required: bool, password_required: bool,
                 check_admin: Callable[[str], bool], check_password: Callable[[str], bool]
                 ) -> StandbyRefused | None:
    """A standby holds everything, private messages and the TLS key included: it proves what an
    admin proves. With no admin password, the room password (if any) is enough."""
    if admin_required:
        if hello.admin_password and check_admin(hello.admin_password):
            return None
        return StandbyRefused(4403, "standing by needs this host's admin password")
    if password_required and not (hello.password and check_password(hello.password)):
        return StandbyRefused(4403, "standing by needs the room's password")
    return None
