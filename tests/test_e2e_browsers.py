"""The same end-to-end smoke in every engine people use: Chromium, Firefox and WebKit (Safari's).

One scenario, written once against tests/browser_drivers.py: join a real host, send, receive,
upload a file, download one, ride out a host restart (a message typed during the outage goes out
once on reconnect), and a screenshot of the room from each engine. The other person is a real
WebSocket client. In CI a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_drivers import (
    ENTER,
    Driver,
    FirefoxBidi,
    PlaywrightDriver,
    WebKitWebDriver,
    firefox_path,
    webkit_paths,
)
from tests.conftest import Chatter, Host, artifact_path, need_tool, wait_until
from tests.e2e_helpers import launch_browser, new_page

pytestmark = pytest.mark.e2e

ENGINES = ("chromium", "firefox", "webkit")


def open_engine(name: str, request: pytest.FixtureRequest) -> Iterator[Driver]:
    """A fresh browser of engine `name` (its own profile), closed after the test."""
    if name == "chromium":
        for browser in launch_browser():  # needs chromium (skips or fails as need_tool says)
            _, page, _ = new_page(browser)
            driver: Driver = PlaywrightDriver(page)
            yield driver
            driver.close()
        return
    if name == "firefox":
        binary = firefox_path()
        need_tool(binary, "firefox-esr")
        assert binary is not None
        driver = FirefoxBidi(binary)
    else:
        wd, mini = webkit_paths()
        need_tool(wd, "webkit2gtk-driver (WebKitWebDriver)")
        need_tool(mini, "WebKitGTK's MiniBrowser (libwebkit2gtk-4.1-0)")
        assert wd is not None and mini is not None
        driver = WebKitWebDriver(wd, mini, request.getfixturevalue("xvfb").display)
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[Driver]:
    yield from open_engine(request.param, request)


def until_js(driver: Driver, body: str, *args: Any, timeout: float = 15, what: str = "") -> Any:
    """Wait until the page's `body` returns something truthy (the page's state, polled)."""
    return wait_until(lambda: driver.run(body, *args), timeout=timeout, interval=0.05,
                      what=what or body)


def next_message(chatter: Chatter, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The next message event `match` accepts, skipping others (own echoes, joins)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        event = chatter.recv(timeout=max(0.1, deadline - time.monotonic()))
        if event.get("type") == "message" and match(event):
            return event
    raise AssertionError("the expected message did not arrive")


TEXTS = ("return [...document.querySelectorAll('#messages .msg .msg-text')]"
         ".map((n) => n.textContent)")
TAILS_INSIDE = """return [...document.querySelectorAll('.file-name')].every((n) => {
  const tail = n.querySelector('.mid-cut-tail');
  return !tail || tail.getBoundingClientRect().right <= n.getBoundingClientRect().right + 1;
})"""
ONLINE = "return !!document.querySelector('.conn-online')"
FETCH_SHA256 = """
  const link = [...document.querySelectorAll('.file-card')]
    .find((c) => c.querySelector('.file-name')?.textContent === args[0])
    ?.querySelector('a[download]');
  if (!link) return null;
  const bytes = await (await fetch(link.href)).arrayBuffer();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
"""


def test_smoke_join_send_receive_files_and_reconnect(engine: Driver, host: Host,
                                                     tmp_path: Path) -> None:
    started = time.monotonic()
    d = engine
    d.goto(host.url + "/")
    until_js(d, "return !!document.querySelector('#join-name')", what="the join prompt")
    d.screenshot(artifact_path(f"smoke-{d.name}-join.png"))
    d.type_into("#join-name", f"Ada on {d.name}" + ENTER)
    until_js(d, ONLINE, what="the room to connect")

    # Send and receive.
    bob = Chatter(host, "Bob")
    d.type_into("#compose", f"Hello from {d.name}" + ENTER)
    next_message(bob, lambda e: e["text"] == f"Hello from {d.name}")
    # The emptied one-line box has no scrollbar (Firefox showed one: 2 px of border overflow).
    until_js(d, "const t = document.querySelector('#compose');"
             " return t.value === '' && t.scrollHeight <= t.clientHeight", what="a snug composer")
    bob.say("Hi back, long words wrap: " + "x" * 80)
    until_js(d, f"{TEXTS}.some((t) => t.startsWith('Hi back'))", what="Bob's answer")

    # Upload through the page's own file input; Bob gets the same bytes.
    upload = tmp_path / f"notes from {d.name}.bin"
    upload.write_bytes(os.urandom(300_000))
    d.set_files('.composer input[type="file"]', upload)
    shared = next_message(bob, lambda e: bool(e.get("file")))["file"]
    assert shared["name"] == upload.name
    with host.http() as http:
        assert http.get(shared["url"]).content == upload.read_bytes()
        # Download: Bob shares a file, the page fetches it from its card's download link.
        data = os.urandom(120_000)
        meta = http.post("/api/files", files={"file": ("from bob.bin", data)}).json()
    bob.say("", file_id=meta["id"])
    digest = until_js(d, FETCH_SHA256, "from bob.bin", what="the downloaded file")
    assert digest == hashlib.sha256(data).hexdigest()

    # Reconnect: the host restarts; a message typed meanwhile goes out once.
    bob.close()
    host.stop()
    until_js(d, "return !document.querySelector('.banner').hidden", what="the Reconnecting banner")
    d.type_into("#compose", "Typed while the host was away" + ENTER)
    host.start()
    until_js(d, ONLINE, timeout=20, what="the room to reconnect")
    until_js(d, "const own = [...document.querySelectorAll('.msg.own')];"
             " return own.length > 0 && own.every((m) => m.dataset.status === 'delivered')",
             what="every own message delivered")
    with host.http() as http:
        texts = [e.get("text") for e in http.get("/api/events?limit=100").json()["events"]]
    assert texts.count("Typed while the host was away") == 1, texts
    assert d.run(TEXTS).count("Typed while the host was away") == 1
    d.screenshot(artifact_path(f"smoke-{d.name}-desktop.png"))
    # Phone width: 360 px where the engine allows it (MiniBrowser's toolbar stops its window at
    # about 450 px, still inside the phone layout, which starts below 560 px).
    d.resize(360, 740)
    width = until_js(d, "return window.innerWidth < 560 && window.innerWidth",
                     what="a phone layout")
    # A smaller window (a phone's keyboard opening) keeps the newest message in view.
    until_js(d, "const s = document.querySelector('.scroller');"
             " return s.scrollHeight - s.scrollTop - s.clientHeight < 2",
             what="the list at its end")
    # File names keep their ends (the extension) inside their cards on a phone.
    assert d.run(TAILS_INSIDE), "a file name's end is cut off"
    d.screenshot(artifact_path(f"smoke-{d.name}-phone.png"))
    print(f"{d.name}: phone screenshot {width} px wide")
    print(f"{d.name}: smoke took {time.monotonic() - started:.1f} s")


def test_a_missing_browser_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """need_tool, which every engine goes through: skip on a laptop, fail under CI=true."""
    import tests.conftest as conftest

    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception):
        need_tool(None, "firefox-esr")
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        need_tool("/nonexistent/firefox-esr", "firefox-esr")
