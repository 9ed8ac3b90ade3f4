"""Real Chromium for the end-to-end tests: a browser per test (so nothing outlives it), a fresh
context (its own storage) per page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.conftest import ROOT, artifact_path, chromium_path, need_tool, wait_until

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


class PageErrors:
    """Collects what a page must never do: throw, log errors, or open a dialog."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: self.errors.append(f"console: {msg.text}")
                if msg.type == "error" else None)

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def real_errors(self) -> list[str]:
        # A refused connection while the host is down is expected in the offline tests.
        expected = ("ERR_CONNECTION_REFUSED", "WebSocket connection to", "ERR_FAILED",
                    "Failed to load resource", "ERR_INTERNET_DISCONNECTED")
        return [e for e in self.errors if not any(x in e for x in expected)]


def launch_browser() -> Iterator[Any]:
    """Body of each e2e module's ``browser`` fixture: Debian's Chromium, headless, closed after."""
    need_tool(chromium_path(), "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:  # Playwright gives each launch a fresh profile folder
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                               headless=True)
        yield b
        b.close()


def new_page(browser: Any, *, viewport: dict[str, int] = DESKTOP, dark: bool = False,
             **context_kw: Any) -> tuple[Any, Any, PageErrors]:
    """A page in its own context (its own storage): one per person in the chat."""
    context = browser.new_context(viewport=viewport, color_scheme="dark" if dark else "light",
                                  **context_kw)
    context.set_default_timeout(15_000)
    page = context.new_page()
    return context, page, PageErrors(page)


def join(page: Any, url: str, name: str) -> None:
    """Open a room and join it under `name`, then wait for the live connection."""
    page.goto(url + "/")
    page.locator("#join-name").fill(name)
    page.locator("#join-name").press("Enter")
    wait_connected(page)


def wait_in_page(page: Any, predicate: str, what: str, timeout: float = 15.0) -> None:
    """Wait until the JavaScript function ``predicate`` returns something truthy in ``page``,
    polled from the test over the DevTools channel. Playwright's own ``wait_for_function``
    polls by evaluating the predicate inside the page, which the app's Content-Security-Policy
    (no eval) refuses whenever the first check is not already true."""
    wait_until(lambda: page.evaluate(predicate), timeout=timeout, interval=0.05, what=what)


_CACHE_NAME = re.search(r"const CACHE = '([\w.-]+)'",
                        (ROOT / "static" / "sw.js").read_text(encoding="utf-8"))
assert _CACHE_NAME is not None, "static/sw.js names its cache in `const CACHE = '...'`"
SHELL_CACHE = _CACHE_NAME[1]
KEPT_OFFLINE = """async () => {
  if (!navigator.serviceWorker.controller) return false;
  const kept = new Set((await (await caches.open('SHELL')).keys()).map((r) => r.url));
  const scripts = performance.getEntriesByType('resource').map((e) => e.name)
    .filter((u) => u.startsWith(location.origin + '/js/'));
  return scripts.length > 0 && scripts.every((u) => kept.has(u));
}""".replace("SHELL", SHELL_CACHE)


def wait_kept_offline(page: Any) -> None:
    """Until the service worker controls ``page`` and keeps every script the page loaded (the
    room's modules load when the room opens, and are kept from then on)."""
    wait_in_page(page, KEPT_OFFLINE, "the app's files kept for a reload offline")


def wait_connected(page: Any) -> None:
    page.locator(".conn-online").wait_for()


def say(page: Any, text: str) -> None:
    box = page.locator("#compose")
    box.fill(text)
    box.press("Enter")


def message_texts(page: Any) -> list[str]:
    return list(page.locator("#messages .msg .msg-text").all_inner_texts())


def shot(page: Any, name: str) -> str:
    path = artifact_path(name)
    page.screenshot(path=str(path))
    return str(path)
