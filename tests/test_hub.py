"""The chat hub on its own: no uvicorn, no sockets. A connection is two callables (send a text
frame, close with a code); these fakes record what the hub did with them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from server.connection import Connection
from server.hub import CLOSE_TOO_SLOW, ChatHub
from server.protocol import Hello
from server.settings import Settings
from server.store import HistoryStore


class FakePeer:
    """One client's end: the frames the hub sent it, and how it was closed. A peer that
    ``stuck`` never finishes a send, like a client that stopped reading."""

    def __init__(self, stuck: bool = False) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.stuck = stuck
        self._never = asyncio.Event()

    async def send(self, text: str) -> None:
        if self.stuck:
            await self._never.wait()
        self.frames.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]


class Room:
    """A hub over a real history store, and helpers to join fake peers to it."""

    def __init__(self, tmp: Path, **settings: Any) -> None:
        base = Settings(room="Unit", data_dir=tmp, discovery=False, leave_grace_seconds=0.0)
        self.store = HistoryStore(tmp / "history.sqlite3")
        self.hub = ChatHub(self.store, base.with_(**settings))
        self.writers: list[asyncio.Task[None]] = []

    def join(self, name: str, peer: FakePeer | None = None, client_id: str | None = None,
             address: str = "10.0.0.1", since: int | None = None) -> tuple[Connection, FakePeer]:
        peer = peer or FakePeer()
        hello = Hello(name=name, client_id=client_id or uuid.uuid4().hex, since=since)
        conn = self.hub.connect(hello, address, peer.send, peer.close)
        self.writers.append(asyncio.get_running_loop().create_task(conn.run_writer()))
        return conn, peer

    def say(self, conn: Connection, text: str, cmid: str | None = None) -> str:
        cmid = cmid or uuid.uuid4().hex
        self.hub.receive(conn, json.dumps({"type": "message", "text": text,
                                           "client_msg_id": cmid}))
        return cmid

    async def settle(self) -> None:
        """Every queued append committed and broadcast (join and leave lines are held for up
        to presence_batch_seconds first), and the outboxes drained."""
        await self.store.async_flush()
        deadline = asyncio.get_running_loop().time() + 5
        while self.store.visible_id < self.store.last_id:
            assert asyncio.get_running_loop().time() < deadline, "held lines never went out"
            await asyncio.sleep(0.01)
        for _ in range(5):
            await asyncio.sleep(0)

    async def close(self) -> None:
        self.hub.shutdown()
        await self.settle()
        for task in self.writers:
            task.cancel()
        await asyncio.gather(*self.writers, return_exceptions=True)
        self.store.close()


def run(tmp_path: Path, body: Callable[[Room], Awaitable[None]], **settings: Any) -> None:
    async def main() -> None:
        room = Room(tmp_path, **settings)
        try:
            await body(room)
        finally:
            await room.close()
    asyncio.run(main())


def test_a_welcome_then_every_message_reaches_everyone_once(tmp_path: Path) -> None:
    async def body(room: Room) -> None:
        ada, ada_peer = room.join("Ada")
        bob, bob_peer = room.join("Bob")
        cmid = room.say(ada, "hello")
        room.say(ada, "hello", cmid)  # a retry: acknowledged again, never stored twice
        await room.settle()
        assert ada_peer.frames[0]["type"] == "welcome"
        assert [m["text"] for m in bob_peer.of_type("message")] == ["hello"]
        assert [m["client_msg_id"] for m in ada_peer.of_type("message")] == [cmid, cmid]
        assert room.store.count() == 3  # two joins and one message
        assert [j["user"]["name"] for j in ada_peer.of_type("join")] == ["Ada", "Bob"]
    run(tmp_path, body)


def test_bad_frames_get_an_error_and_store_nothing(tmp_path: Path) -> None:
    async def body(room: Room) -> None:
        ada, peer = room.join("Ada")
        await room.settle()
        before = room.store.count()
        for raw in ("{", "[]", '{"type": "shout"}', '{"type": "message", "text": ""}'):
            room.hub.receive(ada, raw)
        await room.settle()
        codes = [e["code"] for e in peer.of_type("error")]
        assert codes == ["bad_json", "bad_frame", "unknown_type", "empty"]
        assert room.store.count() == before
    run(tmp_path, body)


def test_a_peer_that_stops_reading_is_closed_and_delays_nobody(tmp_path: Path) -> None:
    async def body(room: Room) -> None:
        _stuck_conn, stuck = room.join("Stuck", FakePeer(stuck=True))
        ada, ada_peer = room.join("Ada")
        for i in range(12):
            room.say(ada, f"m{i}")
            await room.settle()
        assert stuck.closed is not None and stuck.closed[0] == CLOSE_TOO_SLOW
        assert len(ada_peer.of_type("message")) == 12
        assert "Stuck" not in {u.name for u in room.hub.users.values()}
    run(tmp_path, body, client_queue_frames=4, messages_per_second=1000.0, message_burst=1000)


def test_a_name_already_online_is_made_unique(tmp_path: Path) -> None:
    async def body(room: Room) -> None:
        room.join("Ana")
        _conn, peer = room.join("ana")
        await room.settle()
        assert peer.frames[0]["you"]["name"] != "ana"
        assert peer.frames[0]["you"]["name"].startswith("ana")
    run(tmp_path, body)


def test_the_same_person_on_two_connections_joins_and_leaves_once(tmp_path: Path) -> None:
    async def body(room: Room) -> None:
        _watch, watcher = room.join("Watcher")
        first, _ = room.join("Ada", client_id="ada-device")
        second, _ = room.join("Ada", client_id="ada-device")
        room.hub.disconnect(first)
        await room.settle()
        assert not watcher.of_type("leave")
        room.hub.disconnect(second)
        await room.settle()
        assert [e["user"]["name"] for e in watcher.of_type("join")] == ["Watcher", "Ada"]
        assert [e["user"]["name"] for e in watcher.of_type("leave")] == ["Ada"]
    run(tmp_path, body)


@pytest.mark.parametrize("since", [0, 2])
def test_a_returning_client_gets_exactly_what_it_missed(tmp_path: Path, since: int) -> None:
    async def body(room: Room) -> None:
        ada, _ = room.join("Ada")  # event 1: Ada joined
        for i in range(4):
            room.say(ada, f"m{i}")  # events 2..5
        await room.settle()
        _conn, peer = room.join("Bob", since=since)
        await room.settle()
        welcome = peer.frames[0]
        assert [e["id"] for e in welcome["events"]] == list(range(since + 1, 6))
        assert welcome["reset"] is False
    run(tmp_path, body, messages_per_second=1000.0, message_burst=1000)
