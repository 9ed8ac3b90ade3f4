"""The desktop window pins rooms' certificates (desktop/pinning.py), in a real window under Xvfb.

A man in the middle is a TLS proxy with a certificate of its own in front of a real host
(tests/tls_helpers.TlsMitm). The window must refuse it, and say why, both for a room picked
from the lobby (its advertisement carried the real fingerprint) and for a room it joined before
by address (remembered room id -> fingerprint). Everything runs on 127.0.0.1; zeroconf is
pinned to loopback.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from zeroconf.asyncio import AsyncZeroconf

from server.discovery import Advertiser
from server.runner import ServerThread
from server.settings import Settings
from server.tls import safety_code
from tests.conftest import artifact_path, wait_until
from tests.desktop_helpers import DesktopApp, Xvfb, answer_question, question_windows
from tests.tls_helpers import TlsMitm, cert_fingerprint, make_cert, served_fingerprint

pytestmark = [pytest.mark.desktop, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                      reason="the window tests use Xvfb")]

JOIN_QUESTION = "compare the safety code"


@pytest.fixture
def launch(tmp_path: Path, xvfb: Xvfb) -> Iterator[Any]:
    started: list[DesktopApp] = []

    def start(*args: str, discovery: bool = False) -> DesktopApp:
        app = DesktopApp(tmp_path / f"app{len(started)}", xvfb.display, *args,
                         discovery=discovery)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def tls_host(tmp_path: Path) -> Iterator[tuple[ServerThread, str]]:
    """A real host serving TLS on loopback with its own certificate; and its fingerprint."""
    cert, key = make_cert(tmp_path, "host")
    host = ServerThread(Settings(room="Far room", host="127.0.0.1", port=0,
                                 data_dir=tmp_path / "far", discovery=False,
                                 tls_cert_file=cert, tls_key_file=key)).start()
    try:
        yield host, cert_fingerprint(cert)
    finally:
        host.stop()


@pytest.fixture
def mitm(tmp_path: Path, tls_host: tuple[ServerThread, str]) -> Iterator[TlsMitm]:
    cert, key = make_cert(tmp_path, "mallory")
    proxy = TlsMitm(tls_host[0].port, cert, key)
    yield proxy
    proxy.stop()


def shot(xvfb: Xvfb, name: str) -> Path:
    """The screen once the window has painted what the page already shows (not a wait for
    any condition: those are checked before)."""
    time.sleep(1.0)
    return xvfb.screenshot(artifact_path(name))


def refusal_text(app: DesktopApp) -> str:
    return str(app.eval("(() => { const r = document.querySelector('.refusal');"
                        " return r && !r.hidden ? r.textContent : ''; })()") or "")


def join_as(app: DesktopApp, host: ServerThread, name: str) -> None:
    """Submit the room's join prompt until the host counts someone in (over WSS)."""
    def joined() -> bool:
        if host.app.state.room.hub.users:
            return True
        app.eval("(() => { const f = document.querySelector('form'); const i = f && "
                 f"f.querySelector('input[name=name]'); if (i && !i.value) i.value = '{name}'; "
                 "if (f) f.requestSubmit(); return true; })()")
        return False

    wait_until(joined, timeout=30, interval=0.5, what="the window to join over WSS")


def test_a_remembered_room_behind_another_certificate_is_refused(launch, xvfb, tls_host,
                                                                  mitm) -> None:
    host, fp = tls_host
    app = launch("--join", f"https://127.0.0.1:{host.port}/")
    # First visit by address: the person is shown the safety code, and agrees.
    wait_until(lambda: question_windows(xvfb.display, JOIN_QUESTION), timeout=30,
               what="the first-visit question")
    shot(xvfb, "desktop-tls-first-visit.png")
    answer_question(app, JOIN_QUESTION, "alt+j")
    wait_until(lambda: app.eval("location.href") == f"https://127.0.0.1:{host.port}/",
               timeout=20, what="the room to load over https")
    join_as(app, host, "Ann")
    pins = json.loads((app.home / "config" / "LANChat" / "pins.json").read_text())
    assert pins[host.app.state.room.store.room_id]["fp"] == fp

    # The same room, now behind Mallory's proxy: refused, with both codes, nothing asked.
    app.eval(f"location.href = 'https://127.0.0.1:{mitm.port}/'; 1")
    text = wait_until(lambda: refusal_text(app), timeout=20, what="the refusal in the lobby")
    assert app.eval("location.href") == f"http://127.0.0.1:{app.app_port}/?refused=1#lobby"
    assert "was joined before" in text and safety_code(fp) in text
    assert safety_code(mitm_fp(mitm)) in text
    shot(xvfb, "desktop-tls-mitm-remembered.png")
    assert b"LANChatDesktop" not in mitm.seen, "the window talked through the proxy"


def mitm_fp(mitm: TlsMitm) -> str:
    return served_fingerprint("127.0.0.1", mitm.port)


class FakeAdvertisements:
    """Rooms announced on loopback as the LAN would see them: each with the real host's
    fingerprint, one at the real host's port and one where the proxy sits (traffic diverted)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-advertise",
                                       daemon=True)
        self.thread.start()
        self.azc: AsyncZeroconf | None = None
        self.ads: list[Advertiser] = []

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(20)

    def add(self, room: str, port: int, fp: str) -> None:
        async def go() -> None:
            if self.azc is None:
                self.azc = AsyncZeroconf(interfaces=["127.0.0.1"])
            ad = Advertiser(self.azc, room=room, room_id=uuid.uuid4().hex, port=port,
                            addresses=["127.0.0.1"], machine="far-machine", fingerprint=fp)
            await ad.async_start()
            self.ads.append(ad)
        self.run(go())

    def close(self) -> None:
        async def go() -> None:
            for ad in self.ads:
                await ad.async_close()
            if self.azc is not None:
                await self.azc.async_close()
        self.run(go())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def test_a_lobby_room_is_opened_only_with_its_advertised_certificate(launch, xvfb, tls_host,
                                                                      mitm) -> None:
    host, fp = tls_host
    ads = FakeAdvertisements()
    try:
        ads.add("Diverted room", mitm.port, fp)
        ads.add("Far room", host.port, fp)
        app = launch(discovery=True)
        app.wait_loaded()

        def listed() -> list[dict[str, Any]]:
            peers = httpx.get(f"http://127.0.0.1:{app.app_port}/api/peers").json()["peers"]
            return [p for p in peers if p["name"] in ("Diverted room", "Far room")]

        rooms = wait_until(lambda: len(listed()) == 2 and listed(), timeout=30,
                           what="both rooms in the lobby")
        assert all(p["url"].startswith("https://") and p["fingerprint"] == fp for p in rooms)
        wait_until(lambda: app.eval("document.querySelectorAll('a.room-row').length") == 2,
                   timeout=15, what="the lobby's room rows")
        app.eval(f"document.querySelector('a.room-row[data-url=\"https://127.0.0.1:{mitm.port}/\"]')"
                 ".click(); 1")
        text = wait_until(lambda: refusal_text(app), timeout=20, what="the refusal")
        assert "announced itself on your network" in text and safety_code(fp) in text
        assert safety_code(mitm_fp(mitm)) in text
        shot(xvfb, "desktop-tls-mitm-lobby.png")
        assert b"LANChatDesktop" not in mitm.seen

        # The genuine room, picked from the lobby, opens without any question.
        wait_until(lambda: app.eval("document.querySelectorAll('a.room-row').length") == 2,
                   timeout=15, what="the lobby's room rows again")
        app.eval(f"document.querySelector('a.room-row[data-url=\"https://127.0.0.1:{host.port}/\"]')"
                 ".click(); 1")
        wait_until(lambda: app.eval("location.href") == f"https://127.0.0.1:{host.port}/",
                   timeout=20, what="the genuine room to load")
        join_as(app, host, "Ann")
    finally:
        ads.close()
