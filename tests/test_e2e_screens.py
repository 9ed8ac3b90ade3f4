"""Screenshots of the real UI at desktop and phone widths, light and dark, for a person to
look at; each also checks that the layout does not overflow sideways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool
from tests.e2e_helpers import (
    DESKTOP,
    PHONE,
    join,
    launch_browser,
    new_page,
    say,
    shot,
    wait_in_page,
)
from tests.test_e2e_files import png_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def fill_room(host: Host, browser: Any, tmp_path: Path) -> tuple[Any, Any]:
    _, ada, _ = new_page(browser)
    _, bob, _ = new_page(browser)
    join(ada, host.url, "Ada Lovelace")
    join(bob, host.url, "Bob")
    say(bob, "Morning! Is the projector in room 2 free after lunch?")
    say(bob, "I need it for about an hour.")
    say(ada, "Yes, it is free. The booking sheet is at "
             "http://intranet.example/bookings/2024/projectors/room-2?week=23&view=full")
    picture = tmp_path / "whiteboard.png"
    picture.write_bytes(png_bytes(320, 200))
    bob.locator('.composer input[type="file"]').set_input_files(str(picture))
    notes = tmp_path / "meeting-notes.pdf"
    notes.write_bytes(b"%PDF-1.4\n" + b"0" * 180_000)
    ada.locator('.composer input[type="file"]').set_input_files(str(notes))
    say(bob, "Thanks 🙏 supercalifragilisticexpialidocious_words_without_spaces_must_wrap_too")
    expect(ada.locator("#messages img.thumb")).to_have_count(1)
    expect(ada.locator('#messages .msg.own[data-status="delivered"]')).to_have_count(2)
    wait_in_page(ada, "() => [...document.images].every(i => i.complete && i.naturalWidth)",
                 "every image drawn")
    bob.locator("#compose").type("On my way", delay=350)
    expect(ada.locator(".typing")).to_have_text("Bob is typing…", timeout=8000)
    return ada, bob


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_the_room(host: Host, tmp_path: Path, browser: Any, scheme: str) -> None:
    need_tool(chromium_path(), "chromium")
    ada, _bob = fill_room(host, browser, tmp_path)
    ada.emulate_media(color_scheme=scheme)
    shot(ada, f"room-desktop-{scheme}.png")
    no_sideways_scroll(ada)
    ada.set_viewport_size(PHONE)
    ada.locator("#messages .msg").last.scroll_into_view_if_needed()
    shot(ada, f"room-phone-{scheme}.png")
    no_sideways_scroll(ada)
    ada.get_by_role("button", name="Room address").click()
    expect(ada.locator("dialog[open] img.qr")).to_be_visible()
    wait_in_page(ada, "() => document.querySelector('img.qr').naturalWidth > 0", "the QR code")
    shot(ada, f"room-phone-qr-{scheme}.png")
    ada.keyboard.press("Escape")
    ada.set_viewport_size(DESKTOP)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_the_lobby(make_host: Any, browser: Any, scheme: str) -> None:
    need_tool(chromium_path(), "chromium")
    lobby = make_host(hosting=False, discovery=True, discovery_interfaces=("127.0.0.1",))
    _, page, errors = new_page(browser, dark=scheme == "dark")
    page.goto(lobby.url + "/")
    expect(page.get_by_text("Looking for rooms on your network…")).to_be_visible()
    # After a while the empty state explains itself (the host's own hints, or general advice).
    expect(page.locator(".help:visible, .host-hints:visible").first).to_be_visible(timeout=15_000)
    shot(page, f"lobby-desktop-{scheme}.png")
    no_sideways_scroll(page)
    page.set_viewport_size(PHONE)
    shot(page, f"lobby-phone-{scheme}.png")
    no_sideways_scroll(page)
    assert not errors.real_errors(), errors.real_errors()


def test_screenshot_of_the_join_prompt_on_a_phone(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(room="Design team", password="swordfish")
    _, page, errors = new_page(browser, viewport=PHONE)
    page.goto(host.url + "/")
    expect(page.locator("#join-name")).to_be_focused()
    expect(page.locator("#join-password")).to_be_visible()
    shot(page, "join-phone-light.png")
    no_sideways_scroll(page)
    page.emulate_media(color_scheme="dark")
    shot(page, "join-phone-dark.png")
    assert not errors.real_errors(), errors.real_errors()
