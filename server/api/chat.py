"""The chat itself: the ``/ws`` WebSocket, handed to the hub after its first frame (hello)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, WebSocket

from .. import protocol, readonly
from ..connection import Connection
from ..directsend import find_direct_writer
from ..hub import CLOSE_BAD_HELLO, CLOSE_FORBIDDEN, CLOSE_MOVED, CLOSE_UNAUTHORIZED, HubFull
from ..room import Room
from ..security import BROWSER_COOKIE, cookie_value
from ..standby import Standby
from .deps import get_room, standing_by

router = APIRouter()

HELLO_TIMEOUT = 15.0  # seconds a new connection has to say hello
SESSION_HELLO_TIMEOUT = 3.0  # without a session cookie: the hello may carry a session token


@router.websocket("/ws")
async def chat(ws: WebSocket) -> None:
    standby = standing_by(ws)
    if standby is not None:
        reader = standby.reader  # no host reachable: the room's copy, read-only
        if reader is not None:
            await readonly.serve(ws, reader, standby.room_fields(), standby.host_url)
        else:
            await _send_to_host(ws, standby)
        return
    room = get_room(ws)
    if not room.same_origin(ws.headers):
        await ws.close(CLOSE_FORBIDDEN, "this chat only accepts its own pages")
        return
    await ws.accept()
    conn = await _admit(ws, room)
    if conn is None:
        return
    writer = asyncio.create_task(_write(conn.run_writer()))
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            room.hub.receive(conn, msg.get("text") or msg.get("bytes") or b"")
    finally:
        room.hub.disconnect(conn)
        writer.cancel()


async def _admit(ws: WebSocket, room: Room) -> Connection | None:
    """Wait for the hello and hand the connection to the hub, or close it with the reason.
    Without the session cookie a password room waits a moment for a hello carrying the
    session token (a page that followed the room from another host), then closes 4401."""
    member = room.is_member(ws.headers)
    try:
        first = await asyncio.wait_for(
            ws.receive(), timeout=HELLO_TIMEOUT if member else SESSION_HELLO_TIMEOUT)
        if first["type"] == "websocket.disconnect":
            return None
        hello = protocol.parse_hello(first.get("text") or first.get("bytes") or b"",
                                     room.settings.max_name_chars)
        if not member and not room.gate.token_ok(hello.session):
            await ws.close(CLOSE_UNAUTHORIZED, "this room needs its password")
            return None
        direct = find_direct_writer(ws._send) if room.settings.direct_send else None
        return room.hub.connect(hello, ws.client.host if ws.client else "?", ws.send_text,
                                _closer(ws), direct, admin=room.is_admin(ws.headers),
                                browser=cookie_value(ws.headers, BROWSER_COOKIE))
    except TimeoutError:
        if not member:
            await ws.close(CLOSE_UNAUTHORIZED, "this room needs its password")
        else:
            await ws.close(CLOSE_BAD_HELLO, f"no hello within {HELLO_TIMEOUT:g} s")
    except protocol.ProtocolError as exc:
        if not member:
            await ws.close(CLOSE_UNAUTHORIZED, "this room needs its password")
            return None
        await ws.send_text(protocol.encode(protocol.error_event(exc.code, exc.detail)))
        await ws.close(CLOSE_BAD_HELLO, exc.detail[:120])
    except HubFull as exc:
        if exc.retry_after is not None:  # the client waits this long before knocking again
            await ws.send_text(protocol.encode(protocol.error_event(
                "too_many_joins", exc.reason, retry_after=exc.retry_after)))
        await ws.close(exc.code, exc.reason[:120])
    return None


async def _send_to_host(ws: WebSocket, standby: Standby) -> None:
    """A standby serves no chat: a client that says hello hears where the room is (``moved``)
    and is closed with 4301, as a host that handed the room over would do."""
    await ws.accept()
    with contextlib.suppress(TimeoutError, Exception):
        await asyncio.wait_for(ws.receive(), timeout=SESSION_HELLO_TIMEOUT)
        await ws.send_text(protocol.encode({"type": "moved", "url": standby.host_url,
                                            "room_id": standby.room_id, "term": standby.term}))
    with contextlib.suppress(Exception):
        await ws.close(CLOSE_MOVED, f"the room is served at {standby.host_url}"[:120])


def _closer(ws: WebSocket) -> Callable[[int, str], Awaitable[None]]:
    async def close(code: int, reason: str) -> None:
        await ws.close(code, reason)
    return close


async def _write(writer: Awaitable[None]) -> None:
    with contextlib.suppress(Exception):  # the peer went away mid-send; the reader notices too
        await writer
