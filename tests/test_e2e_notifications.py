"""Browser notifications in real Chromium: the bell in the room header, a tab in the background,
permission granted, refused, or impossible (an insecure address), and the title counting anyway.

The test page wraps window.Notification (in the test's own init script, never in the shipped
code) to see each notification the page constructs; the real one is still constructed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Chatter, Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import CHROMIUM_ARGS, join, launch_browser, new_page

pytestmark = pytest.mark.e2e

SEE_NOTIFICATIONS = """
window.__notes = [];
if (typeof window.Notification === 'function') {
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notes.push({ title, body: options?.body ?? '', tag: options?.tag ?? '' });
    }
  };
}
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def open_room(browser: Any, host: Host, *, grant: bool) -> tuple[Any, Any, Any]:
    context, page, errors = new_page(browser)
    if grant:
        context.grant_permissions(["notifications"], origin=host.url)
    context.add_init_script(SEE_NOTIFICATIONS)
    join(page, host.url, "Ada")
    return context, page, errors


def pick_level(page: Any, text: str) -> None:
    """With the keyboard and mouse as a person would: the bell, then one of the choices."""
    page.get_by_role("button", name="Notifications off; change").click()
    page.locator("dialog[open]").get_by_label(text).check()


def go_away(context: Any, page: Any) -> Any:
    """Another tab comes to the front and takes the focus from the room's tab. Playwright
    pretends every page has focus; that pretence is switched off for the room's page."""
    context.new_cdp_session(page).send("Emulation.setFocusEmulationEnabled", {"enabled": False})
    other = context.new_page()
    other.bring_to_front()
    wait_until(lambda: page.evaluate("() => document.hidden || !document.hasFocus()"),
               what="the room's tab in the background")
    return other


def notes(page: Any) -> list[dict[str, str]]:
    return list(page.evaluate("() => window.__notes"))


def test_the_rules_follow_the_protocol_fields(browser: Any, host: Host) -> None:
    """`mentions` (ids) and `to` (private) decide at "mentions"; "all" takes every message."""
    need_tool(chromium_path(), "chromium")
    _, page, _ = new_page(browser)
    page.goto(host.url + "/")
    # The titles are sentences from the language file: wait until the page has loaded it.
    page.locator("#join-name").wait_for()
    result = page.evaluate("""async () => {
      const { wanted, describe } = await import('/js/notify.js');
      const bob = { id: 'b', name: 'Bob' };
      const plain = { type: 'message', user: bob, text: 'hi', mentions: [] };
      const named = { ...plain, mentions: ['a'] };
      const other = { ...plain, mentions: ['c'] };
      const priv = { ...plain, to: { id: 'a', name: 'Ada' } };
      const old = { type: 'message', user: bob, text: 'from an older host' };
      const mine = { ...named, user: { id: 'a', name: 'Ada' } };
      const all = [plain, named, other, priv, old, mine];
      const at = (level) => all.map((e) => wanted(e, 'a', level));
      return { off: at('off'), mentions: at('mentions'), all: at('all'), odd: at('loud'),
               titles: [plain, named, priv].map((e) => describe(e, 'a', 'Lab').title),
               long: describe({ ...plain, text: 'x'.repeat(500) }, 'a', 'Lab').body.length };
    }""")
    assert result["off"] == [False] * 6
    assert result["mentions"] == [False, True, False, True, False, False]
    assert result["all"] == [True, True, True, True, True, False]
    assert result["odd"] == [False] * 6
    assert result["titles"] == ["Bob in Lab", "Bob mentioned you in Lab", "Bob (private)"]
    assert result["long"] <= 180


def test_a_background_tab_notifies_once_allowed(browser: Any, host: Host) -> None:
    need_tool(chromium_path(), "chromium")
    context, page, errors = open_room(browser, host, grant=True)
    bob = Chatter(host, "Bob")

    # "Mentions and private messages": a plain message only counts in the title.
    pick_level(page, "When someone mentions me or writes to me privately")
    expect(page.locator("dialog[open] [role=status]")).to_have_text("Notifications are on.")
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Notifications on; change")).to_be_visible()
    other = go_away(context, page)
    bob.say("just chatting")
    wait_until(lambda: page.title().startswith("(1) "), what="the unread count in the title")
    assert notes(page) == []

    # "Every message": the next one is a notification with who, where and what.
    page.bring_to_front()
    page.get_by_role("button", name="Notifications on; change").click()
    page.locator("dialog[open]").get_by_label("For every message").check()
    page.keyboard.press("Escape")
    other.bring_to_front()
    go_away(context, page)
    bob.say("lunch at noon?")
    wait_until(lambda: notes(page), what="a notification")
    assert notes(page) == [{"title": "Bob in Test room", "body": "lunch at noon?",
                            "tag": "lanchat-Test room"}]
    assert page.evaluate("() => localStorage.getItem('lanchat.notify')") == '"all"'
    bob.close()
    assert not errors.real_errors(), errors.real_errors()


def test_a_refused_permission_leaves_notifications_off(browser: Any, host: Host) -> None:
    need_tool(chromium_path(), "chromium")
    context, page, errors = open_room(browser, host, grant=False)
    page.evaluate("() => Notification.permission")  # "default" or "denied" in headless
    pick_level(page, "For every message")
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("[role=status]")).to_contain_text("did not allow notifications")
    expect(dialog.get_by_label("Off")).to_be_checked()
    page.keyboard.press("Escape")
    go_away(context, page)
    bob = Chatter(host, "Bob")
    bob.say("anyone there?")
    wait_until(lambda: page.title().startswith("(1) "), what="the title to count anyway")
    assert notes(page) == []
    bob.close()
    assert not errors.real_errors(), errors.real_errors()


def test_an_insecure_address_explains_and_still_counts(host: Host) -> None:
    """A host reached by its machine name over http (as a phone on the LAN reaches it) is not
    a secure context: the browser will not notify, and the page says so."""
    need_tool(chromium_path(), "chromium")
    from playwright.sync_api import sync_playwright

    name = socket.gethostname().lower()  # one of the names the host answers to

    with sync_playwright() as pw:
        # The name resolves to the loopback host, inside this browser only.
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=[
            *CHROMIUM_ARGS, f"--host-resolver-rules=MAP {name} 127.0.0.1"])
        try:
            context, page, errors = new_page(browser)
            context.add_init_script(SEE_NOTIFICATIONS)
            url = f"http://{name}:{host.port}"
            join(page, url, "Ada")
            # Chromium keeps the constructor there but never grants it: the page must not try.
            assert page.evaluate("async () => [window.isSecureContext,"
                                 " (await import('/js/notify.js')).canNotify()]") == [False, False]
            page.get_by_role("button", name="Notifications off; change").click()
            expect(page.locator("dialog[open]")).to_contain_text("only on secure pages")
            page.keyboard.press("Escape")
            go_away(context, page)
            bob = Chatter(host, "Bob")
            bob.say("hello over the LAN")
            wait_until(lambda: page.title().startswith("(1) "), what="the title to count")
            bob.close()
            # Chromium says it ignores the host's COOP header on an http LAN address: true of
            # every phone on the LAN, and not an error of the page.
            left = [e for e in errors.real_errors() if "Cross-Origin-Opener-Policy" not in e]
            assert not left, left
        finally:
            browser.close()
