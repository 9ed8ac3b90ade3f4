"""While no host serves the room, a browser page reads the room's copy on a standby: a banner
says so, history and search work, nothing can be sent; once the host serves again the page is
live again, without a reload. A real host process (killed with SIGKILL), a real standby whose
take-over is held off (a long ``standby_grace_seconds``), real Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import chromium_path, need_tool, wait_until
from tests.e2e_helpers import (
    DESKTOP,
    PHONE,
    join,
    launch_browser,
    message_texts,
    new_page,
    say,
    shot,
    wait_connected,
    wait_in_page,
)
from tests.procs import HostProcess

pytestmark = pytest.mark.e2e

BANNER = "Reading the room’s copy on"


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def room_info(url: str) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = httpx.get(f"{url}/api/room", timeout=5).json()
    except httpx.HTTPError:
        return {}
    return answer


def last_stored(url: str) -> int:
    page = httpx.get(f"{url}/api/events", params={"limit": 1}, timeout=5).json()
    return int(page["events"][-1]["id"]) if page["events"] else 0


def search_hits(page: Any, words: str) -> Any:
    page.locator(".search-btn").click()
    box = page.locator("#search-q")
    box.fill(words)
    box.press("Enter")
    return page.locator(".search-results .search-hit")


def test_the_page_reads_the_rooms_copy_while_no_host_serves_it(
        make_host: Any, browser: Any, tmp_path: Path) -> None:
    need_tool(chromium_path(), "chromium")
    host = HostProcess(tmp_path / "host")
    try:
        host.start()
        standby = make_host(standby_url=host.url, standby_grace_seconds=600)
        wait_until(lambda: room_info(host.url).get("successors"), timeout=20,
                   what="the standby to be a successor")
        _, ada, errors = new_page(browser, viewport=DESKTOP)
        _, bob, bob_errors = new_page(browser, viewport=PHONE)
        join(ada, host.url, "Ada")
        join(bob, host.url, "Bob")
        say(ada, "the lantern is on the shelf")
        say(bob, "thanks, found it")
        expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(1)
        expect(bob.locator('.msg.own[data-status="delivered"]')).to_have_count(1)
        wait_until(lambda: room_info(standby.url).get("last_id") == last_stored(host.url),
                   timeout=20, what="the replica to catch up")
        ada.evaluate("() => { window.sameDocument = true; }")  # a reload would forget it

        lost_at = time.monotonic()
        host.kill()  # no hand-over, and the standby holds off taking over
        for page in (ada, bob):
            expect(page.locator(".banner")).to_contain_text(BANNER, timeout=30_000)
            expect(page.locator(".conn-reading")).to_be_visible()
            expect(page.locator("#compose")).to_be_disabled()
        print(f"\nread-only: the pages read the standby's copy {time.monotonic() - lost_at:.2f} s "
              "after the host was lost")
        assert message_texts(ada) == ["the lantern is on the shelf", "thanks, found it"]
        # History pages come from the standby now (across origins, with the page's credentials).
        fetched = ada.evaluate("""async () => {
            const { hostBase, hostFetch } = await import('/js/host-base.js');
            const res = await hostFetch('/api/events?limit=10');
            return { base: hostBase(), texts: (await res.json()).events
                .filter((e) => e.type === 'message').map((e) => e.text) };
        }""")
        assert fetched == {"base": standby.url,
                           "texts": ["the lantern is on the shelf", "thanks, found it"]}
        hits = search_hits(ada, "lantern")
        expect(hits).to_have_count(1)
        expect(hits.first).to_contain_text("the lantern is on the shelf")
        shot(ada, "room-read-only-desktop.png")
        for _ in range(2):  # the first Escape empties the search box, the next closes it
            if ada.locator("dialog.search-dialog[open]").count():
                ada.locator("#search-q").press("Escape")
        expect(ada.locator("dialog.search-dialog[open]")).to_have_count(0)
        shot(bob, "room-read-only-phone.png")
        assert ada.evaluate("() => window.sameDocument === true"), "the page reloaded"

        back_at = time.monotonic()
        host.start()  # a host serves the room again: the pages are live again
        for page in (ada, bob):
            wait_connected(page)
            expect(page.locator(".banner")).to_be_hidden()
            expect(page.locator("#compose")).to_be_enabled()
        print(f"live again {time.monotonic() - back_at:.2f} s after the host started again")
        wait_in_page(ada, "() => document.querySelector('.conn-online') !== null", "online")
        say(ada, "back to live")
        expect(bob.locator("#messages .msg-text")).to_have_text(
            ["the lantern is on the shelf", "thanks, found it", "back to live"])
        assert ada.evaluate("() => window.sameDocument === true"), "the page reloaded"
        shot(ada, "room-live-again-desktop.png")
        assert not errors.real_errors(), errors.real_errors()
        assert not bob_errors.real_errors(), bob_errors.real_errors()
    finally:
        host.kill()
