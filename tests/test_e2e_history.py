"""Long histories and attention: scroll-back pages, the "new messages" pill, unread counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import join, launch_browser, message_texts, new_page, say, shot

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def scroll_to(page: Any, top: int) -> None:
    page.locator(".scroller").evaluate(
        "(s, top) => { s.scrollTop = top; s.dispatchEvent(new Event('scroll')); }", top)


START = datetime(2024, 3, 1, 9, 0)


def seed(host: Host, count: int) -> None:
    """Old history, written straight into the host's store before anyone connects."""
    user = {"id": "0123456789abcdef", "name": "Archivist"}
    host.room.store.bulk_append(
        {"type": "message", "ts": (START + timedelta(days=i // 60, minutes=i % 60)).strftime(
            "%Y-%m-%dT%H:%M:00.000Z"), "user": user,
         "text": f"old message {i}", "file": None, "client_msg_id": f"seed-{i}"}
        for i in range(count))


def test_scrolling_up_loads_older_pages_and_new_messages_wait_in_a_pill(
        host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    seed(host, 130)
    _, ada, errors = new_page(browser)
    _, bob, _ = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    texts = ada.locator("#messages .msg-text")
    expect(texts.last).to_have_text("old message 129")
    first_count = texts.count()
    assert first_count < 130

    # Reaching the top loads the page before, keeping the reader's place, until the beginning.
    for _ in range(6):
        if ada.locator("#messages .start").count():
            break
        scroll_to(ada, 0)
        expect(ada.locator("#messages .older button:disabled")).to_have_count(0)
    expect(ada.locator("#messages .start")).to_have_text("This is the beginning of Test room.")
    assert message_texts(ada)[:2] == ["old message 0", "old message 1"]
    assert len(message_texts(ada)) == 130
    # Day separators split the two seeded days.
    assert ada.locator("#messages .day").count() >= 3

    # Scrolled up, a new message does not yank the view: a pill offers to jump.
    scroll_to(ada, 200)
    say(bob, "fresh news")
    pill = ada.locator(".new-pill")
    expect(pill).to_be_visible()
    top = ada.locator(".scroller").evaluate("s => s.scrollTop")
    assert top < 1000
    pill.click()
    expect(pill).to_be_hidden()
    expect(ada.locator("#messages .msg-text", has_text="fresh news")).to_be_in_viewport()
    assert not errors.real_errors(), errors.real_errors()


def test_unread_count_shows_in_the_title_while_away(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, _ = new_page(browser)
    _, bob, _ = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    expect(ada).to_have_title("Test room · LAN Chat")
    # The tab goes to the background (what the browser reports when another tab is in front).
    ada.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    say(bob, "are you there?")
    say(bob, "hello?")
    expect(ada).to_have_title("(2) Test room · LAN Chat")
    ada.evaluate("""() => {
        delete document.hidden;
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    expect(ada).to_have_title("Test room · LAN Chat")


FIRST_IN_VIEW = """() => {
    const top = document.querySelector('.scroller').getBoundingClientRect().top;
    for (const m of document.querySelectorAll('#messages .msg')) {
        const r = m.getBoundingClientRect();
        if (r.bottom > top) return [m.querySelector('.msg-text').textContent, r.top - top];
    }
    return null;
}"""


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844},
                                      {"width": 1280, "height": 800}],
                         ids=["phone", "desktop"])
def test_reading_back_keeps_the_place_and_reaches_the_start_by_scrolling(
        host: Host, browser: Any, viewport: dict[str, int]) -> None:
    need_tool(chromium_path(), "chromium")
    seed(host, 2000)
    _, ada, errors = new_page(browser, viewport=viewport)
    join(ada, host.url, "Ada")
    texts = ada.locator("#messages .msg-text")
    expect(texts.last).to_have_text("old message 1999")
    scroller = ada.locator(".scroller")
    sb = scroller.bounding_box()
    ada.mouse.move(sb["x"] + sb["width"] / 2, sb["y"] + sb["height"] / 2)

    # Hold the first older page until the reader's place is noted, then let it in: what was at
    # the top of the view is still there, at the same height.
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)

    ada.route("**/api/events?*before=*", hold)
    count = texts.count()
    for _ in range(20):
        if held:
            break
        ada.mouse.wheel(0, -400)
        ada.wait_for_timeout(100)  # pacing a person's scrolling, not a synchronisation
    wait_until(lambda: held, what="a request for older messages")
    place = ada.evaluate(FIRST_IN_VIEW)
    held[0].continue_()
    wait_until(lambda: texts.count() > count, what="the older page")
    ada.unroute("**/api/events?*before=*", hold)
    expect(ada.locator("#messages .older button:disabled")).to_have_count(0)
    after = ada.evaluate(FIRST_IN_VIEW)
    print(f"\nfirst in view before {place}, after the older page arrived {after}")
    assert after[0] == place[0] and abs(after[1] - place[1]) <= 2, (place, after)
    # Far from the newest message: a way back down.
    expect(ada.locator(".new-pill")).to_be_visible()
    expect(ada.locator(".new-pill")).to_have_text("Jump to latest")
    shot(ada, f"history-jump-to-latest-{viewport['width']}.png")

    # Scrolling on reaches the very beginning without a click.
    wheels = 0
    while not ada.locator("#messages .start").count():
        assert wheels < 400, f"stalled at {texts.count()} messages after {wheels} scroll steps"
        ada.mouse.wheel(0, -4000)
        wheels += 1
        ada.wait_for_timeout(50)  # pacing, as above
    print(f"reached the start of 2000 messages in {wheels} scroll steps and no clicks")
    assert message_texts(ada)[:2] == ["old message 0", "old message 1"]
    assert texts.count() == 2000

    pill = ada.locator(".new-pill")
    expect(pill).to_be_visible()
    pill.click()
    expect(texts.last).to_be_in_viewport()
    expect(pill).to_be_hidden()
    assert not errors.real_errors(), errors.real_errors()
