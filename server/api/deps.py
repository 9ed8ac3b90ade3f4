"""What every route depends on: the room, and whether the caller may see its content."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from ..readonly import ReplicaReader
from ..room import Room
from ..standby import Standby


def get_room(conn: HTTPConnection) -> Room:
    """The room this app serves (made in the lifespan); works for HTTP and WebSocket alike.
    A standby serves no room until it takes one over: 503, saying where the room is."""
    room: Room | None = getattr(conn.app.state, "room", None)
    if room is None:
        standby = getattr(conn.app.state, "standby", None)
        where = f" at {standby.host_url}" if standby is not None else ""
        raise HTTPException(503, f"this is a standby; the room is served{where}")
    return room


def standing_by(conn: HTTPConnection) -> Standby | None:
    """The standby, while this app stands by for a room (serves none yet)."""
    if getattr(conn.app.state, "room", None) is not None:
        return None
    standby: Standby | None = getattr(conn.app.state, "standby", None)
    return standby


def reading_replica(conn: HTTPConnection) -> ReplicaReader | None:
    """The standby's replica, read-only, while no host of the room is reachable; None while
    this app serves the room or its host does. A caller without the room's session (a
    password room) gets 401, as from a host."""
    standby = standing_by(conn)
    reader = standby.reader if standby is not None else None
    if reader is not None and not reader.is_member(conn.headers):
        raise HTTPException(401, "this room needs its password: POST it to /api/login")
    return reader


RoomDep = Annotated[Room, Depends(get_room)]


def member(request: Request, room: RoomDep) -> None:
    """Routes that show the room's content need the password, when the room has one."""
    if not room.is_member(request.headers) and not room.is_standby(request.headers):
        raise HTTPException(401, "this room needs its password: POST it to /api/login")


Member = Depends(member)
