"""Reading a room while no host serves it: a standby's replica, read-only.

A standby holds the room's whole history. While the host it followed is unreachable (and no
successor serves the room yet), it answers what a member may read, from the replica, and stores
nothing:

- ``GET /api/events`` (paging), and the files it holds (``GET /api/files/<id>``);
- ``/ws``: a hello that says ``"read_only": true`` (the client can show a read-only room) gets
  a welcome with ``"read_only": true`` (and the machine's name); the socket answers ``search``
  and ``ping``; anything that would change the room gets an ``error`` with code ``read_only``.
  Any other hello is sent to the host as before (``moved``, close 4301): a client that does not
  know read-only rooms never takes the copy for a host. When a host serves the room again,
  every read-only socket is sent there too.

Each answer is filtered exactly as the host filters it, by the same queries (server/store.py):
private events only for their two people (by the viewer's client id), and in a password room
nothing without the room's session, which the replica's ``secret`` and the room's password
validate as at every host of the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sqlite3
from typing import Any

from fastapi import WebSocket

from . import protocol
from .rates import RateTable, allowed
from .security import PasswordGate, same_origin, session_token
from .settings import Settings
from .store import (
    FileRecord,
    Page,
    read_after,
    read_before,
    read_file,
    read_file_visible,
    read_search,
)

READ_ONLY_CODE = "read_only"
READ_ONLY_DETAIL = "the room's host is away; read-only until it is back"
HELLO_SECONDS = 3.0  # a read-only socket has this long to say hello


class ReplicaReader:
    """A replica's history file opened read-only, with the room's password rules."""

    def __init__(self, settings: Settings, password: str | None, secret: bytes,
                 hosts: list[str]) -> None:
        """``settings``: the standby's own (its page sizes and limits apply)."""
        self.settings = settings
        path = settings.db_path
        self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA query_only=ON")
        self.gate = PasswordGate(password, secret)
        self.hosts = [h.rstrip("/") for h in hosts]
        self.last_id = int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events")
                           .fetchone()[0])
        self.sockets: set[WebSocket] = set()
        # Searches per person, as a host limits them (searches_per_second, search_burst).
        self.searches = RateTable(settings.searches_per_second, settings.search_burst,
                                  settings.rate_memory)

    def close(self) -> None:
        self._db.close()

    def same_origin(self, headers: Any) -> bool:
        """A page this machine served, or one a host of the room served."""
        origin = headers.get("origin")
        return same_origin(headers) or (origin is not None and origin.rstrip("/") in self.hosts)

    def is_member(self, headers: Any) -> bool:
        return self.gate.token_ok(session_token(headers))

    def after(self, since: int, limit: int, max_bytes: int | None, viewer: str | None) -> Page:
        return read_after(self._db, since, self.last_id, limit, max_bytes, viewer)

    def before(self, before: int | None, limit: int, max_bytes: int | None,
               viewer: str | None) -> Page:
        return read_before(self._db, before, self.last_id, limit, max_bytes, viewer)

    def search(self, query: str, limit: int, before: int | None, viewer: str | None) -> Page:
        return read_search(self._db, query, self.last_id, limit, before, viewer)

    def file(self, file_id: str, viewer: str | None) -> FileRecord | None:
        """The file's record when ``viewer`` may download it, else None (as if unknown)."""
        record = read_file(self._db, file_id)
        if record is None or not read_file_visible(self._db, file_id, viewer):
            return None
        return record


def welcome(reader: ReplicaReader, hello: protocol.Hello, room: dict[str, Any]) -> str:
    """A host's welcome, from the replica: ``read_only``, nobody online, no session given."""
    viewer = protocol.user_id_for(hello.client_id)
    top = reader.last_id
    since = None if hello.since is None else min(hello.since, top)
    s = reader.settings
    budget = s.welcome_max_bytes - 1024
    if since is None:
        page = reader.before(None, s.history_page, budget, viewer)
        more_before, more_after = page.has_more, False
    else:
        page = reader.after(since, s.resume_cap, budget, viewer)
        more_before, more_after = since > 0, page.has_more
    head = protocol.encode({
        "type": "welcome", "you": {"id": viewer, "name": hello.name}, "users": [],
        "last_id": top, "has_more_before": more_before, "has_more_after": more_after,
        "reset": False, "admin": False, "read_only": True, **room})
    return head[:-1] + ',"events":' + page.json_array() + "}"


async def serve(ws: WebSocket, reader: ReplicaReader, room: dict[str, Any], host: str) -> None:
    """One read-only chat socket: hello, welcome, then searches and pings until it closes.
    ``host``: where the room was served last, for a client that does not read copies."""
    if not reader.same_origin(ws.headers):
        await ws.close(4403, "this chat only accepts its own pages")
        return
    await ws.accept()
    member = reader.is_member(ws.headers)
    try:
        first = await asyncio.wait_for(ws.receive_text(), timeout=HELLO_SECONDS)
        hello = protocol.parse_hello(first, reader.settings.max_name_chars)
        reads_copies = json.loads(first).get("read_only") is True
    except (TimeoutError, protocol.ProtocolError, KeyError, RuntimeError) as exc:
        reason = "no hello" if isinstance(exc, TimeoutError) else "bad hello"
        with contextlib.suppress(Exception):
            await ws.close(4400, reason)
        return
    if not reads_copies:
        await _to_host(ws, host, room)
        return
    if not member and not reader.gate.token_ok(hello.session):
        await ws.close(4401, "this room needs its password")
        return
    reader.sockets.add(ws)
    try:
        await ws.send_text(welcome(reader, hello, room))
        await _answer(ws, reader, protocol.user_id_for(hello.client_id))
    except Exception:  # noqa: BLE001 - the page went away, or the socket was closed from here
        pass
    finally:
        reader.sockets.discard(ws)


async def _answer(ws: WebSocket, reader: ReplicaReader, viewer: str) -> None:
    """Answer frames until the socket closes: searches and pings; refuse every change."""
    while True:
        raw = await ws.receive_text()
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "ping":
            await ws.send_text('{"type":"pong"}')
        elif kind == "search":
            assert isinstance(data, dict)
            await ws.send_text(_results(reader, data, viewer))
        elif kind != "typing":
            cmid = data.get("client_msg_id") if isinstance(data, dict) else None
            extra = {"client_msg_id": cmid} if isinstance(cmid, str) and len(cmid) <= 64 else {}
            await ws.send_text(protocol.encode(protocol.error_event(
                READ_ONLY_CODE, READ_ONLY_DETAIL, **extra)))


def _results(reader: ReplicaReader, data: dict[str, Any], viewer: str) -> str:
    """A ``results`` frame, as the host answers a search (or its ``error``)."""
    wait = allowed(reader.searches.bucket(viewer))
    if wait:
        wait = math.ceil(wait * 10) / 10
        return protocol.encode(protocol.error_event(
            "rate_limited", f"searching too often: try again in {wait:.1f} s", retry_after=wait))
    try:
        frame = protocol.parse_frame(json.dumps(data), 0)
    except protocol.ProtocolError as exc:
        return protocol.encode(protocol.error_event(exc.code, exc.detail))
    assert isinstance(frame, protocol.Search)
    query = protocol.fts_query(frame.q)
    s = reader.settings
    page = (reader.search(query, min(frame.limit or s.search_page, s.max_page), frame.before,
                          viewer)
            if query is not None else None)
    head = protocol.encode({"type": "results", "q": frame.q,
                            "has_more": bool(page and page.has_more)})
    return head[:-1] + ',"events":' + (page.json_array() if page is not None else "[]") + "}"


async def _to_host(ws: WebSocket, host: str, room: dict[str, Any]) -> None:
    """What a standby tells every chat client while a host serves the room."""
    with contextlib.suppress(Exception):
        await ws.send_text(protocol.encode({"type": "moved", "url": host,
                                            "room_id": room.get("room_id"),
                                            "term": room.get("term")}))
        await ws.close(4301, f"the room is served at {host}"[:120])


async def send_away(reader: ReplicaReader, url: str, room_id: str | None, term: int) -> None:
    """A host serves the room again: every read-only socket is sent there (``moved``, 4301)."""
    for ws in list(reader.sockets):
        with contextlib.suppress(Exception):
            await ws.send_text(protocol.encode({"type": "moved", "url": url,
                                                "room_id": room_id, "term": term}))
            await ws.close(4301, f"the room is served at {url}"[:120])
