"""The room's frame on a phone and a desktop: only the message list scrolls, and long file
names keep the end that tells them apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import DESKTOP, join, launch_browser, new_page, shot
from tests.test_e2e_history import seed

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
SIZES = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def open_room(browser: Any, host: Host, viewport: dict[str, int], name: str = "Ada") -> Any:
    phone = viewport is PHONE
    _, page, errors = new_page(browser, viewport=viewport, has_touch=phone, is_mobile=phone)
    join(page, host.url, name)
    page.errors = errors
    return page


def box(page: Any, selector: str) -> dict[str, float]:
    return page.locator(selector).evaluate(
        "e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; }")


@SIZES
def test_only_the_message_list_scrolls(host: Host, browser: Any, viewport: dict[str, int]) -> None:
    need_tool(chromium_path(), "chromium")
    seed(host, 80)  # one person's run of messages: grouped, each with a visually hidden name
    page = open_room(browser, host, viewport)
    expect(page.locator("#messages .msg-text").last).to_have_text("old message 79")
    size = page.evaluate("""() => ({doc: document.documentElement.scrollHeight,
        body: document.body.scrollHeight, app: document.getElementById('app').scrollHeight,
        height: innerHeight})""")
    print(f"\n{viewport['width']} px: document {size['doc']} px tall in a {size['height']} px"
          f" window (app {size['app']} px)")
    assert size["doc"] <= size["height"], size
    assert size["app"] <= size["height"], size

    # A swipe over the header, and a script asking the window to scroll, move nothing.
    header = page.locator(".room-header")
    hb = header.bounding_box()
    page.mouse.move(hb["x"] + 20, hb["y"] + hb["height"] / 2)
    page.mouse.wheel(0, 3000)
    if viewport is PHONE:  # a finger's swipe up, over the header and over the list
        cdp = page.context.new_cdp_session(page)
        for y in (hb["y"] + hb["height"] / 2, viewport["height"] / 2):
            cdp.send("Input.synthesizeScrollGesture", {
                "x": 100, "y": y, "yDistance": -1500, "speed": 4000,
                "gestureSourceType": "touch"})
    page.evaluate("window.scrollTo(0, 4000); document.getElementById('app').scrollTo(0, 4000)")
    page.locator("#compose").focus()
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("document.getElementById('app').scrollTop") == 0
    assert box(page, ".room-header")["top"] == 0
    assert abs(box(page, ".composer")["bottom"] - viewport["height"]) <= 1

    # The list itself scrolls.
    scroller = page.locator(".scroller")
    before = scroller.evaluate("s => s.scrollTop")
    sb = scroller.bounding_box()
    page.mouse.move(sb["x"] + sb["width"] / 2, sb["y"] + sb["height"] / 2)
    page.mouse.wheel(0, -600)
    wait_until(lambda: scroller.evaluate("s => s.scrollTop") < before, what="the list to scroll")
    assert box(page, ".room-header")["top"] == 0
    shot(page, f"layout-scrolled-{viewport['width']}.png")
    assert not page.errors.real_errors(), page.errors.real_errors()


END_VISIBLE = """(el, tail) => {
    // Where the last characters of the name are drawn, against the name's own box.
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    const text = nodes.map((n) => n.data).join('');
    let at = text.lastIndexOf(tail);
    const range = document.createRange();
    for (const n of nodes) {
        if (at < n.length) { range.setStart(n, at); range.setEnd(n, at + tail.length); break; }
        at -= n.length;
    }
    const outer = el.getBoundingClientRect();
    const inner = range.getBoundingClientRect();
    // Every clipping box around those characters must hold its text whole: text that
    // overflows a box with text-overflow: ellipsis loses its last characters to the "…".
    const stop = el.parentElement;
    for (let p = range.startContainer.parentElement; p && p !== stop; p = p.parentElement) {
        if (getComputedStyle(p).overflow !== 'visible' && p.contains(range.endContainer)
            && p.lastChild === range.endContainer && range.endOffset === range.endContainer.length
            && p.scrollWidth > p.clientWidth) return false;
    }
    return inner.left >= outer.left - 1 && inner.right <= outer.right + 1;
}"""


@SIZES
def test_long_file_names_are_cut_in_the_middle(host: Host, browser: Any, tmp_path: Path,
                                               viewport: dict[str, int]) -> None:
    need_tool(chromium_path(), "chromium")
    page = open_room(browser, host, viewport)
    names = ["build-artifacts-v2.3.1-linux.tar.gz", "build-artifacts-v2.3.1-windows.zip"]
    for name in names:
        path = tmp_path / name
        path.write_bytes(b"x" * 2048)
        page.locator('.composer input[type="file"]').set_input_files(str(path))
        expect(page.locator('.msg.own[data-status="delivered"] .file-name').last).to_have_text(name)
    cards = page.locator("#messages .file-name")
    for i, name in enumerate(names):
        el = cards.nth(i)
        assert el.evaluate("e => e.textContent") == name
        assert el.get_attribute("title") == name
        # Too long to fit whole...
        assert el.evaluate("e => e.scrollWidth > e.clientWidth || "
                           "[...e.children].some((c) => c.scrollWidth > c.clientWidth)")
        # ...yet the end that tells the two apart stays on screen, version and all.
        tail = name[name.index("v2.3.1"):]
        assert el.evaluate(END_VISIBLE, tail), f"{tail!r} is cut off in {name!r}"
        assert el.evaluate(END_VISIBLE, "b"), f"the start of {name!r} is not shown"
    shot(page, f"file-names-{viewport['width']}.png")
    assert not page.errors.real_errors(), page.errors.real_errors()


def test_a_long_tail_gives_way_from_its_start_on_a_phone(host: Host, browser: Any,
                                                         tmp_path: Path) -> None:
    """The kept end of a name can itself be wider than a phone's card: its extension stays."""
    need_tool(chromium_path(), "chromium")
    page = open_room(browser, host, PHONE)
    name = "meeting notes from chromium-browser.bin"
    path = tmp_path / name
    path.write_bytes(b"x" * 2048)
    page.locator('.composer input[type="file"]').set_input_files(str(path))
    el = page.locator('.msg.own[data-status="delivered"] .file-name').last
    expect(el).to_have_text(name)
    assert el.evaluate(END_VISIBLE, ".bin"), f"the extension of {name!r} is cut off"
    assert el.evaluate(END_VISIBLE, "m"), f"the start of {name!r} is not shown"
    el.scroll_into_view_if_needed()
    shot(page, "file-name-long-tail-phone.png")
