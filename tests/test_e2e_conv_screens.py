"""Every part conversations added, on one screen, at phone and desktop width in both themes:
nothing overflows the width, and the screenshots show how it all looks together."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Chatter, Host, chromium_path, need_tool
from tests.e2e_helpers import DESKTOP, PHONE, join, launch_browser, new_page, shot

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_a_conversation_with_every_part_fits_and_reads(host: Host, browser: Any,
                                                       dark: bool) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser, viewport=PHONE, dark=dark)
    join(ada, host.url, "Ada")
    bob = Chatter(host, "Bob Longname-Withoutspaces")
    try:
        ada_id = next(u["id"] for u in bob.welcome["users"] if u["name"] == "Ada")
        bob.say("Does anyone have the projector remote? It was on the shelf by the window "
                "yesterday, next to https://example.invalid/a/very/long/path/that/goes/on")
        first = bob.recv_type("message")["id"]
        bob.say("@Ada could you check the cupboard?")
        bob.say("I found it, sorry", reply_to=first)
        answer = bob.recv_type("message", text="I found it, sorry")["id"]
        bob.send(type="react", target=answer, emoji="🎉", on=True, client_msg_id=str(uuid.uuid4()))
        bob.say("typo here")
        typo = bob.recv_type("message", text="typo here")["id"]
        bob.send(type="edit", target=typo, text="no typo here", client_msg_id=str(uuid.uuid4()))
        bob.say("oops, wrong room")
        gone = bob.recv_type("message", text="oops, wrong room")["id"]
        bob.send(type="delete", target=gone, client_msg_id=str(uuid.uuid4()))
        bob.say("psst", to=ada_id)
        expect(ada.locator("#messages .tombstone")).to_have_count(1)
        expect(ada.locator("#messages .edited-mark")).to_have_count(1)
        expect(ada.locator("#messages .msg.mention")).to_have_count(1)
        expect(ada.locator(".list-btn .list-badge")).to_have_text("1")
        ada.locator(".reaction").click()
        expect(ada.locator(".reaction.mine .reaction-count")).to_have_text("2")
        msg = ada.locator(".msg[data-id]", has=ada.locator(".msg-text", has_text="found it"))
        msg.focus()
        ada.keyboard.press("r")
        expect(ada.locator(".compose-context")).to_be_visible()
        ada.locator("#compose").fill("thanks @B")
        expect(ada.get_by_role("option")).to_have_count(1)
        theme = "dark" if dark else "light"
        for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            ada.set_viewport_size(viewport)
            msg.hover()
            scroller = ada.locator(".scroller")
            wide = scroller.evaluate("s => s.scrollWidth - s.clientWidth")
            assert wide <= 0, f"the list scrolls sideways by {wide} px at {size} width"
            page_wide = ada.evaluate("document.documentElement.scrollWidth - innerWidth")
            assert page_wide <= 0, f"the page is {page_wide} px too wide at {size} width"
            print(shot(ada, f"conv-everything-{size}-{theme}.png"))
        assert not errors.real_errors(), errors.real_errors()
    finally:
        bob.close()
