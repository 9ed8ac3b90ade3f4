"""The chat hub: who is online, what they say, and getting every event to every connection.

No web framework here: a connection is two callables (send a text frame, close with a code), so
the hub is tested on its own. Every event is stored before it is broadcast, encoded to JSON and
framed once, and written to each connection's socket (or its bounded outbox); a connection that
lets its backlog grow past the bound (it stopped reading) is closed with :data:`CLOSE_TOO_SLOW`
and resumes from history when it comes back, so it never delays anyone else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import moderation, protocol
from .connection import Close, Connection, SendText
from .conversation import Change, Columns
from .directsend import DirectWriter, text_frame
from .moderation import Removals
from .protocol import (
    Delete,
    Edit,
    Hello,
    Ping,
    ProtocolError,
    React,
    Remove,
    Rename,
    Search,
    SendMessage,
    Typing,
)
from .rates import RateTable, allowed
from .settings import Settings
from .store import HistoryStore, Refused, Stored, WriteFailed

log = logging.getLogger(__name__)

# WebSocket close codes (4000-4999 are ours). Each comes with a reason a person can read.
CLOSE_BAD_HELLO = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_REMOVED = 4410
CLOSE_TOO_MANY = 4429
CLOSE_MOVED = 4301  # the room moved to another host (a ``moved`` event said where)
CLOSE_SHUTDOWN = 1001

_PONG = '{"type":"pong"}'
_PONG_WIRE = text_frame(_PONG)


Audience = tuple[str, str] | None  # the two people a private frame is for; None: everyone


class HubFull(Exception):
    """A connection refused for a limit; ``code`` and ``reason`` go in the close frame."""

    def __init__(self, code: int, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.retry_after = retry_after  # seconds, when waiting is what lifts the refusal


@dataclass
class User:
    id: str
    name: str
    key: tuple[str, str]  # protocol.name_key(name), kept so joins do not recompute everyone's
    connections: set[Connection] = field(default_factory=set)
    leave_timer: asyncio.TimerHandle | None = None
    # public() as JSON, made once per name: every welcome lists everyone online.
    wire: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.wire = protocol.encode(self.public())

    def public(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}

    def set_name(self, name: str, key: tuple[str, str]) -> None:
        self.name, self.key = name, key
        self.wire = protocol.encode(self.public())


class ChatHub:
    """The room's live state. All methods run on the host's event loop."""

    def __init__(self, store: HistoryStore, settings: Settings,
                 file_lookup: Callable[[str], dict[str, Any] | None] | None = None,
                 file_eraser: Callable[[str, int], None] | None = None) -> None:
        self.store = store
        self.settings = settings
        self._file_lookup = file_lookup or (lambda _id: None)
        self._erase_file = file_eraser or (lambda _name, _size: None)
        self.users: dict[str, User] = {}
        self.people = store.people()  # everyone the room has known: id -> latest name
        self.removals = Removals()
        for event in store.removals():
            self.removals.remove(event["target_user"]["id"],
                                 moderation.parse_iso(event["until"]))
        self.connections: set[Connection] = set()
        self._per_address: dict[str, int] = {}
        # Broadcasts of one committed batch, sent together when the batch's callbacks are done:
        # 100 people joining at once cost each connection one socket write, not 100.
        self._batched: list[tuple[str, Audience]] | None = None
        # Join and leave lines already stored, held back (up to presence_batch_seconds) so a
        # crowd arriving at once costs each socket one write per window, not one per batch.
        self._held: list[str] = []
        self._held_timer: asyncio.TimerHandle | None = None
        # Everyone online as a JSON array, and its weight against the welcome's byte budget;
        # None once someone joins, leaves or is renamed.
        self._users_wire: tuple[str, int] | None = None
        store.listen(self)
        s = settings
        # Rates belong to the person and the address, not the connection: reconnecting after
        # each burst must not buy a new burst.
        factor = s.address_rate_factor
        self._sends_by_person = RateTable(s.messages_per_second, s.message_burst, s.rate_memory)
        self._sends_by_address = RateTable(s.messages_per_second * factor,
                                           int(s.message_burst * factor), s.rate_memory)
        self._joins_by_person = RateTable(s.joins_per_second_per_person,
                                          s.join_burst_per_person, s.rate_memory)
        self._joins_by_address = RateTable(s.joins_per_second_per_address,
                                           s.join_burst_per_address, s.rate_memory)
        self._searches = RateTable(s.searches_per_second, s.search_burst, s.rate_memory)
        self._sweeper: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()  # connections being closed by the host
        # Succession (server/succession.py): the room's term, its successors best first, and
        # the session token a page gets to follow the room to another host (None: no password).
        self.term = store.term
        self.successors: list[str] = []
        self.session_token: Callable[[], str | None] = lambda: None
        self.moving = False  # handing the room over: nothing more is stored here
        protocol.name_key("")  # load the confusables table now, not during someone's join

    # Connections --------------------------------------------------------------------------

    def connect(self, hello: Hello, address: str, send: SendText, close: Close,
                direct: DirectWriter | None = None, *, admin: bool = False,
                browser: str | None = None) -> Connection:
        """Admit a connection: queue its welcome, and announce its user if newly online.
        ``admin``: it may moderate; ``browser``: the host's cookie of the browser it runs in
        (a removal covers the browsers a person used)."""
        s = self.settings
        if self.moving:
            raise HubFull(CLOSE_SHUTDOWN, "the room is moving to another host")
        user_id = protocol.user_id_for(hello.client_id)
        removed = self.removals.until(user_id, browser)
        if removed is not None:
            raise HubFull(CLOSE_REMOVED, moderation.reason(removed))
        self._admit(address, user_id)
        self.removals.saw(user_id, browser)
        conn = Connection(address, send, close, s.client_queue_frames, direct,
                          s.client_buffer_bytes, self._closing)
        conn.admin = admin
        user = self.users.get(user_id)
        is_new = user is None
        if user is None:
            name, key = self._unique_name(hello.name, user_id)
            user = User(user_id, name, key)
            self.users[user_id] = user
            self._users_wire = None
        else:
            if user.leave_timer is not None:
                user.leave_timer.cancel()
                user.leave_timer = None
            if protocol.name_key(hello.name) != user.key:
                user.set_name(*self._unique_name(hello.name, user_id))
                self._users_wire = None
        conn.user = user
        user.connections.add(conn)
        self.connections.add(conn)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self._start_sweeper()
        if self.people.get(user_id) != user.name:
            self.people[user_id] = user.name
            self.store.remember_person(user_id, user.name)

        welcome = self._welcome(user, hello.since, hello.name, admin)
        # Straight to the socket when it has a fast lane (nothing of it is queued yet).
        conn.offer(welcome, text_frame(welcome) if direct is not None else None)
        if is_new:
            self._emit({"type": "join", "ts": protocol.now_iso(), "user": user.public()})
        return conn

    def _admit(self, address: str, user_id: str) -> None:
        """Raise :class:`HubFull` when a connection from ``address`` for ``user_id`` is over a
        limit: the room's size, connections per address, or joins per address and person."""
        s = self.settings
        if len(self.connections) >= s.max_connections:
            raise HubFull(CLOSE_TOO_MANY, "the room is full; try again later")
        if self._per_address.get(address, 0) >= s.max_connections_per_address:
            raise HubFull(CLOSE_TOO_MANY, f"too many connections from {address} "
                                          f"(limit {s.max_connections_per_address})")
        wait = allowed(self._joins_by_address.bucket(address),
                       self._joins_by_person.bucket(user_id))
        if wait:
            seconds = math.ceil(wait)
            log.warning("refused a join from %s: joining too often", address)
            raise HubFull(CLOSE_TOO_MANY, f"joining too often; try again in {seconds} s",
                          retry_after=seconds)

    def disconnect(self, conn: Connection) -> None:
        """Forget a closed connection; its user leaves after the grace period if it was the last."""
        if conn not in self.connections:
            return
        conn.closed = True
        conn.drop_queue()
        self.connections.discard(conn)
        left = self._per_address.get(conn.address, 1) - 1
        if left:
            self._per_address[conn.address] = left
        else:
            self._per_address.pop(conn.address, None)
        user = conn.user
        if user is None:
            return
        user.connections.discard(conn)
        if user.connections or user.leave_timer is not None:
            return
        grace = self.settings.leave_grace_seconds
        if grace <= 0:
            self._leave(user)
        else:
            user.leave_timer = asyncio.get_running_loop().call_later(grace, self._leave, user)

    def _leave(self, user: User) -> None:
        user.leave_timer = None
        if user.connections or self.users.get(user.id) is not user:
            return
        del self.users[user.id]
        self._users_wire = None
        self._emit({"type": "leave", "ts": protocol.now_iso(), "user": user.public()})

    def shutdown(self) -> None:
        """Close every connection cleanly (the host is stopping)."""
        self._release_presence()  # stored lines still held go out before the close frames
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn.kick(CLOSE_SHUTDOWN, "the host is shutting down")
        for user in self.users.values():
            if user.leave_timer is not None:
                user.leave_timer.cancel()

    async def async_shutdown(self, timeout: float = 1.0) -> None:
        """:meth:`shutdown`, then wait (up to ``timeout``) for the close frames to go out."""
        self.shutdown()
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=timeout)

    def _start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        """Now and then, close connections whose peer has read nothing for the send timeout:
        the fast lane's writes never wait, so no send ever times out on its own."""
        timeout = self.settings.send_timeout_seconds
        tick = min(2.0, max(0.1, timeout / 4))
        while self.connections:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for conn in list(self.connections):
                if conn.stalled(now, timeout):
                    self._drop_stuck(conn, f"you read nothing for {timeout:g} s; "
                                           "reconnect to catch up")

    async def async_close_room(self, flush_seconds: float = 0.5) -> None:
        """Tell everyone the room is closing for good, then close each connection with 1001.

        The ``closing`` event is not stored (it is about this run of the host, not the
        conversation); clients show who closed the room and when, instead of reconnecting
        forever. Frames still queued get up to ``flush_seconds`` to go out first.
        """
        if not self.connections:
            return
        self._broadcast(protocol.encode({
            "type": "closing", "ts": protocol.now_iso(), "reason": "shutdown",
            "room": self.settings.room, "by": self.settings.host_name}))
        deadline = time.monotonic() + flush_seconds
        while time.monotonic() < deadline and any(
                c._outbox or c._sending for c in self.connections if not c.closed):
            await asyncio.sleep(0.01)
        self.shutdown()
        if self._closing:  # the close frames, before uvicorn drops the sockets
            await asyncio.wait(list(self._closing), timeout=flush_seconds)

    def announce(self, event: dict[str, Any]) -> None:
        """Send everyone an event that is not stored (``successors``, say)."""
        self._broadcast(protocol.encode(event))

    def set_successors(self, urls: list[str]) -> None:
        """The successors list changed: welcomes carry it and everyone hears it now."""
        self.successors = list(urls)
        self.announce({"type": "successors", "urls": self.successors})

    async def async_moved(self, url: str, room_id: str, term: int,
                          flush_seconds: float = 0.5, diverged: bool = False) -> None:
        """The room now lives at ``url``: tell everyone (``moved``, not stored), then close
        each connection with 4301, so clients reconnect there with their last id.
        ``diverged``: this host steps down for another that gave some of the same ids to
        other events (even at the same term), so clients read their newest ids again there."""
        moved: dict[str, Any] = {"type": "moved", "url": url, "room_id": room_id, "term": term}
        if diverged:
            moved["diverged"] = True
        self._broadcast(protocol.encode(moved))
        deadline = time.monotonic() + flush_seconds
        while time.monotonic() < deadline and any(
                c._outbox or c._sending for c in self.connections if not c.closed):
            await asyncio.sleep(0.01)
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn.kick(CLOSE_MOVED, f"the room moved to {url}"[:120])
        for user in self.users.values():
            if user.leave_timer is not None:
                user.leave_timer.cancel()
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=flush_seconds)

    # Frames -------------------------------------------------------------------------------

    def receive(self, conn: Connection, raw: str | bytes) -> None:
        """Handle one frame from an admitted connection; bad frames get an ``error`` event."""
        try:
            frame = protocol.parse_frame(raw, self.settings.max_message_bytes,
                                         self.settings.max_edit_bytes)
            if self.moving and not isinstance(frame, Ping):
                return  # not stored here: the client resends it, unacknowledged, to the next host
            if isinstance(frame, SendMessage):
                self._message(conn, frame)
            elif isinstance(frame, Typing):
                self._typing(conn)
            elif isinstance(frame, Ping):
                self._send_to(conn, _PONG, _PONG_WIRE)  # the fast lane: no task hop, no ASGI
            elif isinstance(frame, Rename):
                self._rename(conn, frame)
            elif isinstance(frame, Edit | Delete | React):
                self._change(conn, frame)
            elif isinstance(frame, Search):
                self._search(conn, frame)
            elif isinstance(frame, Remove):
                self._remove(conn, frame)
        except ProtocolError as exc:
            self._reply_error(conn, exc.code, exc.detail, raw, exc.retry_after)

    def _reply_error(self, conn: Connection, code: str, detail: str, raw: str | bytes,
                     retry_after: float | None = None) -> None:
        extra: dict[str, Any] = {}
        if retry_after is not None:
            extra["retry_after"] = retry_after
        cmid = _client_msg_id_of(raw)
        if cmid is not None:
            extra["client_msg_id"] = cmid
        self._send_to(conn, protocol.encode(protocol.error_event(code, detail, **extra)))

    def _check_send_rate(self, conn: Connection) -> None:
        """Messages and renames draw on one allowance per person and per address."""
        assert conn.user is not None
        wait = allowed(self._sends_by_person.bucket(conn.user.id),
                       self._sends_by_address.bucket(conn.address))
        if wait:
            wait = math.ceil(wait * 10) / 10
            raise ProtocolError("rate_limited", f"slow down: try again in {wait:.1f} s",
                                retry_after=wait)

    def _message(self, conn: Connection, msg: SendMessage) -> None:
        assert conn.user is not None
        self._check_send_rate(conn)
        file_info = None
        if msg.file_id is not None:
            file_info = self._file_lookup(msg.file_id)
            if file_info is None:
                raise ProtocolError("unknown_file", "that file does not exist on this host")
        me = conn.user.id
        columns = Columns(file_id=msg.file_id if file_info else None)
        event: dict[str, Any] = {
            "type": "message",
            "ts": protocol.now_iso(),
            "user": conn.user.public(),
            "text": msg.text,
            "file": file_info,
            "client_msg_id": msg.client_msg_id,
        }
        people = self.people
        if msg.to is not None:
            if msg.to not in people and msg.to not in self.users:
                raise ProtocolError("unknown_user", "nobody with that id has been in this room")
            if msg.to == me:
                raise ProtocolError("bad_field", "a private message goes to someone else")
            event["to"] = {"id": msg.to, "name": self._name_of(msg.to)}
            columns.vis_a, columns.vis_b = me, msg.to
            people = {k: v for k, v in people.items() if k in (me, msg.to)}
        event["reply_to"] = None
        event["mentions"] = protocol.mentions(msg.text, people)
        change = None
        if msg.reply_to is not None:
            change = Change("message", event, me, msg.reply_to, columns=columns)
        self._submit(conn, event, msg.client_msg_id, columns=columns, change=change)

    def _name_of(self, user_id: str) -> str:
        user = self.users.get(user_id)
        return user.name if user is not None else self.people.get(user_id, "?")

    def _change(self, conn: Connection, frame: Edit | Delete | React) -> None:
        """An edit, delete or reaction: checked and applied by the writer (server.conversation)
        so that concurrent changes to one message each see the others."""
        assert conn.user is not None
        self._check_send_rate(conn)
        event: dict[str, Any] = {"type": type(frame).__name__.lower(), "ts": protocol.now_iso(),
                                 "user": conn.user.public()}
        if isinstance(frame, Edit):
            event["text"] = frame.text
            event["mentions"] = protocol.mentions(frame.text, self.people)
        elif isinstance(frame, React):
            event.update(emoji=frame.emoji, on=frame.on)
        event["client_msg_id"] = frame.client_msg_id
        change = Change(event["type"], event, conn.user.id, frame.target,
                        moderator=conn.admin,
                        max_reactions=self.settings.max_reactions_per_message)
        self._submit(conn, event, frame.client_msg_id, change=change)

    def _submit(self, conn: Connection, event: dict[str, Any], cmid: str | None, *,
                columns: Columns | None = None, change: Change | None = None) -> None:
        """Store an event from ``conn``; once committed, send it to whoever may see it (the
        sender's copy is its acknowledgement), or tell the sender why it was not stored."""
        assert conn.user is not None

        def stored(outcome: Stored | WriteFailed | Refused) -> None:
            if isinstance(outcome, WriteFailed):
                self._send_to(conn, protocol.encode(protocol.error_event(
                    "store_failed", f"the host could not save this ({outcome.detail}); "
                    "nothing was sent", client_msg_id=cmid)))
            elif isinstance(outcome, Refused):
                self._send_to(conn, protocol.encode(protocol.error_event(
                    outcome.code, outcome.detail, client_msg_id=cmid)))
            elif outcome.is_new:
                self._broadcast(outcome.payload, outcome.audience)
                if outcome.erase_file is not None:
                    self._erase_file(*outcome.erase_file)
            else:  # a retry: acknowledge, do not repeat to others
                self._send_to(conn, outcome.payload)
        self.store.submit(event, stored, user_id=conn.user.id, client_msg_id=cmid,
                          columns=columns, change=change)

    def _search(self, conn: Connection, frame: Search) -> None:
        """Answer a search to the asker alone, newest first, with what they may see."""
        assert conn.user is not None
        s = self.settings
        wait = allowed(self._searches.bucket(conn.user.id))
        if wait:
            wait = math.ceil(wait * 10) / 10
            raise ProtocolError("rate_limited", f"searching too often: try again in "
                                                f"{wait:.1f} s", retry_after=wait)
        query = protocol.fts_query(frame.q)
        limit = min(frame.limit or s.search_page, s.max_page)
        page = (self.store.search(query, limit, frame.before, conn.user.id)
                if query is not None else None)
        head = protocol.encode({"type": "results", "q": frame.q,
                                "has_more": bool(page and page.has_more)})
        body = page.json_array() if page is not None else "[]"
        self._send_to(conn, head[:-1] + ',"events":' + body + "}")

    def _remove(self, conn: Connection, frame: Remove) -> None:
        """A moderator removes someone for a while: stored and announced, then every
        connection of theirs closes with 4410, and joins from them or their browsers are
        refused until then."""
        assert conn.user is not None
        if not conn.admin:
            raise ProtocolError("forbidden", "only the host's admin can remove people")
        if frame.user not in self.people and frame.user not in self.users:
            raise ProtocolError("unknown_user", "nobody with that id has been in this room")
        if frame.user == conn.user.id:
            raise ProtocolError("bad_field", "you cannot remove yourself")
        until = time.time() + frame.minutes * 60
        self.removals.remove(frame.user, until)
        event = {"type": "remove", "ts": protocol.now_iso(), "user": conn.user.public(),
                 "target_user": {"id": frame.user, "name": self._name_of(frame.user)},
                 "until": moderation.iso(until)}
        if frame.client_msg_id is not None:
            event["client_msg_id"] = frame.client_msg_id
        self._submit(conn, event, frame.client_msg_id)
        user = self.users.get(frame.user)
        for other in list(user.connections if user is not None else ()):
            other.kick(CLOSE_REMOVED, moderation.reason(until))
            self.disconnect(other)

    def _rename(self, conn: Connection, frame: Rename) -> None:
        """A new name for someone already in the room, announced to all as a stored event.

        It passes the same checks as the name in hello (cleaning, uniqueness) and takes from
        the same allowance as messages, so renaming cannot flood the room. A name someone else
        holds is refused rather than suffixed: the person is choosing it right now. The name
        changes once the event is stored: a refused write leaves the old one in place.
        """
        assert conn.user is not None
        user = conn.user
        self._check_send_rate(conn)
        name = protocol.clean_name(frame.name, self.settings.max_name_chars)
        if name == user.name:
            raise ProtocolError("same_name", "that is already your name")
        unique, key = self._unique_name(name, user.id)
        if unique != name:
            raise ProtocolError("name_taken", f"someone here is already called {name}; "
                                              "pick another name")
        event = {"type": "rename", "ts": protocol.now_iso(),
                 "user": {"id": user.id, "name": name}, "old_name": user.name}

        def stored(outcome: Stored | WriteFailed | Refused) -> None:
            if isinstance(outcome, WriteFailed | Refused):
                self._send_to(conn, protocol.encode(protocol.error_event(
                    "store_failed", f"the host could not save your new name ({outcome.detail})")))
                return
            user.set_name(name, key)
            self._users_wire = None
            self.people[user.id] = name
            self.store.remember_person(user.id, name)
            self._broadcast(outcome.payload)
        self.store.submit(event, stored)

    def _typing(self, conn: Connection) -> None:
        assert conn.user is not None
        now = time.monotonic()
        if now - conn.last_typing < 1.0:
            return
        conn.last_typing = now
        frame = protocol.encode({"type": "typing", "user": conn.user.public()})
        for other in list(self.connections):
            if other.user is not conn.user:
                self._send_to(other, frame)

    # Fan-out ------------------------------------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> None:
        """Store a join or leave and broadcast it once committed (maybe held back a little,
        see :meth:`_hold_presence`). Not while the room moves: its history is handed over."""
        if self.moving:
            return

        def stored(outcome: Stored | WriteFailed | Refused) -> None:
            if isinstance(outcome, WriteFailed | Refused):
                log.error("%s of %s not stored: %s", event["type"], event["user"]["name"],
                          outcome.detail)
            else:
                self._hold_presence(outcome)
        self.store.submit(event, stored)

    def _hold_presence(self, outcome: Stored) -> None:
        """Hold a stored join or leave line for up to ``presence_batch_seconds``: the lines of a
        crowd arriving at once then reach each socket in one write. Nothing is dropped or
        merged, and order holds: any other broadcast sends the held lines first. While lines
        are held, reads stop before them (:meth:`HistoryStore.hold`), so a welcome built
        meanwhile neither carries them (the new connection gets them live) nor skips them."""
        window = self.settings.presence_batch_seconds
        if window <= 0:
            self._broadcast(outcome.payload)
            return
        if not self._held:
            self.store.hold(int(outcome.event["id"]))
            self._held_timer = asyncio.get_running_loop().call_later(
                window, self._release_presence)
        self._held.append(outcome.payload)

    def _release_presence(self) -> None:
        """Hand the held join and leave lines to every socket and let reads see them."""
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None
        held, self._held = self._held, []
        self.store.release()
        if not held:
            return
        frames: list[tuple[str, Audience]] = [(frame, None) for frame in held]
        if self._batched is not None:
            self._batched.extend(frames)
        else:
            self._send_all(frames)

    def batch_started(self) -> None:
        """A committed batch's results are arriving: hold its broadcasts (BatchListener)."""
        self._batched = []

    def batch_ended(self) -> None:
        """Send what the batch broadcast, one write per socket."""
        frames, self._batched = self._batched, None
        if frames:
            self._send_all(frames)

    def _broadcast(self, frame: str, audience: Audience = None) -> None:
        if self._held:  # held join and leave lines have lower ids: they go first
            self._release_presence()
        if self._batched is not None:
            self._batched.append((frame, audience))
        else:
            self._send_all([(frame, audience)])

    def _send_all(self, frames: list[tuple[str, Audience]]) -> None:
        """Each frame to every connection that may see it: a private frame only to the two
        people it belongs to. Framed once per distinct set of frames a connection gets."""
        if all(audience is None for _, audience in frames):
            texts = [f for f, _ in frames]
            wire = b"".join(text_frame(f) for f in texts)
            for conn in list(self.connections):
                if not conn.offer_all(texts, wire):
                    self._too_slow(conn)
            return
        wires: dict[tuple[str, ...], bytes] = {}
        for conn in list(self.connections):
            me = conn.user.id if conn.user is not None else None
            mine = tuple(f for f, audience in frames if audience is None or me in audience)
            if not mine:
                continue
            if mine not in wires:
                wires[mine] = b"".join(text_frame(f) for f in mine)
            wire = wires[mine]
            if not conn.offer_all(mine, wire):
                self._too_slow(conn)

    def _send_to(self, conn: Connection, frame: str, wire: bytes | None = None) -> None:
        if self._batched:  # what the batch broadcast so far goes first: order holds
            self.batch_ended()
            self._batched = []
        if not conn.offer(frame, wire):
            self._too_slow(conn)

    def _too_slow(self, conn: Connection) -> None:
        self._drop_stuck(conn, "you fell behind (the connection stopped reading); "
                               "reconnect to catch up")

    def _drop_stuck(self, conn: Connection, reason: str) -> None:
        log.warning("closing a connection of %s: it stopped reading",
                    conn.user.name if conn.user else conn.address)
        # A peer that has not taken its close (and what was queued before it) by the time the
        # keepalive would call the link dead is cut off, and its socket buffer freed.
        s = self.settings
        cut_after = max(s.send_timeout_seconds, s.ping_interval_seconds + s.ping_timeout_seconds)
        conn.kick(CLOSE_TOO_SLOW, reason, cut_after=cut_after)
        self.disconnect(conn)

    def _welcome(self, user: User, since: int | None, requested: str | None = None,
                 admin: bool = False) -> str:
        s = self.settings
        store = self.store
        users, weight = self._users_json()
        # The whole welcome fits in welcome_max_bytes (or holds one event): what the list of
        # people online takes (about 50 bytes a person) is not left for events.
        budget = s.welcome_max_bytes - 1024 - weight
        top = store.visible_id  # every event up to here was handed to every socket
        if since is None or since > top:
            page = store.before(None, s.history_page, budget, viewer=user.id)
            has_more_after = False
            reset = since is not None  # the client's history is from another room or a wiped host
        else:
            page = store.after(since, s.resume_cap, budget, viewer=user.id)
            has_more_after = page.has_more
            page_more_before = since > 0
            reset = False
        head = protocol.encode({
            "type": "welcome",
            "you": user.public(),
            "room": s.room,
            "room_id": store.room_id,
            "last_id": top,
            "has_more_before": page.has_more if since is None or reset else page_more_before,
            "has_more_after": has_more_after,
            "reset": reset,
            "limits": {"max_message_bytes": s.max_message_bytes,
                       "max_upload_bytes": s.max_upload_bytes,
                       "max_edit_bytes": s.max_edit_bytes,
                       "max_reactions_per_message": s.max_reactions_per_message},
            "admin": admin,
            "term": self.term,
            "successors": self.successors,
            **_session_field(self.session_token()),
            **_name_change(requested, user.name),
        })
        return head[:-1] + ',"users":' + users + ',"events":' + page.json_array() + "}"

    def _users_json(self) -> tuple[str, int]:
        """Everyone online as a JSON array, and what it counts against the welcome's budget;
        made again only after someone joins, leaves or is renamed."""
        if self._users_wire is None:
            users = self.users.values()
            self._users_wire = ("[" + ",".join(u.wire for u in users) + "]",
                                sum(48 + len(u.name) * 4 for u in users))
        return self._users_wire

    def _unique_name(self, wanted: str, user_id: str) -> tuple[str, tuple[str, str]]:
        """``wanted``, or it with a number added, so that it passes for nobody else online;
        with its :func:`protocol.name_key`."""
        others = [u.key for u in self.users.values() if u.id != user_id]
        firsts = {k[0] for k in others}
        seconds = {k[1] for k in others}
        name, n = wanted, 2
        while True:
            key = protocol.name_key(name)
            if key[0] not in firsts and key[1] not in seconds:
                return name, key
            suffix = f" ({n})"
            name = wanted[: self.settings.max_name_chars - len(suffix)] + suffix
            n += 1


def _name_change(requested: str | None, given: str) -> dict[str, Any]:
    """Welcome fields telling a person the name they asked for was taken (and what they got)."""
    if requested is None or protocol.name_key(requested) == protocol.name_key(given):
        return {}
    return {"name_taken": True, "requested_name": requested}


def _session_field(token: str | None) -> dict[str, Any]:
    """The welcome's ``session``: only a password room's pages need one to follow the room."""
    return {} if token is None else {"session": token}


def _client_msg_id_of(raw: str | bytes) -> str | None:
    """The client_msg_id of a refused frame, if it had a usable one, so the client can mark it."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(data, dict):
        cmid = data.get("client_msg_id")
        if isinstance(cmid, str) and 0 < len(cmid) <= 64:
            return cmid
    return None
