"""A room the host refused leaves nothing behind: after the join prompt comes back and the person
joins again, only the new room listens to the window, ticks, and takes dropped files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host, wait_until
from tests.e2e_helpers import join, launch_browser, new_page, say, shot, wait_connected

pytestmark = pytest.mark.e2e

# Installed before the app's own code: counts the listeners on window and document, and the
# intervals, that are live right now (added and not yet removed or cleared).
COUNT_LIVE = """(() => {
  const live = new Map();
  const capture = (opts) => (typeof opts === 'boolean' ? opts : !!opts?.capture);
  const keyOf = (target, type, fn, opts) =>
    `${target === window ? 'w' : 'd'}:${type}:${capture(opts)}:${idOf(fn)}`;
  const ids = new WeakMap();
  let next = 0;
  const idOf = (fn) => { if (!ids.has(fn)) ids.set(fn, ++next); return ids.get(fn); };
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (type, fn, opts) {
    if ((this === window || this === document) && fn && !opts?.once) {
      const key = keyOf(this, type, fn, opts);
      live.set(key, type);
      opts?.signal?.addEventListener('abort', () => live.delete(key));
    }
    return add.call(this, type, fn, opts);
  };
  EventTarget.prototype.removeEventListener = function (type, fn, opts) {
    if ((this === window || this === document) && fn) live.delete(keyOf(this, type, fn, opts));
    return remove.call(this, type, fn, opts);
  };
  const intervals = new Set();
  const setI = window.setInterval.bind(window);
  const clearI = window.clearInterval.bind(window);
  window.setInterval = (...args) => { const id = setI(...args); intervals.add(id); return id; };
  window.clearInterval = (id) => { intervals.delete(id); clearI(id); };
  window.__live = () => ({ listeners: [...live.values()].sort(), intervals: intervals.size });
})();"""

DROP = """(name) => {
  const dt = new DataTransfer();
  const bytes = new Uint8Array([1, 2, 3, 4, 5]);
  dt.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
  window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, cancelable: true }));
  window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, cancelable: true }));
}"""

FILE_MESSAGES = """async () => {
  const page = await (await fetch('/api/events?limit=500', { cache: 'no-store' })).json();
  return page.events.filter((e) => e.type === 'message' && e.file).map((e) => e.file.name);
}"""


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def test_after_a_refusal_the_new_room_alone_listens_and_a_dropped_file_goes_up_once(
        tmp_path: Path, browser: Any) -> None:
    host = Host(tmp_path / "data").start()
    try:
        context, ada, errors = new_page(browser)
        context.add_init_script(COUNT_LIVE)
        uploads: list[str] = []
        ada.on("request", lambda r: uploads.append(r.url)
               if r.method == "POST" and r.url.endswith("/api/files/uploads") else None)
        join(ada, host.url, "Ada")
        first = ada.evaluate("window.__live()")
        assert first["intervals"] >= 1, first  # the room's own clock, which must not outlive it

        # The host comes back with a password: the room refuses the page (4401) and the join
        # prompt asks for it; the person joins again.
        host.stop()
        host.start(password="open sesame")
        expect(ada.locator("#join-password")).to_be_visible(timeout=20_000)
        expect(ada.locator("#join-error")).to_contain_text("did not let you in")
        ada.locator("#join-password").fill("open sesame")
        ada.locator("#join-password").press("Enter")
        wait_connected(ada)

        ada.evaluate(DROP, "once.bin")
        delivered = ada.locator('.msg.own[data-status="delivered"]')
        expect(delivered.locator(".file-name")).to_have_text(["once.bin"])
        say(ada, "after the file")
        expect(delivered).to_have_count(2)
        wait_until(lambda: len(ada.evaluate(FILE_MESSAGES)) >= 1, what="the file in the history")
        assert ada.evaluate(FILE_MESSAGES) == ["once.bin"]
        assert len(uploads) == 1, uploads
        again = ada.evaluate("window.__live()")
        assert again == first, f"left behind by the refused room: {first} -> {again}"
        expect(ada.locator(".drop-overlay")).to_have_count(1)
        shot(ada, "room-after-refusal-and-rejoin.png")
        assert not [e for e in errors.real_errors() if "401" not in e], errors.real_errors()
    finally:
        host.stop()
