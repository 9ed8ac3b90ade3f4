"""Sharing files: one-shot uploads (``POST /api/files``) and downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse

from ..files import INLINE_MIME
from .deps import Member, RoomDep

router = APIRouter()


class SharedFile(FileResponse):
    """Downloads read 1 MiB at a time: 16x fewer thread hops than Starlette's 64 KiB."""

    chunk_size = 1024 * 1024


@router.post("/api/files", status_code=201, dependencies=[Member])
async def upload(request: Request, room: RoomDep,
                 name: str | None = Query(None, max_length=1024)) -> dict[str, Any]:
    """A file as multipart (field ``file``) or as the raw body named by ``?name=``; refused
    errors become their HTTP status by the app's handler for ``UploadError``."""
    if not room.same_origin(request.headers):
        raise HTTPException(403, "uploads are accepted only from this room's own page")
    length = request.headers.get("content-length")
    record = await room.files.receive(
        request.stream(), request.headers.get("content-type", ""),
        int(length) if length and length.isdigit() else None,
        uploader=request.client.host if request.client else None, raw_name=name)
    return record.public()


@router.get("/api/files/{file_id}", dependencies=[Member])
async def download(request: Request, room: RoomDep, file_id: str) -> FileResponse:
    record = room.files.lookup(file_id)
    known = record or room.store.get_file(file_id)  # listed, its bytes perhaps not here
    # A private message's file is for its two people: to anyone else it does not exist.
    # A standby holds everything, as the host does.
    if known is None or not (room.is_standby(request.headers) or room.store.file_visible(
            file_id, room.viewer(request.headers))):
        raise HTTPException(404, "no such file on this host")
    if record is None:
        raise HTTPException(404, "this file is no longer available: its only copy stayed "
                                 "with a former host of the room")
    inline = record.mime in INLINE_MIME
    return SharedFile(
        room.files.path_of(record),
        media_type=record.mime if inline else "application/octet-stream",
        filename=record.name,
        content_disposition_type="inline" if inline else "attachment",
    )
