"""What anyone may ask a host: is it alive, what room is it, and a QR code to join it."""

from __future__ import annotations

import io
from typing import Any

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from .. import __version__
from .deps import RoomDep

router = APIRouter()


@router.get("/api/health")
async def health(room: RoomDep) -> JSONResponse:
    """200 while the history can be read and written (the discovery probe lists a room only
    then); 503 with the reason when it cannot."""
    history = await room.store.health()
    body: dict[str, Any] = {
        "status": "ok" if history.problem is None else "unavailable",
        "room": room.settings.room, "version": __version__, "room_id": room.store.room_id,
        "history": history.public()}
    if history.problem is not None:
        body["detail"] = history.problem
    return JSONResponse(body, status_code=200 if history.problem is None else 503)


@router.get("/api/room")
async def room_info(request: Request, room: RoomDep) -> dict[str, Any]:
    return room.info(request.url.port or room.settings.port, room.is_member(request.headers))


@router.get("/api/qr.svg")
async def qr(text: str = Query(..., max_length=512)) -> Response:
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="svg", scale=6, border=2, xmldecl=False)
    return Response(buf.getvalue(), media_type="image/svg+xml")
