"""Conversations in real Chromium against a real host: private messages, replies, edits,
deletes and reactions, from the mouse and from the keyboard alone, at desktop and phone width."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Chatter, Host, chromium_path, need_tool
from tests.e2e_helpers import PHONE, join, launch_browser, new_page, say, shot

pytestmark = pytest.mark.e2e

FAST = {"messages_per_second": 1000.0, "message_burst": 1000}


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def frames_seen(page: Any) -> list[str]:
    """Every WebSocket frame the page receives, as text, from now on."""
    seen: list[str] = []

    def on_ws(ws: Any) -> None:
        ws.on("framereceived", lambda f: seen.append(f if isinstance(f, str) else str(f)))

    page.on("websocket", on_ws)
    return seen


def message_privately(page: Any, name: str) -> None:
    page.locator(".chip", has_text="online").first.click()
    page.get_by_role("button", name=f"Message privately: {name}").click()
    expect(page.locator(".conv-head")).to_contain_text(f"Private with {name}")


def tab_to(page: Any, locator: Any, backwards: bool = True, presses: int = 20) -> None:
    """Move the focus with Tab (or Shift+Tab) until `locator` has it."""
    for _ in range(presses):
        if locator.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    expect(locator).to_be_focused()


def test_a_private_conversation_reaches_only_its_two_people(host: Host, browser: Any,
                                                           tmp_path: Path) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, ada_errors = new_page(browser)
    _, bob, bob_errors = new_page(browser, viewport=PHONE)
    _, cy, cy_errors = new_page(browser, dark=True)
    cy_frames = frames_seen(cy)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    join(cy, host.url, "Cy")
    say(ada, "hello room")
    expect(cy.locator("#messages .msg-text", has_text="hello room")).to_be_visible()

    message_privately(ada, "Bob")
    expect(ada.locator("#compose")).to_have_attribute("placeholder", "Message Bob privately")
    say(ada, "just between us")
    expect(ada.locator('.msg.own[data-status="delivered"] .msg-text',
                       has_text="just between us")).to_be_visible()
    expect(ada.locator("#messages .msg-text", has_text="hello room")).to_have_count(0)

    # Bob, on a phone, sees the unread count on the conversations button, then in the list.
    expect(bob.locator(".list-btn .list-badge")).to_have_text("1")
    bob.locator(".list-btn").click()
    row = bob.locator(".conv-list button.conv", has_text="Ada")
    expect(row.locator(".conv-badge")).to_have_text("1")
    print(shot(bob, "conv-private-list-phone.png"))
    row.click()
    expect(bob.locator("#messages .msg-text", has_text="just between us")).to_be_visible()
    expect(bob.locator("#messages .msg-text", has_text="hello room")).to_have_count(0)
    say(bob, "agreed, privately")
    expect(ada.locator("#messages .msg-text", has_text="agreed, privately")).to_be_visible()
    # A file shared in the private conversation goes to Bob alone, and only the two download it.
    plan = tmp_path / "private-plan.txt"
    plan.write_text("the private plan")
    ada.locator('.composer input[type="file"]').set_input_files(str(plan))
    card = bob.locator("#messages .msg:not(.own) .file-card", has_text="private-plan.txt")
    expect(card).to_be_visible()
    file_url = card.locator("a[download]").get_attribute("href") or ""
    assert bob.evaluate("u => fetch(u).then(r => r.text())", file_url) == "the private plan"
    print(shot(ada, "conv-private-desktop.png"))
    print(shot(bob, "conv-private-phone.png"))

    # Anything the host sent Cy after this room message was sent after the private ones.
    ada.locator(".conv-list button.conv").first.click()
    say(ada, "back in the room")
    expect(cy.locator("#messages .msg-text", has_text="back in the room")).to_be_visible()
    expect(cy.locator(".conv-list .conv")).to_have_count(1)
    cy.reload()
    expect(cy.locator("#messages .msg-text", has_text="back in the room")).to_be_visible()
    print(shot(cy, "conv-third-person-dark.png"))
    for secret in ("just between us", "agreed, privately", "private-plan"):
        assert secret not in cy.content()
        assert not [f for f in cy_frames if secret in f]
    # The history pages know Cy by the page's cookie too.
    page = cy.evaluate("fetch('/api/events?limit=500').then(r => r.text())")
    assert "just between us" not in page and "hello room" in page
    assert "private-plan" not in page
    assert cy.evaluate("u => fetch(u).then(r => r.status)", file_url) == 404
    # From a room message, the keyboard opens a private conversation with its author (P).
    said = cy.locator(".msg[data-id]", has=cy.locator(".msg-text", has_text="back in the room"))
    said.focus()
    expect(said.get_by_role("button", name="Message privately")).to_be_visible()
    cy.keyboard.press("p")
    expect(cy.locator(".conv-head")).to_contain_text("Private with Ada")
    expect(cy.locator("#compose")).to_be_focused()
    for errors in (ada_errors, bob_errors, cy_errors):
        assert not errors.real_errors(), errors.real_errors()


def test_a_reply_quotes_the_original_and_jumps_to_it_even_unloaded(make_host: Any,
                                                                   browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(**FAST)
    ada = Chatter(host, "Ada")
    try:
        ada.say("the original question")
        original = ada.recv_type("message", text="the original question")["id"]
        for i in range(160):
            ada.say(f"filler {i}")
        ada.recv_type("message", text="filler 159")
        _, bob, errors = new_page(browser)
        join(bob, host.url, "Bob")
        expect(bob.locator("#messages .msg-text", has_text="filler 159")).to_be_visible()
        assert bob.locator(f'.msg[data-id="{original}"]').count() == 0

        ada.say("the answer", reply_to=original)
        answer = bob.locator(".msg", has=bob.locator(".msg-text", has_text="the answer"))
        quote = answer.locator(".reply-quote")
        expect(quote).to_contain_text("Ada")
        expect(quote).to_contain_text("the original question")
        print(shot(bob, "conv-reply-quote-desktop.png"))
        quote.click()
        target = bob.locator(f'.msg[data-id="{original}"]')
        expect(target).to_be_in_viewport()
        expect(target).to_be_focused()

        # Keyboard alone: from the composer back to the list, up to a message, R, type, Enter.
        bob.locator("#compose").focus()
        tab_to(bob, bob.locator(".scroller"))
        bob.keyboard.press("ArrowUp")
        last = bob.locator(".msg[data-id]").last
        expect(last).to_be_focused()
        expect(last.locator(".msg-actions")).to_be_visible()
        answered = int(last.get_attribute("data-id") or 0)
        bob.keyboard.press("r")
        expect(bob.locator(".compose-context")).to_contain_text("Replying to Ada")
        expect(bob.locator("#compose")).to_be_focused()
        bob.keyboard.type("answered by keys")
        bob.keyboard.press("Enter")
        got = ada.recv_type("message", text="answered by keys")
        assert got["reply_to"]["id"] == answered
        mine = bob.locator(".msg.own", has=bob.locator(".msg-text", has_text="answered by keys"))
        expect(mine.locator(".reply-quote")).to_contain_text("the answer")
        expect(bob.locator(".compose-context")).to_be_hidden()
        bob.set_viewport_size(PHONE)
        print(shot(bob, "conv-reply-phone.png"))
        assert not errors.real_errors(), errors.real_errors()
    finally:
        ada.close()


def test_edit_and_delete_your_own_message_with_the_keyboard(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser, viewport=PHONE)
    _, bob, _ = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    say(bob, "Bob was here")
    ada.locator("#compose").focus()
    ada.keyboard.type("helo wrld")
    ada.keyboard.press("Enter")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(1)

    # Arrow up in the empty composer edits the last message of mine.
    ada.keyboard.press("ArrowUp")
    expect(ada.locator(".compose-context")).to_contain_text("Editing your message")
    expect(ada.locator("#compose")).to_have_value("helo wrld")
    ada.keyboard.press("ControlOrMeta+a")
    ada.keyboard.type("hello world")
    print(shot(ada, "conv-editing-phone.png"))
    ada.keyboard.press("Enter")
    edited = bob.locator("#messages .msg-text", has_text="hello world")
    expect(edited).to_contain_text("(edited)")
    expect(ada.locator("#messages .msg.own .msg-text")).to_contain_text("hello world")
    expect(ada.locator("#compose")).to_have_value("")
    print(shot(bob, "conv-edited-desktop.png"))

    # Someone else's message offers neither edit nor delete.
    tab_to(ada, ada.locator(".scroller"))
    ada.keyboard.press("ArrowUp")
    ada.keyboard.press("ArrowUp")
    theirs = ada.locator(".msg[data-id]:not(.own)")
    expect(theirs).to_be_focused()
    expect(theirs.get_by_role("button", name="Edit")).to_be_hidden()
    ada.keyboard.press("Delete")
    expect(ada.locator("dialog[open]")).to_have_count(0)

    ada.keyboard.press("ArrowDown")
    expect(ada.locator(".msg[data-id].own")).to_be_focused()
    ada.keyboard.press("Delete")
    dialog = ada.locator("dialog[open]")
    expect(dialog).to_contain_text("Delete this message?")
    expect(dialog.get_by_role("button", name="Delete")).to_be_focused()
    ada.keyboard.press("Enter")
    expect(bob.locator("#messages .tombstone")).to_have_text("Message deleted")
    expect(bob.locator("#messages .msg-text", has_text="hello world")).to_have_count(0)
    expect(ada.locator("#messages .tombstone")).to_have_count(1)
    print(shot(ada, "conv-deleted-phone.png"))
    bob.reload()
    expect(bob.locator("#messages .tombstone")).to_have_count(1)
    assert "hello world" not in bob.content() and "helo wrld" not in bob.content()
    assert not errors.real_errors(), errors.real_errors()


def test_reactions_count_live_on_every_page(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser)
    _, bob, _ = new_page(browser, viewport=PHONE, dark=True)
    _, cy, _ = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    join(cy, host.url, "Cy")
    say(cy, "lunch at noon?")
    msg = ada.locator(".msg[data-id]", has=ada.locator(".msg-text", has_text="lunch"))
    msg.hover()
    msg.get_by_role("button", name="Add a reaction").click()
    ada.get_by_role("button", name="React with 👍").click()

    # Bob with the keyboard: to the message, + opens the picker, Enter picks the first.
    bob.locator("#compose").focus()
    tab_to(bob, bob.locator(".scroller"))
    bob.keyboard.press("ArrowUp")
    bob.keyboard.press("+")
    expect(bob.get_by_role("button", name="React with 👍")).to_be_focused()
    bob.keyboard.press("Enter")

    chip = cy.locator(".reaction", has_text="👍")
    expect(chip.locator(".reaction-count")).to_have_text("2")
    expect(chip).to_have_attribute("title", "Ada, Bob")
    expect(chip).to_have_attribute("aria-pressed", "false")
    print(shot(cy, "conv-reactions-desktop.png"))
    print(shot(bob, "conv-reactions-phone-dark.png"))
    mine = ada.locator(".reaction", has_text="👍")
    expect(mine).to_have_attribute("aria-pressed", "true")
    mine.click()
    expect(chip.locator(".reaction-count")).to_have_text("1")
    expect(chip).to_have_attribute("title", "Bob")
    cy.locator(".reaction", has_text="👍").click()
    expect(bob.locator(".reaction", has_text="👍").locator(".reaction-count")).to_have_text("2")
    assert not errors.real_errors(), errors.real_errors()


def test_search_finds_and_jumps_to_a_message_not_loaded(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(**FAST)
    cy = Chatter(host, "Cy")
    try:
        cy.say("bananas are yellow, see the plan")
        target = cy.recv_type("message")["id"]
        for i in range(120):
            cy.say(f"noise {i}")
        cy.recv_type("message", text="noise 119")
        _, ada, errors = new_page(browser)
        join(ada, host.url, "Ada")
        expect(ada.locator("#messages .msg-text", has_text="noise 119")).to_be_visible()
        ada.keyboard.press("ControlOrMeta+k")
        field = ada.locator("#search-q")
        expect(field).to_be_focused()
        ada.keyboard.type("banana")
        hit = ada.locator(".search-hit")
        expect(hit).to_have_count(1)
        expect(hit.locator("mark")).to_have_text("banana")
        print(shot(ada, "conv-search-desktop.png"))
        ada.keyboard.press("Enter")
        expect(ada.locator("dialog[open]")).to_have_count(0)
        found = ada.locator(f'.msg[data-id="{target}"]')
        expect(found).to_be_in_viewport()
        expect(found).to_be_focused()
        ada.set_viewport_size(PHONE)
        ada.get_by_role("button", name="Search messages").click()
        ada.keyboard.type("noise 7")
        expect(ada.locator(".search-hit").first).to_be_visible()
        print(shot(ada, "conv-search-phone.png"))
        assert not errors.real_errors(), errors.real_errors()
    finally:
        cy.close()
