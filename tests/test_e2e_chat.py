"""Two real Chromium pages chatting through a real host: delivery, safety, reload and resume."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool
from tests.e2e_helpers import join, launch_browser, message_texts, new_page, say, wait_connected

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def test_two_pages_chat_with_each_other(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, ada_errors = new_page(browser)
    _, bob, bob_errors = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")

    say(ada, "Hello Bob, see https://example.invalid/a_very_long_path_" + "x" * 120)
    got = bob.locator("#messages .msg:not(.own) .msg-text", has_text="Hello Bob")
    expect(got).to_be_visible()
    expect(got.locator("a")).to_have_attribute("rel", "noopener noreferrer")
    expect(bob.locator("#messages .msg:not(.own) .msg-author")).to_have_text("Ada")
    expect(ada.locator('#messages .msg.own[data-status="delivered"]')).to_have_count(1)

    # Shift+Enter makes a new line, Enter sends; the other side sees both lines in one message.
    box = bob.locator("#compose")
    box.type("Hi Ada")
    box.press("Shift+Enter")
    box.type("second line")
    expect(ada.locator(".typing")).to_have_text("Bob is typing…")
    box.press("Enter")
    expect(ada.locator("#messages .msg:not(.own) .msg-text", has_text="second line")).to_have_text(
        "Hi Ada\nsecond line")
    expect(ada.locator(".typing")).to_have_text("")
    # A second message in a row from Bob is grouped under the first one's name.
    say(bob, "and a third")
    expect(ada.locator("#messages .msg.grouped:not(.own) .msg-text")).to_have_text("and a third")

    expect(ada.locator(".chip-count")).to_have_text("2")
    ada.locator(".chip", has_text="online").click()
    dialog = ada.locator("dialog[open]")
    expect(dialog.locator(".people li")).to_have_count(2)
    ada.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    assert message_texts(ada) == message_texts(bob)
    assert not ada_errors.real_errors() and not bob_errors.real_errors()


def test_markup_in_messages_and_names_stays_text(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    payload = "<img src=x onerror=alert(1)>"
    _, mallory, _ = new_page(browser)
    _, ada, ada_errors = new_page(browser)
    join(ada, host.url, "Ada")
    join(mallory, host.url, payload)
    say(mallory, payload)
    say(mallory, "<script>alert(2)</script><b>bold</b>")

    expect(ada.locator("#messages .msg-text", has_text=payload)).to_have_text(payload)
    expect(ada.locator("#messages .msg-author").first).to_have_text(payload)
    expect(ada.locator("#messages .notice", has_text="joined").last).to_contain_text(payload)
    expect(ada.locator("#messages .msg-text").last).to_have_text(
        "<script>alert(2)</script><b>bold</b>")
    ada.locator(".chip", has_text="online").click()
    expect(ada.locator("dialog[open] .people")).to_contain_text(payload)
    ada.keyboard.press("Escape")

    for page in (ada, mallory):
        assert page.locator("img").count() == 0
        assert page.locator("#messages script, #messages b").count() == 0
    assert ada_errors.dialogs == []
    assert not ada_errors.real_errors()


def test_reload_keeps_the_name_and_resumes_without_duplicates(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser)
    _, bob, _ = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    for text in ("one", "two"):
        say(ada, text)
    # Each one stored before the next person speaks, so the order below is the room's order.
    expect(ada.locator('#messages .msg.own[data-status="delivered"]')).to_have_count(2)
    say(bob, "three")
    expect(ada.locator("#messages .msg-text")).to_have_count(3)

    hellos: list[str] = []
    ada.on("websocket", lambda ws: ws.on("framesent", lambda f: hellos.append(
        f if isinstance(f, str) else f.get("payload", "")) if "hello" in str(f) else None))
    ada.reload()
    # No join prompt: the name is remembered and the room resumes from the cached history.
    expect(ada.locator("#join-name")).to_have_count(0)
    wait_connected(ada)
    assert hellos and '"since":' in hellos[0] and '"since":null' not in hellos[0]
    assert '"name":"Ada"' in hellos[0]

    say(bob, "four")
    expect(bob.locator('#messages .msg.own[data-status="delivered"] .msg-text',
                       has_text="four")).to_have_count(1)
    say(ada, "five")
    expect(ada.locator('#messages .msg.own[data-status="delivered"] .msg-text',
                       has_text="five")).to_have_count(1)
    expect(bob.locator("#messages .msg-text", has_text="five")).to_have_count(1)
    assert message_texts(ada) == ["one", "two", "three", "four", "five"]
    assert message_texts(bob) == ["one", "two", "three", "four", "five"]
    assert not errors.real_errors()


def test_a_room_with_a_password_asks_for_it_once(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(password="open sesame")
    _, ada, errors = new_page(browser)
    ada.goto(host.url + "/")
    ada.locator("#join-name").fill("Ada")
    ada.locator("#join-password").fill("guess")
    ada.locator("#join-password").press("Enter")
    expect(ada.locator("#join-error")).to_contain_text("Wrong password")
    expect(ada.locator("#join-password")).to_be_focused()
    ada.locator("#join-password").fill("open sesame")
    ada.locator("#join-password").press("Enter")
    wait_connected(ada)
    say(ada, "inside")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(1)
    ada.reload()  # the host's session cookie lets the page straight back in
    wait_connected(ada)
    assert message_texts(ada) == ["inside"]
    assert not [e for e in errors.real_errors() if "401" not in e]


def test_the_room_works_from_the_keyboard_alone(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser)
    ada.goto(host.url + "/")
    expect(ada.locator("#join-name")).to_be_focused()
    ada.keyboard.type("Ada")
    ada.keyboard.press("Enter")
    wait_connected(ada)
    expect(ada.locator("#compose")).to_be_focused()
    ada.keyboard.type("typed, not clicked")
    ada.keyboard.press("Enter")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(1)

    # Tab to the room address, open its dialog, close it with Escape: focus comes back.
    address = ada.get_by_role("button", name="Room address")
    for _ in range(12):
        ada.keyboard.press("Shift+Tab")
        if address.evaluate("el => el === document.activeElement"):
            break
    expect(address).to_be_focused()
    assert address.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    ada.keyboard.press("Enter")
    dialog = ada.locator("dialog[open]")
    expect(dialog).to_contain_text("Join from another device")
    expect(dialog.locator("img.qr")).to_be_visible()
    ada.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(address).to_be_focused()
    assert not errors.real_errors(), errors.real_errors()
