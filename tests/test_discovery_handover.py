"""A room that moves from one host to another shows once in the lobby's list, at the address that
serves it, with zeroconf pinned to 127.0.0.1 (no packet leaves the machine).

Two advertisers of one room id stand for the old and the new host (different machines, so
different instance names); a sampler reads ``PeerBrowser.peers()`` every 10 ms, as the lobby's
stream would, and the test asserts on everything it saw.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from zeroconf.asyncio import AsyncZeroconf

from server.discovery import Advertiser, Discovery, PeerBrowser
from server.settings import Settings
from tests.test_discovery import LOOPBACK, FakeHealth, Recorder, run


def advertiser(azc: AsyncZeroconf, port: int, room_id: str, machine: str,
               term: int) -> Advertiser:
    return Advertiser(azc, room="Ada's room", room_id=room_id, port=port, addresses=LOOPBACK,
                      machine=machine, term=term)


class Sampler:
    """Reads the browser's list every 10 ms: (time, [(room id, port, term), ...])."""

    def __init__(self, browser: PeerBrowser) -> None:
        self.browser = browser
        self.samples: list[tuple[float, list[tuple[str, int, int]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            self.samples.append((time.monotonic(), [(p.id, p.port, p.term)
                                                    for p in self.browser.peers()]))
            await asyncio.sleep(0.01)

    def start(self) -> Sampler:
        self._task = asyncio.create_task(self._loop())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def after(self, t0: float) -> list[list[tuple[str, int, int]]]:
        return [seen for t, seen in self.samples if t >= t0]

    def gap(self, t0: float, room_id: str) -> float:
        """The longest stretch after ``t0`` during which the room was not listed at all."""
        longest, missing_since = 0.0, None
        for t, seen in self.samples:
            if t < t0:
                continue
            listed = any(rid == room_id for rid, _, _ in seen)
            if not listed and missing_since is None:
                missing_since = t
            elif listed and missing_since is not None:
                longest, missing_since = max(longest, t - missing_since), None
        return longest


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def test_a_room_handed_over_shows_once_and_follows_to_the_new_host() -> None:
    """The new host announces (term 1) while the old one (term 0) still answers, then the old
    one says goodbye: the list shows the room exactly once throughout, at the new host's port
    as soon as that answers, and never at the old port again."""
    async def body() -> None:
        old_health, new_health = await FakeHealth().start(), await FakeHealth().start()
        zc_old, zc_new = AsyncZeroconf(interfaces=LOOPBACK), AsyncZeroconf(interfaces=LOOPBACK)
        lobby_zc = AsyncZeroconf(interfaces=LOOPBACK)
        room_id = uuid.uuid4().hex
        browser = PeerBrowser(lobby_zc, probe_interval=0.2, probe_timeout=0.5)
        events = Recorder()
        browser.add_listener(events)
        old = advertiser(zc_old, old_health.port, room_id, "laptop-a", 0)
        new = advertiser(zc_new, new_health.port, room_id, "laptop-b", 1)
        sampler = Sampler(browser)
        try:
            await browser.async_start()
            await old.async_start()
            await events.wait_for("added", match=lambda p: p.port == old_health.port)
            sampler.start()
            moved_at = time.monotonic()
            await new.async_start()
            await events.wait_for("added", match=lambda p: p.port == new_health.port)
            # Both hosts answer now; the lobby shows one room: the new host's.
            assert [(p.port, p.term) for p in browser.peers()] == [(new_health.port, 1)]
            switched = next(t for t, seen in sampler.samples
                            if seen == [(room_id, new_health.port, 1)])
            await old.async_close()  # the old host's goodbye
            gone = time.monotonic()
            await events.wait_for("removed", match=lambda p: p.port == old_health.port)
            await asyncio.sleep(0.3)  # keep sampling a little after the goodbye
            seen = sampler.after(moved_at)
            assert all(len(s) == 1 and s[0][0] == room_id for s in seen), seen
            assert all(s == [(room_id, new_health.port, 1)]
                       for s in sampler.after(switched)), "the room went back to the old host"
            assert sampler.gap(moved_at, room_id) == 0.0
            print(f"\nlobby switched to the new host {switched - moved_at:.2f} s after it "
                  f"announced; the old host's goodbye {time.monotonic() - gone:.2f} s ago")
        finally:
            await sampler.stop()
            for a in (old, new):
                await a.async_close()
            await browser.async_close()
            for zc in (zc_old, zc_new, lobby_zc):
                await zc.async_close()
            for health in (old_health, new_health):
                await health.stop()

    run(body)


def test_goodbye_before_the_new_host_announces_leaves_only_a_short_gap() -> None:
    """The other order (the old host's goodbye first): the room is missing only until the new
    host answers its first probe, well inside the 3 s a hand-over may take."""
    async def body() -> None:
        old_health, new_health = await FakeHealth().start(), await FakeHealth().start()
        zc_old, zc_new = AsyncZeroconf(interfaces=LOOPBACK), AsyncZeroconf(interfaces=LOOPBACK)
        lobby_zc = AsyncZeroconf(interfaces=LOOPBACK)
        room_id = uuid.uuid4().hex
        browser = PeerBrowser(lobby_zc, probe_interval=0.2, probe_timeout=0.5)
        events = Recorder()
        browser.add_listener(events)
        old = advertiser(zc_old, old_health.port, room_id, "laptop-a", 2)
        new = advertiser(zc_new, new_health.port, room_id, "laptop-b", 3)
        sampler = Sampler(browser)
        try:
            await browser.async_start()
            await old.async_start()
            await events.wait_for("added")
            sampler.start()
            t0 = time.monotonic()
            await old.async_close()
            await new.async_start()
            await events.wait_for("added", match=lambda p: p.port == new_health.port)
            await until(lambda: browser.peers() and browser.peers()[0].port == new_health.port,
                        5, "the new host listed")
            seen = sampler.after(t0)
            assert all(len(s) <= 1 for s in seen), seen
            gap = sampler.gap(t0, room_id) or (time.monotonic() - t0)
            print(f"\nroom missing from the list for {gap:.2f} s between goodbye and announce")
            assert gap < 3.0
            assert browser.peers()[0].term == 3
        finally:
            await sampler.stop()
            for a in (old, new):
                await a.async_close()
            await browser.async_close()
            for zc in (zc_old, zc_new, lobby_zc):
                await zc.async_close()
            for health in (old_health, new_health):
                await health.stop()

    run(body)


def test_a_crashed_host_still_cached_never_outranks_its_successor() -> None:
    """A host killed without a goodbye stays in zeroconf's cache (and answers nothing); its
    successor, a term higher, is the one listed, and an old host that comes back with its old
    term does not take the entry back. Of two entries with the same term, the newest wins."""
    async def body() -> None:
        healths = [await FakeHealth().start() for _ in range(3)]
        zcs = [AsyncZeroconf(interfaces=LOOPBACK) for _ in range(4)]
        room_id = uuid.uuid4().hex
        browser = PeerBrowser(zcs[3], probe_interval=0.2, probe_timeout=0.5)
        events = Recorder()
        browser.add_listener(events)
        ads = [advertiser(zcs[i], healths[i].port, room_id, f"laptop-{i}", term)
               for i, term in enumerate((4, 5, 5))]
        try:
            await browser.async_start()
            await ads[0].async_start()
            await events.wait_for("added")
            await ads[1].async_start()
            await events.wait_for("added", count=2)
            assert [p.port for p in browser.peers()] == [healths[1].port]
            await healths[0].stop()  # the old host crashed: no goodbye
            await asyncio.sleep(0.5)
            assert [p.port for p in browser.peers()] == [healths[1].port]
            await healths[0].start()  # it comes back with its old term: still second
            await asyncio.sleep(0.5)
            assert [p.port for p in browser.peers()] == [healths[1].port]
            await ads[2].async_start()  # a second host of term 5: the newest heard wins
            await events.wait_for("added", match=lambda p: p.port == healths[2].port)
            await until(lambda: [p.port for p in browser.peers()] == [healths[2].port], 5,
                        "the newest host of the highest term")
            assert len(browser.peers()) == 1
            assert browser.peers()[0].public()["term"] == 5
        finally:
            for a in ads:
                await a.async_close()
            await browser.async_close()
            for zc in zcs:
                await zc.async_close()
            for health in healths:
                await health.stop()

    run(body)


def host_discovery(port: int, room_id: str, term: int) -> Discovery:
    settings = Settings(room="Ada's room", hosting=True, port=port,
                        discovery_interfaces=("127.0.0.1",),
                        discovery_probe_interval_seconds=0.2,
                        discovery_probe_timeout_seconds=0.5)
    return Discovery(settings, room_id=room_id, term=term)


def test_a_host_that_handed_its_room_over_says_goodbye_once_its_successor_is_heard() -> None:
    """The successor starts announcing as it starts serving, in the background; the old host's
    goodbye, right after the hand-over, waits until the old host hears it, so lobbies never
    miss the room. Both on one machine: their instance names differ by the term."""
    async def body() -> None:
        old_health, new_health = await FakeHealth().start(), await FakeHealth().start()
        lobby_zc = AsyncZeroconf(interfaces=LOOPBACK)
        room_id = uuid.uuid4().hex
        browser = PeerBrowser(lobby_zc, probe_interval=0.2, probe_timeout=0.5)
        events = Recorder()
        browser.add_listener(events)
        old = host_discovery(old_health.port, room_id, 0)
        new = host_discovery(new_health.port, room_id, 1)
        sampler = Sampler(browser)
        try:
            await browser.async_start()
            await old.async_start()
            await events.wait_for("added", match=lambda p: p.port == old_health.port)
            await until(lambda: any(p.port == old_health.port for p in old.peers()), 5,
                        "the old host to hear itself")
            sampler.start()
            t0 = time.monotonic()
            await new.async_start()  # announces in the background
            await old.async_begin_shutdown(handed_over=True)
            waited = time.monotonic() - t0
            await events.wait_for("removed", match=lambda p: p.port == old_health.port)
            await until(lambda: [p.port for p in browser.peers()] == [new_health.port], 5,
                        "the new host listed")
            await asyncio.sleep(0.3)
            print(f"\nold host's goodbye went out {waited:.2f} s after the successor started")
            assert old.advertiser is not None and new.advertiser is not None
            assert old.advertiser.name != new.advertiser.name
            seen = sampler.after(t0)
            assert all(len(s) == 1 for s in seen), seen
            assert sampler.gap(t0, room_id) == 0.0
        finally:
            await sampler.stop()
            for d in (old, new):
                await d.async_close()
            await browser.async_close()
            await lobby_zc.async_close()
            for health in (old_health, new_health):
                await health.stop()

    run(body)
