"""The real desktop window under Xvfb: hosting rooms one after another from the lobby, saving
shared files, and a room whose host closed it for good."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from server.runner import ServerThread
from server.settings import Settings
from tests.conftest import wait_until
from tests.desktop_helpers import (
    DesktopApp,
    Xvfb,
    answer_hosting_question,
    js_string,
    listening_addresses,
)
from tests.test_desktop import bridge_call, shot
from tests.test_e2e_files import png_bytes

pytestmark = [pytest.mark.desktop, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                      reason="the window tests use Xvfb")]


@pytest.fixture
def launch(tmp_path: Path, xvfb: Xvfb) -> Iterator[type[DesktopApp]]:
    started: list[DesktopApp] = []

    def start(*args: str) -> DesktopApp:
        app = DesktopApp(tmp_path / f"app{len(started)}", xvfb.display, *args)
        started.append(app)
        return app

    yield start  # type: ignore[misc]
    for app in started:
        app.stop()


def text_of(app: DesktopApp) -> str:
    return str(app.eval("document.body.innerText") or "")


def share(port: int, name: str, data: bytes) -> None:
    """Upload a file to a host and post it as Bob's message."""
    base = f"http://127.0.0.1:{port}"
    record = httpx.post(f"{base}/api/files", params={"name": name}, content=data,
                        headers={"Origin": base, "content-type": "application/octet-stream"})
    assert record.status_code == 201, record.text
    with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "name": "Bob", "since": None,
                            "client_id": "bob-" + name.replace(".", "-")}))
        ws.send(json.dumps({"type": "message", "text": "", "file_id": record.json()["id"],
                            "client_msg_id": str(uuid.uuid4())}))
        wait_until(lambda: json.loads(ws.recv(5)).get("type") == "message", what="the echo")


def join_in_window(app: DesktopApp, name: str) -> None:
    wait_until(lambda: app.eval("!!document.getElementById('join-name')"), timeout=20,
               what="the join prompt")
    app.eval(f"(() => {{ const i = document.getElementById('join-name'); i.value = "
             f"{js_string(name)}; i.form.requestSubmit(); return true; }})()")
    wait_until(lambda: app.eval("!!document.querySelector('.conn-online')"), timeout=20,
               what="the window to join")


def test_files_save_to_downloads_and_a_closed_room_offers_the_way_back(
        launch, xvfb: Xvfb, tmp_path: Path) -> None:
    remote = ServerThread(Settings(room="Far room", host="127.0.0.1", port=0,
                                   data_dir=tmp_path / "remote", discovery=False,
                                   host_name="Maya")).start()
    downloads = tmp_path / "saved"
    report = b"quarterly numbers\n" * 5000
    try:
        share(remote.port, "report.pdf", report)
        share(remote.port, "photo.png", png_bytes())
        # No standby in the room: with one, closing the room would hand it over instead
        # (tests/test_desktop_standby_window.py).
        app = launch("--join", f"http://127.0.0.1:{remote.port}/", "--download-dir",
                     str(downloads), "--set", "standby=false")
        app.wait_loaded()
        join_in_window(app, "Ann")
        wait_until(lambda: app.eval("document.querySelectorAll('.file-card a[download]')"
                                    ".length") == 2, timeout=15, what="two file cards")
        app.eval("document.querySelector('a[aria-label=\"Download report.pdf\"]').click(); 1")
        wait_until(lambda: (downloads / "report.pdf").is_file()
                   and (downloads / "report.pdf").read_bytes() == report, timeout=15,
                   what="report.pdf in the downloads folder")
        wait_until(lambda: "Saved “report.pdf” in saved" in text_of(app), timeout=10,
                   what="the page's notice")
        time.sleep(0.3)  # let the notice paint before the screenshot
        shot(xvfb, "desktop-download-saved.png")
        # The image viewer's Download button, twice: the second copy gets its own name.
        for _ in range(2):
            app.eval("document.querySelector('.thumb-btn').click(); 1")
            wait_until(lambda: app.eval("!!document.querySelector('.image-dialog a[download]')"),
                       what="the image viewer")
            app.eval("document.querySelector('.image-dialog a[download]').click(); "
                     "document.querySelector('dialog[open]')?.close(); 1")
        wait_until(lambda: (downloads / "photo (2).png").is_file(), timeout=15,
                   what="both copies of the image")
        assert (downloads / "photo.png").read_bytes() == png_bytes()
        # Downloads pass through Qt's navigation handling: the page keeps its bridge.
        assert bridge_call(app, "lobby_url()") == f"http://127.0.0.1:{app.app_port}/#lobby"

        remote.stop(closing_room=True)  # Maya closes the room for good
        wait_until(lambda: "Maya closed the room at" in text_of(app), timeout=15,
                   what="the closed-room banner")
        assert app.eval("document.getElementById('compose').disabled") is True
        wait_until(lambda: app.eval("(() => { const b = [...document.querySelectorAll("
                                    "'.closed-banner button')].find(x => x.textContent "
                                    "=== 'Back to the lobby'); return !!b && !b.hidden; })()"),
                   what="Back to the lobby in the window")
        time.sleep(0.3)
        shot(xvfb, "desktop-room-closed.png")
        app.eval("[...document.querySelectorAll('.closed-banner button')].find(x => "
                 "x.textContent === 'Save conversation').click(); 1")
        saved = wait_until(lambda: next(iter(downloads.glob("Far room *.txt")), None),
                           timeout=15, what="the saved conversation")
        wait_until(lambda: "Maya closed the room at" in saved.read_text("utf-8"),
                   what="the conversation's text")
        assert "Bob: (shared report.pdf" in saved.read_text("utf-8")
        app.eval("[...document.querySelectorAll('.closed-banner button')].find(x => "
                 "x.textContent === 'Back to the lobby').click(); 1")
        wait_until(lambda: (s := app.try_state()) and s["url"]
                   == f"http://127.0.0.1:{app.app_port}/#lobby", what="the lobby")
    finally:
        remote.stop()


def host_with_form(app: DesktopApp, room: str, password: str) -> None:
    wait_until(lambda: app.eval("!!document.querySelector('#host-password')"), timeout=20,
               what="the lobby's host form")
    app.eval("(() => { const v = (id, x) => { const i = document.getElementById(id); "
             "i.value = x; i.dispatchEvent(new Event('input')); }; v('host-name', 'Maya'); "
             f"v('host-room', {js_string(room)}); v('host-password', {js_string(password)}); "
             "document.getElementById('host-password').form.requestSubmit(); return true; })()")
    answer_hosting_question(app, host=True)  # the app asks; Maya says yes


def room_info(port: int) -> dict[str, object]:
    try:
        return dict(httpx.get(f"http://127.0.0.1:{port}/api/room", timeout=2).json())
    except httpx.HTTPError:
        return {}


def back_to_lobby(app: DesktopApp) -> None:
    wait_until(lambda: app.eval("(() => { const b = document.querySelector('.room-header "
                                "button[aria-label=\"Back to the lobby\"]'); if (!b || b.hidden)"
                                " return false; b.click(); return true; })()"), timeout=20,
               what="the room's way back to the lobby")
    wait_until(lambda: (s := app.try_state()) and str(s["url"]).endswith("#lobby"),
               what="the lobby")


def test_hosting_again_from_the_lobby_makes_a_new_room_and_can_stop(launch, xvfb: Xvfb) -> None:
    app = launch()
    app.wait_loaded()
    port = app.app_port
    host_with_form(app, "Maya's room", "maya-secret")
    wait_until(lambda: room_info(port).get("users") == 1, timeout=20, interval=0.3,
               what="Maya's window in her room")
    maya = room_info(port)
    app.eval("(() => { const t = document.getElementById('compose'); t.value = 'private "
             "plans'; t.form.requestSubmit(); return true; })()")
    wait_until(lambda: app.eval("!!document.querySelector('.msg.own[data-status=delivered]')"),
               what="Maya's message")
    back_to_lobby(app)
    card_text = ("(() => { const c = document.querySelector('.hosting-card'); "
                 "return c && !c.hidden ? c.innerText : ''; })()")
    wait_until(lambda: "You are hosting “Maya's room”" in str(app.eval(card_text)),
               timeout=10, what="the hosting card")
    assert "Stop hosting" in app.eval(card_text) and "Open" in app.eval(card_text)
    time.sleep(0.3)
    shot(xvfb, "desktop-lobby-hosting.png")

    host_with_form(app, "Standup", "")
    wait_until(lambda: room_info(port).get("room") == "Standup"
               and room_info(port).get("users") == 1, timeout=20, interval=0.3,
               what="the Standup room")
    standup = room_info(port)
    assert standup["room_id"] != maya["room_id"] and standup["password"] is False
    events = httpx.get(f"http://127.0.0.1:{port}/api/events").json()["events"]
    assert "private plans" not in json.dumps(events)

    back_to_lobby(app)
    host_with_form(app, "Maya's room", "")  # without its password: refused, said why
    wait_until(lambda: "was hosted with a password" in text_of(app), timeout=15,
               what="the refusal")
    assert room_info(port)["room"] == "Standup"
    time.sleep(0.3)
    shot(xvfb, "desktop-lobby-password-kept.png")

    app.eval("[...document.querySelectorAll('.hosting-card button')].find(b => "
             "b.textContent === 'Stop hosting').click(); 1")
    wait_until(lambda: room_info(port).get("hosting") is False, timeout=15,
               what="hosting to stop")
    assert listening_addresses(port) == {"127.0.0.1"}
    wait_until(lambda: app.eval("!!document.querySelector('#host-password')")
               and app.eval(card_text) == "", timeout=15,
               what="the lobby without the hosting card")
    time.sleep(0.3)
    shot(xvfb, "desktop-lobby-stopped.png")
