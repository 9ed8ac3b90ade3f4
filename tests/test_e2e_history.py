"""Long histories and attention: scroll-back pages, the "new messages" pill, unread counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool
from tests.e2e_helpers import join, launch_browser, message_texts, new_page, say

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def scroll_to(page: Any, top: int) -> None:
    page.locator(".scroller").evaluate(
        "(s, top) => { s.scrollTop = top; s.dispatchEvent(new Event('scroll')); }", top)


def seed(host: Host, count: int) -> None:
    """Old history, written straight into the host's store before anyone connects."""
    user = {"id": "0123456789abcdef", "name": "Archivist"}
    host.room.store.bulk_append(
        {"type": "message", "ts": f"2024-03-0{1 + i // 60}T09:{i % 60:02d}:00.000Z", "user": user,
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
