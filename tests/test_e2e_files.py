"""Sharing files between two real Chromium pages: progress, cancel, cards and thumbnails."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import DESKTOP, PHONE, join, launch_browser, new_page, shot

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def png_bytes(width: int = 48, height: int = 32) -> bytes:
    """A small real PNG (a two-colour gradient) made without any imaging library."""
    rows = b"".join(b"\x00" + b"".join(bytes((x * 5 % 256, 90, y * 7 % 256)) for x in range(width))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def throttle_uploads(page: Any, bytes_per_second: int | None) -> None:
    """Slow this page's uploads down (Chromium's own network emulation) so progress is seen."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": bytes_per_second if bytes_per_second else -1})


def test_upload_shows_progress_and_reaches_the_other_page(host: Host, browser: Any,
                                                          tmp_path: Path) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, ada_errors = new_page(browser)
    _, bob, bob_errors = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    report = tmp_path / "quarterly report.bin"
    report.write_bytes(os.urandom(1_200_000))

    throttle_uploads(ada, 400_000)
    ada.locator('.composer input[type="file"]').set_input_files(str(report))
    bar = ada.locator(".upload .progress")
    expect(bar).to_be_visible()
    seen = wait_until(lambda: int(bar.get_attribute("aria-valuenow") or 0) if bar.count() else 0,
                      timeout=15, what="upload progress above 0%")
    assert 0 < seen < 100, seen
    ada.set_viewport_size(PHONE)
    shot(ada, "upload-progress-phone-light.png")
    ada.set_viewport_size(DESKTOP)

    card = bob.locator("#messages .msg:not(.own) .file-card")
    expect(card.locator(".file-name")).to_have_text("quarterly report.bin")
    expect(card.locator(".file-size")).to_have_text("1.1 MB")
    link = card.locator("a[download]")
    href = link.get_attribute("href")
    assert href and href.startswith("/api/files/")
    with host.http() as http:
        assert http.get(href).content == report.read_bytes()
    expect(ada.locator('.msg.own[data-status="delivered"] .file-name')).to_have_text(
        "quarterly report.bin")
    expect(ada.locator(".upload")).to_have_count(0)

    # Cancel: the card goes away and nothing reaches the others.
    ada.locator('.composer input[type="file"]').set_input_files(str(report))
    expect(ada.locator(".upload .progress")).to_be_visible()
    ada.get_by_role("button", name="Cancel uploading quarterly report.bin").click()
    expect(ada.locator(".upload")).to_have_count(0)

    # An image arrives as a thumbnail that opens full size.
    throttle_uploads(ada, None)
    picture = tmp_path / "sunset.png"
    picture.write_bytes(png_bytes())
    ada.locator('.composer input[type="file"]').set_input_files(str(picture))
    thumb = bob.locator("#messages .msg:not(.own) img.thumb")
    expect(thumb).to_be_visible()
    wait_until(lambda: thumb.evaluate("img => img.complete && img.naturalWidth") == 48,
               what="the thumbnail to load")
    assert bob.locator("#messages .msg:not(.own) .file-card").count() == 2
    bob.get_by_role("button", name="Open sunset.png full size").click()
    full = bob.locator("dialog[open] img.full-image")
    expect(full).to_be_visible()
    bob.keyboard.press("Escape")
    expect(bob.locator("dialog[open]")).to_have_count(0)
    assert not ada_errors.real_errors() and not bob_errors.real_errors()


def test_a_file_over_the_limit_says_why(make_host: Any, tmp_path: Path, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(max_upload_bytes=1000)
    _, ada, _ = new_page(browser)
    join(ada, host.url, "Ada")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 5000)
    ada.locator('.composer input[type="file"]').set_input_files(str(big))
    failed = ada.locator('.upload[data-status="failed"]')
    expect(failed).to_contain_text("Too large")
    ada.get_by_role("button", name="Dismiss").click()
    expect(failed).to_have_count(0)


def test_drop_anywhere_and_paste_an_image_share_files(host: Host, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser)
    _, bob, _ = new_page(browser)
    join(ada, host.url, "Ada")
    join(bob, host.url, "Bob")
    png = list(png_bytes())
    # A file dragged over the window shows the drop overlay; dropping it uploads it.
    ada.evaluate("""(bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
        window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
        window.__dt = dt;
    }""", png)
    expect(ada.locator(".drop-overlay")).to_be_visible()
    expect(ada.locator(".drop-overlay")).to_contain_text("Drop files to share them in Test room")
    ada.evaluate("window.dispatchEvent(new DragEvent('drop', { dataTransfer: window.__dt }))")
    expect(ada.locator(".drop-overlay")).to_be_hidden()
    expect(bob.locator("#messages .file-name")).to_have_text(["dropped.png"])

    # An image pasted into the message box is shared too, under a readable name.
    ada.locator("#compose").focus()
    ada.evaluate("""(bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
        document.querySelector('#compose').dispatchEvent(
            new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }""", png)
    names = bob.locator("#messages .file-name")
    expect(names).to_have_count(2)
    assert names.nth(1).inner_text().startswith("pasted-")
    expect(bob.locator("#messages img.thumb")).to_have_count(2)
    assert not errors.real_errors(), errors.real_errors()
