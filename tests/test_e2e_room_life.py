"""A room's life in real Chromium, on a phone (390 px) and a wide window (1280 px): the host
closing the room for good, an upload cut by a host restart, and the lobby's hosting card."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host
from tests.e2e_helpers import join, launch_browser, new_page, say, shot
from tests.test_e2e_files import throttle_uploads

pytestmark = pytest.mark.e2e

WIDTHS = {"phone": {"width": 390, "height": 844}, "wide": {"width": 1280, "height": 800}}


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_a_room_closed_by_its_host_says_so_and_can_be_saved(tmp_path: Path, browser: Any,
                                                            size: str) -> None:
    host = Host(tmp_path / "data", host_name="Maya").start()
    try:
        # The phone in the dark theme, the wide window in the light one.
        _, page, errors = new_page(browser, viewport=WIDTHS[size], dark=size == "phone",
                                   timezone_id="UTC", accept_downloads=True)
        join(page, host.url, "Bob")
        say(page, "notes before the end")
        expect(page.locator('.msg.own[data-status="delivered"]')).to_have_count(1)
        host.close_room()
        banner = page.locator(".closed-banner")
        expect(banner).to_contain_text(re.compile(r"Maya closed the room at \d\d:\d\d"))
        expect(page.locator("#compose")).to_be_disabled()
        expect(page.locator(".msg-text")).to_have_text(["notes before the end"])
        expect(page.locator(".conn")).to_have_text("Closed")
        # No "Reconnecting…" countdown and no attempt to reach the closed room.
        page.wait_for_timeout(3500)
        expect(page.locator(".banner")).to_be_hidden()
        expect(banner.get_by_role("button", name="Back to the lobby")).to_be_hidden()  # browser
        shot(page, f"room-closed-{size}.png")
        with page.expect_download() as info:
            banner.get_by_role("button", name="Save conversation").click()
        saved = Path(info.value.path()).read_text("utf-8")
        assert info.value.suggested_filename.startswith("Test room ")
        assert "Bob: notes before the end" in saved and "Maya closed the room at" in saved
        # The same room back (a restart): the page reconnects by itself.
        host.start()
        expect(banner).to_have_count(0, timeout=15_000)
        expect(page.locator(".conn-online")).to_be_visible(timeout=15_000)
        expect(page.locator("#compose")).to_be_enabled()
        assert not errors.real_errors(), errors.real_errors()
    finally:
        host.stop()


def test_an_upload_cut_by_a_host_restart_resumes_where_it_stopped(tmp_path: Path,
                                                                  browser: Any) -> None:
    host = Host(tmp_path / "data").start()
    try:
        _, ada, errors = new_page(browser, viewport=WIDTHS["phone"])
        join(ada, host.url, "Ada")
        data = tmp_path / "plans.zip"
        data.write_bytes(os.urandom(2_000_000))
        offsets: list[int] = []
        ada.on("request", lambda r: offsets.append(int(r.headers.get("upload-offset", -1)))
               if r.method == "PATCH" else None)
        throttle_uploads(ada, 300_000)
        ada.locator('.composer input[type="file"]').set_input_files(str(data))
        bar = ada.locator(".upload .progress")
        expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^([1-9]\d)$"))
        host.stop()
        paused = ada.locator('.upload[data-status="paused"]')
        expect(paused).to_contain_text("The host went away during the upload. It goes on "
                                       "from where it stopped", timeout=15_000)
        assert "HTTP" not in paused.inner_text()
        shot(ada, "upload-paused-phone.png")
        ada.set_viewport_size(WIDTHS["wide"])
        shot(ada, "upload-paused-wide.png")
        kept = sum(p.stat().st_size for p in (tmp_path / "data" / "partial-uploads")
                   .glob("*.part"))
        assert kept > 0
        throttle_uploads(ada, None)
        host.start()
        expect(ada.locator('.msg.own[data-status="delivered"] .file-name')).to_have_text(
            "plans.zip", timeout=30_000)
        # It went on from the host's offset: a second piece began past zero.
        assert offsets[0] == 0 and len(offsets) >= 2 and offsets[-1] >= kept > 0, offsets
        print(f"\nhost kept {kept} of {len(data.read_bytes())} bytes across the restart; "
              f"PATCH offsets {offsets}; sent again after the restart: "
              f"{len(data.read_bytes()) - offsets[-1]} bytes (the whole file before resuming)")
        with host.http() as http:
            events = http.get("/api/events", params={"after": 0}).json()["events"]
            files = [e["file"] for e in events if e["type"] == "message" and e["file"]]
            assert [f["name"] for f in files] == ["plans.zip"]
            assert http.get(files[0]["url"]).content == data.read_bytes()
        assert not errors.real_errors(), errors.real_errors()
    finally:
        host.stop()


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_the_lobby_shows_the_room_this_computer_hosts(tmp_path: Path, browser: Any,
                                                      size: str) -> None:
    host = Host(tmp_path / "data", room="Maya's room").start()
    try:
        _, page, errors = new_page(browser, viewport=WIDTHS[size], dark=size == "phone")
        page.goto(host.url + "/#lobby")
        card = page.locator(".hosting-card")
        expect(card.get_by_role("heading")).to_have_text("“Maya's room” is hosted on this "
                                                        "computer")
        expect(card.get_by_role("link", name="Open")).to_have_attribute("href", "/")
        expect(card.get_by_role("button", name="Stop hosting")).to_be_hidden()  # no desktop
        shot(page, f"lobby-hosting-card-{size}.png")
        card.get_by_role("link", name="Open").click()
        expect(page.locator("#join-name")).to_be_visible()
        assert not errors.real_errors(), errors.real_errors()
    finally:
        host.stop()
