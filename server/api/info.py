"""What anyone may ask a host: is it alive, what room is it, and a QR code to join it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from .. import __version__, netinfo
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
async def qr(request: Request, room: RoomDep,
             text: str = Query(..., max_length=512)) -> Response:
    """Only this room's own URLs: anything else would let anyone spend the host's CPU."""
    s = room.settings
    if text not in netinfo.room_urls(s.host, request.url.port or s.port,
                                     tls=room.identity is not None):
        raise HTTPException(404, "this host draws QR codes of its own room URLs only")
    return Response(await room.qr_codes.svg(text), media_type="image/svg+xml")
