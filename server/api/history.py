"""Paging through the room's history: ``GET /api/events``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from ..protocol import MAX_ID
from .deps import Member, RoomDep

router = APIRouter()


@router.get("/api/events", dependencies=[Member])
async def events(request: Request, room: RoomDep, before: int | None = Query(None, ge=1, le=MAX_ID),
                 after: int | None = Query(None, ge=0, le=MAX_ID),
                 limit: int = Query(50, ge=1)) -> Response:
    """Older events (``before``) or newer ones (``after``), oldest first; private events
    only for the two people they belong to (the asker is known by the page's client id)."""
    if before is not None and after is not None:
        raise HTTPException(400, "give 'before' or 'after', not both")
    store = room.store
    limit = min(limit, room.settings.max_page)
    cap = room.settings.page_max_bytes  # a page of 48 KB events must not weigh 24 MB
    viewer = room.viewer(request.headers)
    page = (store.after(after, limit, cap, viewer) if after is not None
            else store.before(before, limit, cap, viewer))
    body = '{"events":' + page.json_array() + ',"has_more":' + (
        "true" if page.has_more else "false") + "}"
    return Response(body, media_type="application/json")
