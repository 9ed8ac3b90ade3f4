"""Real Chromium in an encrypted room: joins over HTTPS, chats and shares a file; a plain
``http://`` address never shows the chat.

The host listens on 127.0.0.2 (loopback, but not the 127.0.0.1 the desktop window uses, so plain
HTTP there is answered as from the LAN: with a redirect) with a self-signed certificate, as
every LAN host has. Playwright's ``ignore_https_errors`` is what a person clicking through the
browser's one-time warning ("Advanced" -> "Proceed") amounts to; the page then shows the safety
code to compare, which is the check that click skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.conftest import Host, wait_until
from tests.e2e_helpers import PHONE, launch_browser, new_page, shot, wait_connected
from tests.tls_helpers import cert_fingerprint, make_cert

pytestmark = pytest.mark.e2e

ADDRESS = "127.0.0.2"
PASSWORD = "correct horse battery"


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.fixture
def tls_host(tmp_path: Path) -> Iterator[tuple[Host, str]]:
    cert, key = make_cert(tmp_path, "host")
    host = Host(tmp_path / "data", host=ADDRESS, password=PASSWORD, tls_cert_file=cert,
                tls_key_file=key).start()
    yield host, cert_fingerprint(cert)
    host.stop()


def plain_get(port: int, target: str) -> bytes:
    """What plain HTTP to the room's port answers, byte for byte."""
    with socket.create_connection((ADDRESS, port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {ADDRESS}:{port}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def join_with_password(page: Any, url: str, name: str) -> None:
    page.goto(url)
    page.locator("#join-name").fill(name)
    page.locator("#join-password").fill(PASSWORD)
    page.locator("#join-password").press("Enter")
    wait_connected(page)


def test_chromium_chats_and_shares_a_file_over_https(tls_host, browser, tmp_path: Path) -> None:
    host, fp = tls_host
    https = f"https://{ADDRESS}:{host.port}/"
    with httpx.Client(verify=False) as http:
        info = http.get(https + "api/room").json()
    assert info["fingerprint"] == fp and info["urls"] == [https]

    # Ada types the address without https: she lands on the encrypted room, which shows the
    # safety code and why her browser warned.
    ada_ctx, ada, ada_errors = new_page(browser, ignore_https_errors=True)
    ada.goto(f"http://{ADDRESS}:{host.port}/")
    assert ada.url == https
    note = ada.locator(".join-card .safety-note")
    expect(note.locator(".safety-code")).to_have_text(info["safety_code"])
    expect(note).to_contain_text("not private")
    shot(ada, "tls-join-page.png")
    join_with_password(ada, https, "Ada")
    cookie = next(c for c in ada_ctx.cookies() if c["name"] == "lanchat_session")
    assert cookie["secure"] is True and cookie["httpOnly"] is True

    # "Join from another device" gives the https address and the code to compare.
    ada.get_by_role("button", name=re.compile("^Room address")).click()
    dialog = ada.locator("dialog[open]")
    expect(dialog.locator(".safety-code")).to_have_text(info["safety_code"])
    expect(dialog.locator("input").first).to_have_value(https)
    shot(ada, "tls-address-dialog.png")
    ada.keyboard.press("Escape")

    _, bob, bob_errors = new_page(browser, ignore_https_errors=True, viewport=PHONE)
    join_with_password(bob, https, "Bob")
    expect(bob.locator(".room-header .safety-code")).to_have_text(info["safety_code"])

    ada.locator(".composer textarea").fill("the plans are on the share")
    ada.locator(".composer textarea").press("Enter")
    expect(bob.locator("#messages .msg:not(.own)").last).to_contain_text(
        "the plans are on the share")

    blob = os.urandom(300_000)
    report = tmp_path / "plans.bin"
    report.write_bytes(blob)
    ada.locator('.composer input[type="file"]').set_input_files(str(report))
    card = bob.locator("#messages .msg:not(.own) .file-card")
    expect(card.locator(".file-name")).to_have_text("plans.bin")
    href = card.locator("a[download]").get_attribute("href")
    digest = bob.evaluate("""async (href) => {
        const body = await (await fetch(href)).arrayBuffer();
        const hash = await crypto.subtle.digest('SHA-256', body);
        return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, '0')).join('');
    }""", href)
    assert digest == hashlib.sha256(blob).hexdigest()
    shot(bob, "tls-room-phone.png")
    assert not unexpected(ada_errors) and not unexpected(bob_errors)


def unexpected(errors: Any) -> list[str]:
    """Page errors, less one the browser logs itself: it registers no service worker (the
    offline copy of the page) for an origin whose certificate it was told to let through."""
    sw = "An SSL certificate error occurred when fetching the script"
    return [e for e in errors.real_errors() if sw not in e]


def test_plain_http_to_the_port_never_shows_the_chat(tls_host, browser) -> None:
    host, _ = tls_host
    # Byte for byte: a redirect to the same page over https, and nothing of the room.
    for target in ("/", "/api/room", "/index.html", "/js/main.js"):
        answer = plain_get(host.port, target)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 307 ")
        assert f"location: https://{ADDRESS}:{host.port}{target}".encode() in head
        assert b"<html" not in body.lower() and b"room_id" not in body and b"import" not in body

    # A browser that has not accepted the certificate goes no further than the warning.
    _, page, _ = new_page(browser)
    with pytest.raises(PlaywrightError, match="ERR_CERT"):
        page.goto(f"http://{ADDRESS}:{host.port}/")
    assert page.locator("#join-name, .room-header").count() == 0

    # The WebSocket and the password sign-in are not served in plain text either.
    with socket.create_connection((ADDRESS, host.port), timeout=10) as s:
        body = b'{"password": "' + PASSWORD.encode() + b'"}'
        s.sendall(b"POST /api/login HTTP/1.1\r\nHost: " + f"{ADDRESS}:{host.port}".encode()
                  + b"\r\ncontent-type: application/json\r\ncontent-length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        answer = wait_until(lambda: s.recv(65536), what="the answer to a plain login")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"set-cookie" not in answer.lower()
