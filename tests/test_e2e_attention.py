"""What draws a person's attention, in real Chromium against a real host: @mentions (completion,
highlight, the title's count), the "new messages" line after a reload, and a moderator removing
a person from the room."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool
from tests.e2e_helpers import PHONE, join, launch_browser, new_page, say, shot, wait_connected

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def go_away(page: Any) -> None:
    """The tab goes to the background (what the browser reports when another tab is in front)."""
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")


def come_back(page: Any) -> None:
    page.evaluate("""() => {
        delete document.hidden;
        document.dispatchEvent(new Event('visibilitychange'));
    }""")


def test_a_mention_completes_highlights_and_counts_in_the_title(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser, viewport=PHONE)
    _, bob, _ = new_page(browser)
    _, bea, _ = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    join(bea, host.url, "Beatrice")
    go_away(bob)
    ada.locator("#compose").focus()
    ada.keyboard.type("lunch? @b")
    options = ada.get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.first).to_have_attribute("aria-selected", "true")
    ada.keyboard.type("o")
    expect(options).to_have_count(1)
    expect(ada.get_by_role("option", name="Bob")).to_have_count(1)
    print(shot(ada, "conv-mention-completion-phone.png"))
    ada.keyboard.press("Enter")
    expect(ada.locator("#compose")).to_have_value("lunch? @Bob ")
    expect(ada.get_by_role("listbox")).to_be_hidden()
    ada.keyboard.type("at noon")
    ada.keyboard.press("Enter")

    said = bob.locator(".msg.mention .msg-text", has_text="lunch? @Bob at noon")
    expect(said).to_be_visible()
    expect(bob).to_have_title("(1 · @1) Test room · LAN Chat")
    say(bea, "not about you")
    expect(bob).to_have_title("(2 · @1) Test room · LAN Chat")
    expect(bea.locator(".msg.mention")).to_have_count(0)
    print(shot(bob, "conv-mention-desktop.png"))
    expect(bob.locator(".conv-list .conv-mention")).to_have_count(1)
    come_back(bob)
    expect(bob).to_have_title("Test room · LAN Chat")
    expect(bob.locator(".conv-list .conv-badge")).to_have_count(0)
    assert not errors.real_errors(), errors.real_errors()


def test_the_new_messages_line_marks_where_you_stopped(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    ada_context, ada, _ = new_page(browser)
    _, bob, _ = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    say(bob, "read this one")
    expect(ada.locator("#messages .msg-text", has_text="read this one")).to_be_visible()
    expect(ada.locator(".unread-line")).to_have_count(0)
    ada.close()
    for text in ("missed one", "missed two", *(f"and more {i}" for i in range(30))):
        say(bob, text)
    expect(bob.locator("#messages .msg-text", has_text="and more 29")).to_be_visible()

    ada = ada_context.new_page()
    ada.goto(host.url + "/")
    wait_connected(ada)
    # More came than fits on the screen: reading starts at the line, not at the bottom.
    line = ada.locator("#messages .unread-line")
    expect(line).to_be_in_viewport()
    expect(ada.locator("#messages .msg-text", has_text="missed two")).to_be_in_viewport()
    expect(ada.locator(".new-pill")).to_be_visible()
    after = ada.locator("#messages .unread-line + .msg .msg-text")
    expect(after).to_have_text("missed one")
    print(shot(ada, "conv-unread-line-desktop.png"))
    ada.set_viewport_size(PHONE)
    print(shot(ada, "conv-unread-line-phone.png"))
    # Nothing new since (once read to the end): the next visit has no line.
    ada.locator(".new-pill").click()
    expect(ada.locator("#messages .msg-text", has_text="and more 29")).to_be_in_viewport()
    ada.reload()
    wait_connected(ada)
    expect(ada.locator("#messages .msg-text", has_text="and more 29")).to_be_visible()
    expect(ada.locator("#messages .unread-line")).to_have_count(0)


def test_a_moderator_signs_in_deletes_and_removes_a_person(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(admin_password="mod secret 42")
    _, mod, errors = new_page(browser)
    _, bob, _ = new_page(browser, viewport=PHONE)
    join(mod, host.url, "Mo")
    join(bob, host.url, "Bob")
    say(bob, "spam spam spam")
    say(bob, "more spam")
    theirs = mod.locator(".msg[data-id]:not(.own)").first
    theirs.hover()
    expect(theirs.get_by_role("button", name="Delete")).to_be_hidden()

    mod.locator(".chip", has_text="online").click()
    expect(mod.get_by_role("button", name="Remove Bob from the room")).to_have_count(0)
    mod.get_by_role("button", name="Sign in as moderator").click()
    mod.locator("#admin-password").fill("a guess")
    mod.keyboard.press("Enter")
    expect(mod.locator("#admin-error")).to_contain_text("not the admin password")
    mod.locator("#admin-password").fill("mod secret 42")
    mod.keyboard.press("Enter")
    expect(mod.locator(".notice-toast")).to_contain_text("moderator")
    wait_connected(mod)

    # A moderator deletes anyone's message.
    theirs.hover()
    theirs.get_by_role("button", name="Delete").click()
    expect(mod.locator("dialog[open]")).to_contain_text("As a moderator")
    mod.keyboard.press("Enter")
    expect(bob.locator("#messages .tombstone")).to_have_count(1)

    mod.locator(".chip", has_text="online").click()
    mod.get_by_role("button", name="Remove Bob from the room").click()
    dialog = mod.locator("dialog[open]")
    expect(dialog).to_contain_text("Remove Bob from the room?")
    print(shot(mod, "conv-remove-dialog-desktop.png"))
    dialog.get_by_role("button", name="Remove Bob").click()
    removed = mod.locator("#messages .notice", has_text="Mo removed Bob from the room for 15 min")
    expect(removed).to_be_visible()
    expect(bob.locator("#join-error")).to_contain_text("removed")
    print(shot(bob, "conv-removed-phone.png"))
    print(shot(mod, "conv-removed-desktop.png"))
    # Back under another name from the same browser: still refused until the time is up.
    bob.locator("#join-name").fill("Robert")
    bob.locator("#join-name").press("Enter")
    expect(bob.locator("#join-error")).to_contain_text("removed")
    expect(bob.locator(".conn-online")).to_have_count(0)
    assert not errors.real_errors(), errors.real_errors()
