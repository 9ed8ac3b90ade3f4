"""Routes for the lobby's list of rooms: ``GET /api/peers`` and its live twin ``/api/peers/stream``.

Both read ``app.state.discovery`` (a :class:`~server.discovery.Discovery`, or None when discovery
is off). The stream is Server-Sent Events: the whole list as one ``data:`` line on connect and on
every change, a comment line every 15 s to keep proxies and idle timers quiet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .discovery import Discovery, disabled_status

log = logging.getLogger(__name__)

router = APIRouter()

KEEPALIVE_SECONDS = 15.0
TICK_SECONDS = 1.0  # the status (hints, unreachable rooms) is re-read this often


def peers_snapshot(discovery: Discovery | None) -> dict[str, Any]:
    """The body of ``GET /api/peers``: the rooms that answer now and why the list looks so."""
    if discovery is None:
        return {"peers": [], "status": disabled_status()}
    return {"peers": [p.public() for p in discovery.peers()], "status": discovery.status()}


def _discovery(request: Request) -> Discovery | None:
    return getattr(request.app.state, "discovery", None)


@router.get("/api/peers")
async def list_peers(request: Request) -> dict[str, Any]:
    return peers_snapshot(_discovery(request))


class StreamSlots:
    """How many peer streams are open, against a cap: each one wakes every second to compare
    the list, so thousands of them (anyone on the LAN can open them) kept a core busy."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0


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
async def stream_peers(request: Request) -> Response:
    discovery = _discovery(request)
    slots: StreamSlots = getattr(request.app.state, "peer_streams", None) or StreamSlots(0)
    if slots.open >= slots.limit:
        return JSONResponse({"detail": f"this host already sends {slots.limit} room lists; "
                                       "try again soon"},
                            status_code=503, headers={"Retry-After": "10"})
    slots.open += 1
    # Starlette cancels this generator when the client goes away (it listens for the
    # disconnect itself), so the loop only has to end when the server stops.
    return _CountedStream(slots, peer_events(discovery), media_type="text/event-stream",
                          headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


async def peer_events(discovery: Discovery | None) -> AsyncIterator[str]:
    """The SSE body: the snapshot whenever it differs from the last one sent, else keepalives."""
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
        if discovery is not None and discovery.stopping:
            return
        started = time.monotonic()
        if browser is not None:
            # Wakes on a change or on shutdown; the tick re-checks hints that age with time.
            await browser.async_wait_changed(seen, TICK_SECONDS)
        else:
            await asyncio.sleep(TICK_SECONDS)
        quiet += time.monotonic() - started


async def async_begin_shutdown(app: object) -> None:
    """Call when the server starts shutting down: goodbye on the LAN and peer streams end now,
    instead of after uvicorn's graceful wait for open connections. ``app`` is what uvicorn
    was given; anything but a started LAN Chat app is left alone."""
    discovery = getattr(getattr(app, "state", None), "discovery", None)
    if isinstance(discovery, Discovery):
        await discovery.async_begin_shutdown()
