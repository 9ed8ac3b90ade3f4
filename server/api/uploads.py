"""Resumable uploads over HTTP (the protocol is described in :mod:`server.resumable`)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from fastapi import APIRouter, Body, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from ..resumable import ResumableUploads, ResumeError
from ..room import Room
from ..security import cookie_value
from .deps import RoomDep

log = logging.getLogger(__name__)


router = APIRouter()


def _owner(request: Request) -> str:
    """The session that started an upload: its cookie, or in an open room its address."""
    token = cookie_value(request.headers) or ""
    who = token or (request.client.host if request.client else "?")
    return hashlib.sha256(who.encode()).hexdigest()


def _uploads(request: Request, room: Room) -> ResumableUploads:
    if not room.is_member(request.headers):
        raise HTTPException(401, "this room needs its password: POST it to /api/login")
    if not room.same_origin(request.headers):
        raise HTTPException(403, "uploads are accepted only from this room's own page")
    uploads: ResumableUploads = room.uploads
    return uploads


def _refused(exc: ResumeError) -> JSONResponse:
    body: dict[str, Any] = {"detail": exc.detail}
    headers = {}
    if exc.offset is not None:
        body["offset"] = exc.offset
        headers["Upload-Offset"] = str(exc.offset)
    return JSONResponse(body, status_code=exc.status, headers=headers)


@router.post("/api/files/uploads", status_code=201)
async def start_upload(request: Request, room: RoomDep, name: str = Body(..., max_length=1024),
                       size: int = Body(..., ge=0)) -> Response:
    uploads = _uploads(request, room)
    try:
        upload = uploads.create(name, size, _owner(request),
                                request.client.host if request.client else None)
    except ResumeError as exc:
        return _refused(exc)
    body = {**upload.public(0), "chunk_bytes": room.settings.resumable_chunk_bytes}
    return JSONResponse(body, status_code=201, headers={"Upload-Offset": "0"})


@router.get("/api/files/uploads/{upload_id}")
async def upload_status(request: Request, room: RoomDep, upload_id: str) -> Response:
    uploads = _uploads(request, room)
    try:
        upload = uploads.get(upload_id, _owner(request))
    except ResumeError as exc:
        return _refused(exc)
    offset = uploads.offset(upload_id)
    return JSONResponse(upload.public(offset), headers={"Upload-Offset": str(offset)})


@router.patch("/api/files/uploads/{upload_id}")
async def append_upload(request: Request, room: RoomDep, upload_id: str,
                        upload_offset: int = Header(..., ge=0)) -> Response:
    uploads = _uploads(request, room)
    try:
        upload, offset, record = await uploads.append(upload_id, _owner(request),
                                                      upload_offset, request.stream())
    except ResumeError as exc:
        return _refused(exc)
    except (ClientDisconnect, asyncio.CancelledError):
        # The bytes that arrived stay on disk; the client asks for the offset and continues.
        log.info("upload %s cut at %d bytes", upload_id, uploads.offset(upload_id))
        raise
    return JSONResponse({**upload.public(offset), "file": record},
                        headers={"Upload-Offset": str(offset)})


@router.delete("/api/files/uploads/{upload_id}", status_code=204)
async def cancel_upload(request: Request, room: RoomDep, upload_id: str) -> Response:
    uploads = _uploads(request, room)
    try:
        uploads.cancel(upload_id, _owner(request))
    except ResumeError as exc:
        return _refused(exc)
    return Response(status_code=204)
