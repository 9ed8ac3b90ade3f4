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
    gate = room.gate
    if gate.required:
        # Counted before the hash runs, one check per address at a time: a burst of guesses
        # sent at once is braked like guesses sent in turn.
        wait = room.attempts.begin(address)
        if wait:
            return JSONResponse(
                {"detail": f"too many password attempts; try again in {wait} s"},
                status_code=429, headers={"Retry-After": str(wait)})
        right = False
        try:
            right = await asyncio.to_thread(gate.check, password)
        finally:
            room.attempts.end(address, right)
        if not right:
            return JSONResponse({"detail": "wrong password"}, status_code=401)
    response = JSONResponse({"ok": True})
    # Secure over TLS, so the browser never sends the session over plain HTTP. The desktop
    # window signs in to its own room over loopback (plain) and keeps a plain cookie there.
    response.set_cookie(SESSION_COOKIE, gate.new_token(), httponly=True, samesite="strict",
                        max_age=30 * 24 * 3600, path="/", secure=request.url.scheme == "https")
    return response

