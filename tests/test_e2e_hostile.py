"""Hostile input, rendered in real Chromium: no payload runs script or becomes markup.

The payloads follow the kinds listed in public XSS filter-evasion cheat sheets (script tags,
event handlers, javascript: and data: URLs, SVG and MathML, encodings, attribute breakouts,
template and CSS tricks); each one, if it ever ran, would set ``window.__pwned`` or open a
dialog. They arrive as messages, as names and as shared file names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Chatter, Host, artifact_path, chromium_path, need_tool
from tests.e2e_helpers import join, launch_browser, new_page

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    """One Chromium for each test of this module."""
    yield from launch_browser()


RUN = "window.__pwned=1;alert(1)"
PAYLOADS = [
    f"<script>{RUN}</script>",
    "<SCRIPT SRC=//xss.invalid/x.js></SCRIPT>",
    f"<img src=x onerror={RUN}>",
    f"<IMG SRC=\"javascript:{RUN}\">",
    f"<img src=`x` onerror=\"{RUN}\">",
    f"<svg onload={RUN}>",
    f"<svg><script>{RUN}</script></svg>",
    f"<svg/onload={RUN}//",
    f"<body onload={RUN}>",
    f"<iframe src=\"javascript:{RUN}\"></iframe>",
    f"<iframe srcdoc=\"<script>parent.{RUN}</script>\"></iframe>",
    f"<object data=\"javascript:{RUN}\"></object>",
    f"<embed src=\"javascript:{RUN}\">",
    f"<a href=\"javascript:{RUN}\">click me</a>",
    f"javascript:{RUN}",
    f"JaVaScRiPt:{RUN}",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    f"<a href=\"data:text/html,<script>{RUN}</script>\">x</a>",
    f"<div style=\"background:url(javascript:{RUN})\">x</div>",
    f"<div style=\"width:expression({RUN})\">x</div>",
    f"<input autofocus onfocus={RUN}>",
    f"<details open ontoggle={RUN}>",
    f"<marquee onstart={RUN}>x</marquee>",
    f"<video><source onerror=\"{RUN}\"></video>",
    f"<audio src=x onerror={RUN}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={RUN}>",
    f"<form><button formaction=javascript:{RUN}>x</button></form>",
    f"<isindex type=image src=1 onerror={RUN}>",
    f"<link rel=import href=\"data:text/html,<script>{RUN}</script>\">",
    f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{RUN}\">",
    f"<base href=\"javascript:{RUN}//\">",
    f"\"><script>{RUN}</script>",
    f"'><img src=x onerror={RUN}>",
    f"</textarea><script>{RUN}</script>",
    f"</title><script>{RUN}</script>",
    f"<!--<img src=\"--><img src=x onerror={RUN}//\">",
    f"<scr<script>ipt>{RUN}</scr</script>ipt>",
    f"&lt;script&gt;{RUN}&lt;/script&gt;",
    f"&#60;img src=x onerror={RUN}&#62;",
    f"\\u003cimg src=x onerror={RUN}\\u003e",
    f"%3Cscript%3E{RUN}%3C%2Fscript%3E",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<img src=\"x\" onerror=\"&#x77;indow.__pwned=1\">",
    f"<svg><animate onbegin={RUN} attributeName=x dur=1s>",
    f"<svg><a xlink:href=\"javascript:{RUN}\"><text y=20>x</text></a></svg>",
    f"<style>@import 'javascript:{RUN}';</style>",
    f"<template><img src=x onerror={RUN}></template>",
    f"{{{{constructor.constructor('{RUN}')()}}}}",
    f"${{{RUN}}}",
    f"<x onclick={RUN}>click</x>",
    f"<noscript><p title=\"</noscript><img src=x onerror={RUN}>\">",
    f"<a href=\"https://example.invalid\" onclick=\"{RUN}\">a link</a>",
    f"https://example.invalid/\"><img src=x onerror={RUN}>",
    f"https://example.invalid/?q=<script>{RUN}</script>",
    f"\u202e<img src=x onerror={RUN}>",
    f"<img\x0bsrc=x\x0conerror={RUN}>",
    f"<svg><foreignObject><iframe srcdoc=\"<script>parent.{RUN}</script>\">",
    f"<frameset onload={RUN}>",
]
SHORT_NAMES = ["<b>Bold</b>", "<img src=x onerror=alert(1)>", "<script>x</script>",
               "\"><svg onload=alert(1)>", "javascript:alert(1)", "<i>Admin</i>"]


def _markup_inside(page: Any) -> dict[str, Any]:
    """What the message list holds that no message should ever create."""
    return page.evaluate("""() => {
      const list = document.querySelector('#messages');
      const bad = list.querySelectorAll(
        'script, iframe, object, embed, svg:not(.icon), math, form, input, details, marquee,'
        + ' video, audio, style, template, base, meta, link, frameset, noscript, x, b, i');
      const handlers = [...list.querySelectorAll('*')].filter(
        el => [...el.attributes].some(a => a.name.toLowerCase().startsWith('on')));
      const links = [...list.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))
        .filter(h => !/^(https?:\\/\\/|\\/api\\/files\\/[0-9a-f]{32}$)/i.test(h));
      return {bad: [...bad].map(e => e.outerHTML.slice(0, 80)),
              handlers: handlers.map(e => e.outerHTML.slice(0, 80)),
              links, pwned: window.__pwned || null};
    }""")


def test_xss_payloads_as_messages_names_and_file_names_stay_text(make_host, browser: Any
                                                                  ) -> None:  # type: ignore[no-untyped-def]
    need_tool(chromium_path(), "chromium")
    assert len(PAYLOADS) >= 50
    host: Host = make_host(message_burst=10_000, messages_per_second=10_000.0)
    _, page, errors = new_page(browser)
    join(page, host.url, "Viewer")

    mallory = Chatter(host, "Mallory", max_queue=None)
    for text in PAYLOADS:
        mallory.say(text)
    # Names: each hostile name joins and says one line.
    posers = [Chatter(host, name, max_queue=None) for name in SHORT_NAMES]
    for p in posers:
        p.say("hello from " + p.me["name"])
    # File names: shared files whose names are payloads.
    with host.http() as http:
        for text in PAYLOADS[:15]:
            meta = http.post("/api/files", files={"file": (text[:150], b"harmless")}).json()
            mallory.say("", client_msg_id=str(uuid.uuid4()), file_id=meta["id"])
    # The viewer itself types one of them, for the own-message path.
    box = page.locator("#compose")
    box.fill(PAYLOADS[2])
    box.press("Enter")

    expect(page.locator("#messages .msg-text", has_text="hello from <i>Admin</i>")).to_have_count(1)
    expect(page.locator("#messages .file-name")).to_have_count(15, timeout=20_000)
    expect(page.locator('#messages .msg.own[data-status="delivered"]')).to_have_count(1)

    texts = page.locator("#messages .msg-text").all_inner_texts()
    shown = "\n".join(texts)
    missing = [p for p in PAYLOADS if p.strip() and " ".join(p.split()) not in " ".join(
        shown.split())]
    assert not missing, f"payloads not shown as text: {missing[:5]}"
    authors = page.locator("#messages .msg-author").all_inner_texts()
    for name in SHORT_NAMES:
        assert name in authors, name
    found = _markup_inside(page)
    shot = artifact_path("hostile-input.png")
    page.screenshot(path=str(shot), full_page=False)
    assert found == {"bad": [], "handlers": [], "links": [], "pwned": None}, found
    assert page.evaluate("document.title").endswith("Test room · LAN Chat"), "title rewritten"
    assert not errors.dialogs and not errors.real_errors()
    for c in (mallory, *posers):
        c.close()
