"""The lobby in real Chromium against real hosts whose discovery is pinned to 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import chromium_path, need_tool
from tests.e2e_helpers import launch_browser, new_page, shot, wait_connected

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()
PINNED = {"discovery": True, "discovery_interfaces": ("127.0.0.1",)}


def test_a_hosted_room_appears_live_and_joins_in_one_click(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    lobby = make_host(hosting=False, **PINNED)
    _, page, errors = new_page(browser)
    page.goto(lobby.url + "/")
    expect(page.get_by_text("Looking for rooms on your network…")).to_be_visible()
    # In a plain browser hosting is explained, and the first field (the address) has focus.
    expect(page.get_by_text("Hosting a room needs the LAN Chat desktop app.")).to_be_visible()
    expect(page.locator("#join-address")).to_be_focused()

    room = make_host(room="Ada's room", **PINNED)
    row = page.locator(".room-row", has_text="Ada's room")
    expect(row).to_be_visible(timeout=15_000)  # no reload: the stream brings it
    expect(row).to_have_attribute("href", f"http://127.0.0.1:{room.port}/")
    shot(page, "lobby-with-room-desktop-light.png")

    row.click()
    expect(page.locator("#join-title")).to_have_text("Ada's room")
    page.locator("#join-name").fill("Bob")
    page.locator("#join-name").press("Enter")
    wait_connected(page)

    page.goto(lobby.url + "/")
    expect(row).to_be_visible(timeout=15_000)
    room.stop()
    expect(row).to_have_count(0, timeout=15_000)
    expect(page.get_by_text("Looking for rooms on your network…")).to_be_visible()
    assert not errors.real_errors(), errors.real_errors()


def test_join_by_address_accepts_host_and_port(make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    lobby = make_host(hosting=False)
    room = make_host(room="Typed room")
    _, page, _ = new_page(browser)
    page.goto(lobby.url + "/#lobby")
    # Discovery is off on this lobby: it says so rather than pretending to look, and the
    # host form suggests the room name this computer would use.
    expect(page.get_by_text("Not looking for rooms")).to_be_visible()
    expect(page.get_by_text("discovery is turned off")).to_be_visible()
    expect(page.locator("#host-room")).to_have_value("Test room")
    field = page.locator("#join-address")
    field.fill("not an address!")
    field.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("does not look like an address")
    field.fill(f"127.0.0.1:{room.port}")
    field.press("Enter")
    expect(page.locator("#join-title")).to_have_text("Typed room")
