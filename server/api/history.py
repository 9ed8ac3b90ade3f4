"""Paging through the room's history: ``GET /api/events``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from ..protocol import MAX_ID
from ..room import viewer_of
from ..store import Page
from .deps import get_room, member, reading_replica

router = APIRouter()


@router.get("/api/events")
async def events(request: Request, before: int | None = Query(None, ge=1, le=MAX_ID),
                 after: int | None = Query(None, ge=0, le=MAX_ID),
                 limit: int = Query(50, ge=1)) -> Response:
    """Older events (``before``) or newer ones (``after``), oldest first; private events
    only for the two people they belong to (the asker is known by the page's client id).
    A standby answers from its replica while no host is reachable (server/readonly.py)."""
    if before is not None and after is not None:
        raise HTTPException(400, "give 'before' or 'after', not both")
    viewer = viewer_of(request.headers)
    page: Page
    reader = reading_replica(request)
    if reader is not None:
        limit = min(limit, reader.settings.max_page)
        cap = reader.settings.page_max_bytes
        page = (reader.after(after, limit, cap, viewer) if after is not None
                else reader.before(before, limit, cap, viewer))
    else:
        room = get_room(request)
        member(request, room)
        store = room.store
        limit = min(limit, room.settings.max_page)
        cap = room.settings.page_max_bytes  # a page of 48 KB events must not weigh 24 MB
        page = (store.after(after, limit, cap, viewer) if after is not None
                else store.before(before, limit, cap, viewer))
    body = '{"events":' + page.json_array() + ',"has_more":' + (
        "true" if page.has_more else "false") + "}"
    return Response(body, media_type="application/json")
