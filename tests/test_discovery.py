"""Advertising and browsing rooms with zeroconf pinned to 127.0.0.1 (no packet leaves the machine).

In the style of python-zeroconf's own asyncio tests: register, browse, and assert that the browser
reports add, update and remove in that order. A tiny asyncio HTTP server stands in for a host's
``/api/health`` so the liveness probe can be switched off like a crashed host.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from zeroconf.asyncio import AsyncZeroconf

from server.discovery import (
    SERVICE_TYPE,
    Advertiser,
    ChangeKind,
    Peer,
    PeerBrowser,
    advertised_addresses,
    instance_name,
    should_advertise,
)
from server.settings import Settings

LOOPBACK = ["127.0.0.1"]


class FakeHealth:
    """``GET /api/health`` answering 200 on a loopback port, that can stop and start again."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: 15\r\nconnection: close\r\n\r\n{\"status\":\"ok\"}")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    async def start(self) -> FakeHealth:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


class Recorder:
    """Collects a browser's change events and waits for them with a deadline."""

    def __init__(self) -> None:
        self.events: list[tuple[ChangeKind, Peer, float]] = []

    def __call__(self, kind: ChangeKind, peer: Peer) -> None:
        self.events.append((kind, peer, time.monotonic()))

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.events]

    async def wait_for(self, kind: ChangeKind, count: int = 1, timeout: float = 10.0,
                       match: Callable[[Peer], bool] = lambda _p: True) -> tuple[Peer, float]:
        deadline = time.monotonic() + timeout
        while True:
            found = [(p, t) for k, p, t in self.events if k == kind and match(p)]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind!r} #{count} within {timeout} s: {self.kinds()}")
            await asyncio.sleep(0.02)


def run(coro_fn: Callable[[], Awaitable[None]], timeout: float = 60.0) -> None:
    """Run one async test body on a fresh loop, bounded in time."""
    asyncio.run(asyncio.wait_for(coro_fn(), timeout))


def advertiser_for(azc: AsyncZeroconf, port: int, room_id: str, **kw: Any) -> Advertiser:
    return Advertiser(azc, room=kw.pop("room", "Ada's room"), room_id=room_id, port=port,
                      addresses=LOOPBACK, machine="test-machine", **kw)


def zeroconf_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if "zeroconf" in t.name.lower()]


def test_browser_sees_add_then_user_count_update_then_goodbye_in_order() -> None:
    async def body() -> None:
        threads_before = set(threading.enumerate())
        health = await FakeHealth().start()
        host_zc = AsyncZeroconf(interfaces=LOOPBACK)
        lobby_zc = AsyncZeroconf(interfaces=LOOPBACK)
        room_id = uuid.uuid4().hex
        browser = PeerBrowser(lobby_zc, self_id="someone-else", probe_interval=0.2,
                              probe_timeout=0.5)
        events = Recorder()
        browser.add_listener(events)
        advertiser = advertiser_for(host_zc, health.port, room_id, room="Ada's room")
        try:
            await browser.async_start()
            started = time.monotonic()
            await advertiser.async_start()
            peer, seen_at = await events.wait_for("added", match=lambda p: p.id == room_id)
            print(f"\nadded after {seen_at - started:.2f} s")
            assert peer.public() == {
                "id": room_id, "name": "Ada's room", "url": f"http://127.0.0.1:{health.port}/",
                "host": "127.0.0.1", "port": health.port, "users": 0,
                "version": advertiser.version, "password": False, "machine": "test-machine",
                "self": False, "fingerprint": None, "term": 0}
            assert browser.peers() == [peer]

            assert await advertiser.async_update(users=3)
            assert not await advertiser.async_update(users=3)  # nothing new: nothing sent
            updated, _ = await events.wait_for("updated", match=lambda p: p.users == 3)
            assert updated.id == room_id and browser.peers()[0].users == 3

            left = time.monotonic()
            await advertiser.async_close()
            gone, gone_at = await events.wait_for("removed", timeout=2.0)
            print(f"removed {gone_at - left:.3f} s after the goodbye")
            assert gone.id == room_id and browser.peers() == []
            assert events.kinds() == ["added", "updated", "removed"]
        finally:
            await advertiser.async_close()
            await browser.async_close()
            await host_zc.async_close()
            await lobby_zc.async_close()
            await health.stop()
        assert browser.peers() == [] and not browser.running
        assert zeroconf_threads() == []
        assert set(threading.enumerate()) <= threads_before

    run(body)


def test_a_host_that_stops_answering_is_dropped_and_comes_back_when_it_answers() -> None:
    """zeroconf keeps a crashed host listed for 18+ minutes; the health probe must not."""
    async def body() -> None:
        health = await FakeHealth().start()
        host_zc = AsyncZeroconf(interfaces=LOOPBACK)
        lobby_zc = AsyncZeroconf(interfaces=LOOPBACK)
        room_id = uuid.uuid4().hex
        browser = PeerBrowser(lobby_zc, probe_interval=0.2, probe_timeout=0.5,
                              probe_failures=2)
        events = Recorder()
        browser.add_listener(events)
        advertiser = advertiser_for(host_zc, health.port, room_id)
        try:
            await browser.async_start()
            await advertiser.async_start()
            await events.wait_for("added")

            crashed = time.monotonic()
            await health.stop()  # no goodbye: the advertisement stays in zeroconf's cache
            _, gone_at = await events.wait_for("removed", timeout=5.0)
            print(f"\nunanswered host dropped after {gone_at - crashed:.2f} s")
            assert browser.peers() == []
            unreachable = browser.unreachable()
            assert [u["port"] for u in unreachable] == [health.port]

            await health.start()  # same port: the host is back
            back, _ = await events.wait_for("added", count=2, timeout=5.0)
            assert back.id == room_id and browser.unreachable() == []
            assert events.kinds() == ["added", "removed", "added"]
        finally:
            await advertiser.async_close()
            await browser.async_close()
            await host_zc.async_close()
            await lobby_zc.async_close()
            await health.stop()

    run(body)


def test_own_room_is_marked_self_and_two_rooms_are_listed_by_name() -> None:
    async def body() -> None:
        health = await FakeHealth().start()
        zc_a = AsyncZeroconf(interfaces=LOOPBACK)
        zc_b = AsyncZeroconf(interfaces=LOOPBACK)
        mine, theirs = uuid.uuid4().hex, uuid.uuid4().hex
        browser = PeerBrowser(zc_a, self_id=mine, probe_interval=0.2, probe_timeout=0.5)
        events = Recorder()
        browser.add_listener(events)
        ads = [advertiser_for(zc_a, health.port, mine, room="Zed's room"),
               advertiser_for(zc_b, health.port, theirs, room="Bea's room")]
        try:
            await browser.async_start()
            await asyncio.gather(*(a.async_start() for a in ads))
            await events.wait_for("added", count=2)
            peers = browser.peers()
            assert [(p.name, p.is_self) for p in peers] == [("Zed's room", True),
                                                            ("Bea's room", False)]
        finally:
            for a in ads:
                await a.async_close()
            await browser.async_close()
            await zc_a.async_close()
            await zc_b.async_close()
            await health.stop()

    run(body)


def test_browser_close_wakes_waiters_and_ignores_late_events() -> None:
    async def body() -> None:
        zc = AsyncZeroconf(interfaces=LOOPBACK)
        browser = PeerBrowser(zc, probe_interval=0.2)
        try:
            await browser.async_start()
            waiter = asyncio.create_task(browser.async_wait_changed(browser.version, 30))
            await asyncio.sleep(0.05)
            t0 = time.monotonic()
            await browser.async_close()
            await asyncio.wait_for(waiter, 2)
            assert time.monotonic() - t0 < 1.0 and browser.closed
        finally:
            await browser.async_close()
            await zc.async_close()

    run(body)


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, False),  # loopback only: nobody else could join
    ({"host": "0.0.0.0"}, True),
    ({"host": "0.0.0.0", "hosting": False}, False),  # the desktop lobby
    ({"host": "0.0.0.0", "discovery": False}, False),
    ({"discovery_interfaces": ("127.0.0.1",)}, True),  # tests pin loopback on purpose
])
def test_when_a_room_is_advertised(changes: dict[str, Any], expected: bool) -> None:
    assert should_advertise(Settings(room="r").with_(**changes)) is expected


def test_advertised_addresses_and_instance_names() -> None:
    pinned = Settings(discovery_interfaces=("127.0.0.1", "fe80::1", "2"))
    assert advertised_addresses(pinned) == ["127.0.0.1"]
    assert advertised_addresses(Settings(host="10.1.2.3")) == ["10.1.2.3"]
    name = instance_name("a.b" * 40, "host.lan", "0123456789")
    assert "." not in name and len(name.encode()) <= 63 and name.endswith(" (012345)")
    assert instance_name("Café ☕" * 20, "m", "ab").encode()  # never cut inside a character
    assert f"{instance_name('x', 'y', 'abcdef01')}.{SERVICE_TYPE}" == (
        f"x on y (abcdef).{SERVICE_TYPE}")
