"""The room object on its own, without uvicorn: it starts every part, answers what the routes
ask, and closes everything it started (no thread or task left behind)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from server.room import Room, RoomNotStarted
from tests.conftest import test_settings as settings_for


def test_a_room_starts_its_parts_and_closes_every_one(tmp_path: Path) -> None:
    async def main() -> None:
        room = Room(settings_for(tmp_path / "data", password="s3cret"))
        with pytest.raises(RoomNotStarted):
            room.hub  # noqa: B018 - touching a part before the start is the test
        await room.async_start()
        assert room.store.last_id == 0 and not room.hub.users
        assert any(t.name == "lanchat-writer" for t in threading.enumerate())
        info = room.info(8765, member=False)
        assert info["password"] is True and info["room"] == "Test room"
        assert room.is_member({}) is False
        cookie = f"lanchat_session={room.gate.new_token()}"
        assert room.is_member({"cookie": cookie}) is True
        await room.async_close()
        with pytest.raises(RoomNotStarted):
            room.store  # noqa: B018
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not others, others

    asyncio.run(main())
    assert not [t for t in threading.enumerate() if t.name == "lanchat-writer"]


def test_a_room_told_it_closes_for_good_says_so_first(tmp_path: Path) -> None:
    async def main() -> None:
        room = Room(settings_for(tmp_path / "data"))
        await room.async_start()
        await room.async_begin_shutdown(closing=True)  # nobody in it: nothing to say
        await room.async_close()

    asyncio.run(main())
