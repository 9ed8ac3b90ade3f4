"""The outbox in a real browser: messages typed while the host is gone survive a reload and go
out once each, in order, when it comes back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import join, launch_browser, message_texts, new_page, say, shot

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


class Blackout:
    """Keeps one page from reaching the host (API refused, WebSocket closed at once) while the
    host itself runs: the page's own files still load, as they would from a browser's cache.
    (Fulfilling the page from disk instead would make Chromium treat it as a public site and
    block its loopback WebSocket by Local Network Access rules.)"""

    def __init__(self, page: Any, host: Host) -> None:
        self.on = True
        self.page = page
        self.host = host
        page.route(f"{host.url}/api/**", self._api)
        page.route_web_socket(host.ws_url, self._ws)

    def _api(self, route: Any) -> None:
        if self.on:
            route.abort("connectionrefused")
        else:
            route.continue_()

    def _ws(self, ws: Any) -> None:
        if self.on:
            ws.close(code=4000, reason="blackout")
        else:
            ws.connect_to_server()

    def end(self) -> None:
        self.on = False


def server_messages(host: Host) -> list[str]:
    with host.http() as http:
        events = http.get("/api/events", params={"after": 0, "limit": 500}).json()["events"]
    return [e["text"] for e in events if e["type"] == "message"]


def test_offline_outbox_survives_reload_and_sends_once_in_order(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser)
    join(ada, host.url, "Ada")
    say(ada, "before the outage")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(1)

    host.stop()
    banner = ada.locator(".banner")
    expect(banner).to_contain_text("Reconnecting…")
    for text in ("offline one", "offline two", "offline three"):
        say(ada, text)
    pending = ada.locator('.msg.own[data-status="sending"]')
    expect(pending).to_have_count(3)
    expect(pending.first).to_contain_text("Waiting for the connection")
    shot(ada, "offline-pending-desktop-light.png")

    # Reload while still cut off from the host: the outbox comes back from storage. (The
    # blackout goes up before the host is back, so the page's quick retries cannot reach it.)
    blackout = Blackout(ada, host)
    host.start()
    ada.reload()
    expect(pending).to_have_count(3)
    assert message_texts(ada) == ["before the outage", "offline one", "offline two",
                                  "offline three"]
    expect(banner).to_contain_text("Reconnecting…")

    assert server_messages(host) == ["before the outage"]
    blackout.end()
    # Skip the backoff wait the way a user would: the banner's "Try now".
    def reconnected() -> bool:
        if ada.locator(".conn-online").count():
            return True
        try_now = ada.locator(".banner .link-btn")
        if try_now.is_visible():
            try:
                try_now.click(timeout=2000)
            except PlaywrightTimeoutError:
                pass  # the page reconnected on its own meanwhile and hid the banner
        return False

    wait_until(reconnected, timeout=30, interval=0.5, what="the page to reconnect")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(4)
    expect(pending).to_have_count(0)
    expected = ["before the outage", "offline one", "offline two", "offline three"]
    assert server_messages(host) == expected
    assert message_texts(ada) == expected

    # Another reload: still exactly once each, and the outbox is empty.
    ada.reload()
    wait_connected_page = ada.locator(".conn-online")
    expect(wait_connected_page).to_be_visible()
    assert message_texts(ada) == expected
    assert ada.evaluate("localStorage.getItem('lanchat.outbox')") == "[]"
    assert server_messages(host) == expected
    assert not errors.real_errors(), errors.real_errors()


def test_composer_and_host_limits_say_why_and_offer_retry(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(max_message_bytes=5000)
    _, ada, errors = new_page(browser)
    join(ada, host.url, "Ada")

    # Near the limit a counter appears; over it, Enter explains instead of sending.
    box = ada.locator("#compose")
    counter = ada.locator(".counter")
    box.fill("y" * 3000)
    expect(counter).to_be_hidden()
    box.fill("y" * 4500)
    expect(counter).to_have_text("500 left")
    box.fill("y" * 6000)
    box.press("Enter")
    expect(ada.locator(".compose-error")).to_contain_text("over the limit")
    expect(ada.locator("#messages .msg")).to_have_count(0)

    # A queued message the host refuses (typed for a host with a higher limit) fails visibly,
    # with the host's reason, and can be discarded.
    ada.evaluate("""() => localStorage.setItem('lanchat.outbox', JSON.stringify([{
        cmid: 'queued-too-long', text: 'z'.repeat(6000), ts: new Date().toISOString(),
        state: 'pending'}]))""")
    ada.reload()
    failed = ada.locator('.msg.own[data-status="failed"]')
    expect(failed.locator(".msg-status")).to_contain_text("Too long")
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()
    shot(ada, "message-failed-desktop-light.png")
    failed.get_by_role("button", name="Discard").click()
    expect(failed).to_have_count(0)
    assert ada.evaluate("localStorage.getItem('lanchat.outbox')") == "[]"
    assert server_messages(host) == []
    assert not errors.real_errors(), errors.real_errors()
