"""Signing in to a password room: ``POST /api/login`` earns the session cookie."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response

from ..security import SESSION_COOKIE
from .deps import RoomDep

router = APIRouter()


@router.post("/api/login")
async def login(request: Request, room: RoomDep,
                password: str = Body(..., embed=True, max_length=1024)) -> Response:
    address = request.client.host if request.client else "?"
    wait = room.attempts.retry_after(address)
    if wait:
        return JSONResponse({"detail": f"too many wrong passwords; try again in {wait} s"},
                            status_code=429, headers={"Retry-After": str(wait)})
    gate = room.gate
    if gate.required and not await asyncio.to_thread(gate.check, password):
        room.attempts.failed(address)
        return JSONResponse({"detail": "wrong password"}, status_code=401)
    room.attempts.succeeded(address)
    response = JSONResponse({"ok": True})
    response.set_cookie(SESSION_COOKIE, gate.new_token(), httponly=True, samesite="strict",
                        max_age=30 * 24 * 3600, path="/")
    return response

