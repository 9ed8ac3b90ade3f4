"""Routes for the lobby's list of rooms: ``GET /api/peers`` and its live twin ``/api/peers/stream``.

Both read the room's :class:`~server.discovery.Discovery` (None when discovery is off). The
stream is Server-Sent Events: the whole list as one ``data:`` line on connect and on every
change, a comment line every 15 s to keep proxies and idle timers quiet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..discovery import Discovery, disabled_status
from ..room import StreamSlots
from .deps import RoomDep

log = logging.getLogger(__name__)

router = APIRouter()

KEEPALIVE_SECONDS = 15.0
TICK_SECONDS = 1.0  # the status (hints, unreachable rooms) is re-read this often


def peers_snapshot(discovery: Discovery | None) -> dict[str, Any]:
    """The body of ``GET /api/peers``: the rooms that answer now and why the list looks so."""
    if discovery is None:
        return {"peers": [], "status": disabled_status()}
    return {"peers": [p.public() for p in discovery.peers()], "status": discovery.status()}


@router.get("/api/peers")
async def list_peers(room: RoomDep) -> dict[str, Any]:
    return peers_snapshot(room.discovery)


class _CountedStream(StreamingResponse):
    """A stream that gives its slot back however it ends, even before its first byte."""

    def __init__(self, slots: StreamSlots, body: AsyncIterator[str], **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self.slots = slots

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.open -= 1


@router.get("/api/peers/stream")
async def stream_peers(room: RoomDep) -> Response:
    """Each stream wakes every second to compare the list, so thousands of them (anyone on
    the LAN can open them) kept a core busy: at most ``max_peer_streams`` at once."""
    discovery = room.discovery
    slots = room.peer_streams
    if slots.open >= slots.limit:
        return JSONResponse({"detail": f"this host already sends {slots.limit} room lists; "
                                       "try again soon"},
                            status_code=503, headers={"Retry-After": "10"})
    slots.open += 1
    # Starlette cancels this generator when the client goes away (it listens for the
    # disconnect itself), so the loop only has to end when the server stops.
    return _CountedStream(slots, peer_events(discovery, slots.ended),
                          media_type="text/event-stream",
                          headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


async def peer_events(discovery: Discovery | None, ended: asyncio.Event) -> AsyncIterator[str]:
    """The SSE body: the snapshot whenever it differs from the last one sent, else keepalives;
    it ends when discovery stops or ``ended`` is set (the host stops: an open stream would
    otherwise hold the server's shutdown for its whole grace time)."""
    yield "retry: 2000\n\n"  # EventSource reconnects after 2 s when a stream ends
    last = ""
    quiet = 0.0
    while True:
        browser = discovery.browser if discovery is not None else None
        seen = browser.version if browser is not None else 0
        body = json.dumps(peers_snapshot(discovery), separators=(",", ":"))
        if body != last:
            last, quiet = body, 0.0
            yield f"data: {body}\n\n"
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": keepalive\n\n"
        if (discovery is not None and discovery.stopping) or ended.is_set():
            return
        started = time.monotonic()
        if browser is not None:
            # Wakes on a change or on shutdown; the tick re-checks hints that age with time.
            await browser.async_wait_changed(seen, TICK_SECONDS)
        else:
            await _wait_or_tick(ended)
        quiet += time.monotonic() - started


async def _wait_or_tick(ended: asyncio.Event) -> None:
    """One tick, cut short when ``ended`` is set."""
    try:
        await asyncio.wait_for(ended.wait(), TICK_SECONDS)
    except TimeoutError:
        pass
