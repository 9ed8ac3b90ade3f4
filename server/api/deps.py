"""What every route depends on: the room, and whether the caller may see its content."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from ..room import Room


def get_room(conn: HTTPConnection) -> Room:
    """The room this app serves (made in the lifespan); works for HTTP and WebSocket alike."""
    room: Room = conn.app.state.room
    return room


RoomDep = Annotated[Room, Depends(get_room)]


def member(request: Request, room: RoomDep) -> None:
    """Routes that show the room's content need the password, when the room has one."""
    if not room.is_member(request.headers):
        raise HTTPException(401, "this room needs its password: POST it to /api/login")


Member = Depends(member)
