"""A browser page follows its room to the next host without reloading: after a clean hand-over
(the host stops with a standby present) and after a take-over (the host is lost, and the standby
that never received the last message serves the room). Real hosts, a real standby, real Chromium.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import (
    DESKTOP,
    PHONE,
    join,
    launch_browser,
    message_texts,
    new_page,
    say,
    shot,
    wait_connected,
    wait_kept_offline,
)
from tests.tcp_proxy import Proxy
from tests.test_e2e_files import png_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def successors(host: Host) -> list[str]:
    with host.http() as http:
        return list(http.get("/api/room").json().get("successors") or [])


def stored_texts(host: Host) -> list[str]:
    """The messages with text the host serving the room has stored, in order."""
    with httpx.Client(base_url=host.url, timeout=10) as http:
        res = http.get("/api/events", params={"limit": 200})
        if res.status_code != 200:
            return []
        return [e["text"] for e in res.json()["events"]
                if e.get("type") == "message" and e.get("text")]


def test_the_page_follows_a_handed_over_room_without_reloading(
        make_host: Any, browser: Any, tmp_path: Path) -> None:
    need_tool(chromium_path(), "chromium")
    first = make_host()
    # This standby keeps no shared file's bytes: a file shared before the move is gone after it.
    standby = make_host(standby_url=first.url, standby_files_max_bytes=0)
    wait_until(lambda: successors(first), timeout=15, what="the standby to be a successor")
    _, ada, errors = new_page(browser, viewport=DESKTOP)
    _, bob, bob_errors = new_page(browser, viewport=PHONE)
    join(ada, first.url, "Ada")
    join(bob, first.url, "Bob")
    picture = tmp_path / "sunset.png"
    picture.write_bytes(png_bytes())
    ada.locator('.composer input[type="file"]').set_input_files(str(picture))
    expect(bob.locator("#messages .msg:not(.own) img.thumb")).to_be_visible()
    say(ada, "before the move")
    expect(bob.locator("#messages .msg-text")).to_have_text(["before the move"])
    ada.evaluate("() => { window.sameDocument = true; }")  # a reload would forget it
    # 127.0.0.1 is a secure context: the service worker keeps the app for a reload later.
    wait_kept_offline(ada)

    stopped_at = time.monotonic()
    first.stop()  # the host stops on purpose: it hands the room to its standby first
    address = f"127.0.0.1:{standby.port}"
    for page in (ada, bob):
        expect(page.locator("#messages .notice", has_text=f"The room moved to {address}.")) \
            .to_be_visible(timeout=15_000)
        wait_connected(page)
    print(f"\nhand-over: both pages online at the new host {time.monotonic() - stopped_at:.2f} s "
          "after the host began to stop")
    assert ada.evaluate("() => window.sameDocument === true"), "the page reloaded"
    assert ada.url == first.url + "/"

    # The page talks to the new host: a message, and a file posted across origins.
    say(ada, "after the move")
    expect(bob.locator("#messages .msg-text")).to_have_text(["before the move", "after the move"])
    expect(ada.locator('.msg.own[data-status="delivered"] .msg-text')).to_have_count(2)
    assert stored_texts(standby) == ["before the move", "after the move"]
    report = tmp_path / "minutes.txt"
    report.write_text("minutes of the meeting\n")
    ada.locator('.composer input[type="file"]').set_input_files(str(report))
    fresh = bob.locator("#messages .msg:not(.own) .file-card", has_text="minutes.txt")
    link = fresh.locator("a[download]")
    expect(link).to_be_visible(timeout=10_000)
    assert (link.get_attribute("href") or "").startswith(f"http://{address}/api/files/")
    with bob.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_text() == "minutes of the meeting\n"

    shot(ada, "room-moved-desktop.png")
    shot(bob, "room-moved-phone.png")
    # The picture's bytes stayed with the first host: its name and who shared it, no link.
    gone = bob.locator("#messages .file-card.file-gone")
    expect(gone).to_have_count(1)
    expect(gone.locator(".file-name")).to_have_text("sunset.png")
    expect(gone).to_contain_text("Shared by Ada · no longer available")
    assert gone.locator("a, img, button").count() == 0
    expect(ada.locator("#messages .file-card.file-gone")).to_have_count(1)
    assert message_texts(ada) == ["before the move", "after the move"]

    # Reloaded with its own host gone, the page finds the room where it went.
    ada.reload()
    expect(ada.locator("#messages .notice", has_text=f"The room moved to {address}.")) \
        .to_be_visible(timeout=15_000)
    wait_connected(ada)
    say(ada, "after a reload")
    expect(bob.locator("#messages .msg-text")).to_have_text(
        ["before the move", "after the move", "after a reload"])
    assert stored_texts(standby) == ["before the move", "after the move", "after a reload"]
    assert not errors.real_errors(), errors.real_errors()
    assert not bob_errors.real_errors(), bob_errors.real_errors()


def test_a_message_the_lost_host_took_alone_is_resent_to_the_standby_and_stored_once(
        make_host: Any, browser: Any) -> None:
    need_tool(chromium_path(), "chromium")
    first = make_host()
    link = Proxy(first.port)  # the standby's link to the host: the test cuts it
    try:
        standby = make_host(standby_url=f"http://127.0.0.1:{link.port}")
        wait_until(lambda: successors(first), timeout=15, what="the standby to be a successor")
        _, ada, errors = new_page(browser, viewport=DESKTOP)
        join(ada, first.url, "Ada")
        say(ada, "one")
        expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(1)
        wait_until(lambda: ada.evaluate(
            "() => JSON.parse(localStorage.getItem('lanchat.sent') || '[]').length") == 1,
            what="the sent message to be kept")
        link.blackhole()  # the standby hears nothing more
        say(ada, "two")  # the host takes it: the standby never gets it
        expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(2)
        ada.evaluate("() => { window.sameDocument = true; }")

        link.close()  # the cable between them is cut: the standby will take over
        link.listener.close()
        lost_at = time.monotonic()
        first.stop()  # and the host is gone too (no hand-over: its standby left)
        # Between tries of the lost host, the banner says where the page looks now: at the
        # next host, or reading its copy of the room while it waits to take the room over.
        expect(ada.locator(".banner")).to_contain_text(
            re.compile("Reconnecting to the room’s next host…|Reading the room’s copy on"),
            timeout=10_000)
        shot(ada, "room-next-host-desktop.png")
        expect(ada.locator("#messages .notice",
                           has_text=f"The room moved to 127.0.0.1:{standby.port}.")) \
            .to_be_visible(timeout=30_000)
        print(f"\ntake-over: the page was in the room again {time.monotonic() - lost_at:.2f} s "
              "after the host was lost")
        wait_until(lambda: stored_texts(standby) == ["one", "two"], timeout=15,
                   what="the resent message to be stored at the standby")
        wait_connected(ada)
        expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(2)
        assert message_texts(ada) == ["one", "two"]
        assert ada.evaluate("() => window.sameDocument === true"), "the page reloaded"
        assert stored_texts(standby) == ["one", "two"]  # once each, still
        shot(ada, "room-taken-over-desktop.png")
        assert not errors.real_errors(), errors.real_errors()
    finally:
        link.close()


def test_a_password_room_is_followed_to_a_host_its_cookies_do_not_reach(
        make_host: Any, browser: Any, tmp_path: Path) -> None:
    """The page was served as http://localhost:<port>, the standby is http://127.0.0.1:<port>:
    another site, so the page's session cookie stays behind. The welcome's session token gets
    the page into the new host's room (in the hello) and its history (as a header)."""
    need_tool(chromium_path(), "chromium")
    first = make_host(host="localhost", password="correct horse")
    page_url = f"http://localhost:{first.port}"
    standby = make_host(standby_url=page_url, password="correct horse",
                        standby_files_max_bytes=0)
    wait_until(lambda: successors(first), timeout=15, what="the standby to be a successor")
    _, ada, errors = new_page(browser, viewport=PHONE)
    ada.goto(page_url + "/")
    ada.locator("#join-name").fill("Ada")
    ada.locator("#join-password").fill("correct horse")
    ada.locator("#join-password").press("Enter")
    wait_connected(ada)
    say(ada, "before the move")
    notes = tmp_path / "notes.txt"
    notes.write_text("kept only by the first host\n")
    ada.locator('.composer input[type="file"]').set_input_files(str(notes))
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(2)

    first.stop()
    expect(ada.locator("#messages .notice",
                       has_text=f"The room moved to 127.0.0.1:{standby.port}.")) \
        .to_be_visible(timeout=15_000)
    wait_connected(ada)
    say(ada, "after the move")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(3)
    assert message_texts(ada) == ["before the move", "after the move"]
    # The page read the new host's history across sites with its token (the term changed):
    # that is how it learnt the file stayed with the first host.
    expect(ada.locator("#messages .file-card.file-gone .file-name")).to_have_text("notes.txt")
    token = ada.evaluate("() => document.cookie")
    assert "lanchat_session" not in token  # HttpOnly, and never the page's to send elsewhere
    with httpx.Client(base_url=standby.url, timeout=10) as http:
        assert http.get("/api/events").status_code == 401  # no cookie, no token: nothing
    shot(ada, "room-moved-password-phone.png")
    assert not errors.real_errors(), errors.real_errors()


def test_the_sent_log_resends_what_another_host_took_and_forgets_after_ten_minutes(
        host: Host, browser: Any) -> None:
    """The page's sent log, as a page finds it after its room moved: a message another host
    took a minute ago goes again (once), one from eleven minutes ago is forgotten."""
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser, viewport=DESKTOP)
    join(ada, host.url, "Ada")
    say(ada, "here first")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(1)
    ada.evaluate("""() => {
        const now = Date.now();
        const entry = (cmid, text, ago) => ({ cmid, text, ts: new Date(now - ago).toISOString(),
            state: 'sent', id: 99, host: 'http://127.0.0.1:9', at: now - ago });
        const log = JSON.parse(localStorage.getItem('lanchat.sent') || '[]');
        localStorage.setItem('lanchat.sent', JSON.stringify([...log,
            entry('6b1d1f52-0d8c-4a8e-9a51-2a3c2f1e0a01', 'a minute ago elsewhere', 60000),
            entry('6b1d1f52-0d8c-4a8e-9a51-2a3c2f1e0a02', 'eleven minutes ago', 660000)]));
    }""")
    ada.reload()
    wait_connected(ada)
    wait_until(lambda: stored_texts(host) == ["here first", "a minute ago elsewhere"],
               what="the logged message to be sent again")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(2)
    log = ada.evaluate("() => JSON.parse(localStorage.getItem('lanchat.sent'))")
    # This host took the two it showed; the resent one leaves the log (a second host has it).
    assert [e["text"] for e in log] == ["here first"], log
    ada.reload()
    wait_connected(ada)
    assert stored_texts(host) == ["here first", "a minute ago elsewhere"]
    assert message_texts(ada) == ["here first", "a minute ago elsewhere"]
    assert not errors.real_errors(), errors.real_errors()
