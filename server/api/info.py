"""What anyone may ask a host: is it alive, what room is it, and a QR code to join it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from .. import __version__, netinfo
from ..security import NONCE_HEADER, RIVAL_HEADER
from .deps import RoomDep, get_room, standing_by

router = APIRouter()


@router.get("/api/health")
async def health(request: Request) -> JSONResponse:
    """200 while the history can be read and written (the discovery probe lists a room only
    then); 503 with the reason when it cannot. A standby answers 200 with ``standby``."""
    standby = standing_by(request)
    if standby is not None:
        return JSONResponse({"status": "standby", "version": __version__, **standby.status()})
    room = get_room(request)
    history = await room.store.health()
    body: dict[str, Any] = {
        "status": "ok" if history.problem is None else "unavailable",
        "room": room.settings.room, "version": __version__, "room_id": room.store.room_id,
        "history": history.public()}
    if history.problem is not None:
        body["detail"] = history.problem
    return JSONResponse(body, status_code=200 if history.problem is None else 503)


@router.get("/api/room")
async def room_info(request: Request) -> dict[str, Any]:
    """What a join page needs; a standby says so, and where the room is served now."""
    standby = standing_by(request)
    if standby is not None:
        return standby.status()
    room = get_room(request)
    room.asked_by(request.headers.get(RIVAL_HEADER),
                  request.client.host if request.client is not None else None)
    return room.info(request.url.port or room.settings.port, room.is_member(request.headers),
                     request.headers.get(NONCE_HEADER))


@router.get("/api/qr.svg")
async def qr(request: Request, room: RoomDep,
             text: str = Query(..., max_length=512)) -> Response:
    """Only this room's own URLs: anything else would let anyone spend the host's CPU."""
    s = room.settings
    if text not in netinfo.room_urls(s.host, request.url.port or s.port,
                                     tls=room.identity is not None):
        raise HTTPException(404, "this host draws QR codes of its own room URLs only")
    return Response(await room.qr_codes.svg(text), media_type="image/svg+xml")
