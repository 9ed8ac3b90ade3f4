"""Signing in: ``POST /api/login`` earns the session cookie (a password room's) and, with the
host's admin password, the admin cookie; ``GET /api/admin/enter`` is how the desktop app's own
window signs in as admin with the key the app gave its server."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..room import Room
from ..security import ADMIN_COOKIE, SESSION_COOKIE
from .deps import RoomDep

router = APIRouter()

_MAX_AGE = 30 * 24 * 3600


@router.post("/api/login")
async def login(request: Request, room: RoomDep,
                password: str = Body(..., embed=True, max_length=1024)) -> Response:
    address = request.client.host if request.client else "?"
    gate, admin = room.gate, room.admin_gate
    is_admin = False
    if gate.required or admin.required:
        # Counted before the hash runs, one check per address at a time: a burst of guesses
        # sent at once is braked like guesses sent in turn.
        wait = room.attempts.begin(address)
        if wait:
            return JSONResponse(
                {"detail": f"too many password attempts; try again in {wait} s"},
                status_code=429, headers={"Retry-After": str(wait)})
        right = False
        try:
            is_admin = admin.required and await asyncio.to_thread(admin.check, password)
            right = is_admin or (gate.required and await asyncio.to_thread(gate.check, password))
        finally:
            room.attempts.end(address, right)
        if not right:
            return JSONResponse({"detail": "wrong password"}, status_code=401)
    response = JSONResponse({"ok": True, "admin": is_admin})
    _sign_in(response, room, is_admin)
    return response


@router.get("/api/admin/enter")
async def enter_as_admin(request: Request, room: RoomDep,
                         key: str = Query("", max_length=1024)) -> Response:
    """Sign in as admin with ``key`` (the admin password) and go to the room. The desktop app
    gives its hosting window this address; a wrong or stale key just leads to the room."""
    response = RedirectResponse("/", status_code=303)
    address = request.client.host if request.client else "?"
    admin = room.admin_gate
    if not admin.required or not key or room.attempts.begin(address):
        return response
    right = False
    try:
        right = await asyncio.to_thread(admin.check, key)
    finally:
        room.attempts.end(address, right)
    if right:
        _sign_in(response, room, True)
    return response


def _sign_in(response: Response, room: Room, admin: bool) -> None:
    response.set_cookie(SESSION_COOKIE, room.gate.new_token(), httponly=True,
                        samesite="strict", max_age=_MAX_AGE, path="/")
    if admin:
        response.set_cookie(ADMIN_COOKIE, room.admin_gate.new_token(), httponly=True,
                            samesite="strict", max_age=_MAX_AGE, path="/")
