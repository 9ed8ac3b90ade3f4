"""The replication link: ``/ws/standby``, where a standby follows this room."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket

from .. import protocol
from ..hub import CLOSE_BAD_HELLO, CLOSE_FORBIDDEN
from ..room import Room
from ..succession import (
    Link,
    StandbyHello,
    StandbyRefused,
    base_url,
    may_stand_by,
    parse_standby_hello,
)
from .chat import HELLO_TIMEOUT

router = APIRouter()


@router.websocket("/ws/standby")
async def standby_link(ws: WebSocket) -> None:
    room = getattr(ws.app.state, "room", None)
    await ws.accept()
    if not isinstance(room, Room):
        await ws.close(CLOSE_FORBIDDEN, "this is a standby, not the room's host")
        return
    link = await _admit(ws, room)
    if link is None:
        return
    sender = asyncio.create_task(room.succession.serve(link))
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            room.succession.receive(link, msg.get("text") or msg.get("bytes") or b"")
    finally:
        room.succession.drop(link)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


def _needs_admin(room: Room) -> bool:
    """Standing by needs the admin password: the host has one and has not waived it."""
    return room.admin_gate.required and room.settings.standby_needs_admin


async def _check_password(room: Room, hello: StandbyHello, address: str) -> None:
    """Raise :class:`StandbyRefused` unless the standby proved what it must; wrong guesses
    are braked like sign-ins (one check per address at a time, then doubling waits)."""
    wait = room.attempts.begin(address)
    if wait:
        raise StandbyRefused(4429, f"too many password attempts; try again in {wait} s")
    refused: StandbyRefused | None = StandbyRefused(4403, "refused")
    try:
        refused = await asyncio.to_thread(
            may_stand_by, hello, _needs_admin(room), room.gate.required,
            room.admin_gate.check, room.gate.check)
    finally:
        room.attempts.end(address, refused is None)
    if refused is not None:
        raise refused


async def _admit(ws: WebSocket, room: Room) -> Link | None:
    """Read the standby's hello and check its credentials, or close with the reason."""
    address = ws.client.host if ws.client else "?"
    try:
        first = await asyncio.wait_for(ws.receive(), timeout=HELLO_TIMEOUT)
        if first["type"] == "websocket.disconnect":
            return None
        hello = parse_standby_hello(first.get("text") or first.get("bytes") or b"")
        if _needs_admin(room) or room.gate.required:
            await _check_password(room, hello, address)
        mismatch = room.succession.mismatch(hello)
        if mismatch is not None:
            raise mismatch
    except TimeoutError:
        await ws.close(CLOSE_BAD_HELLO, f"no hello within {HELLO_TIMEOUT:g} s")
        return None
    except protocol.ProtocolError as exc:
        await ws.close(CLOSE_BAD_HELLO, exc.detail[:120])
        return None
    except StandbyRefused as exc:
        await ws.close(exc.code, exc.reason[:120])
        return None
    return Link(hello, base_url(address, hello.port, hello.tls), ws.send_text)
