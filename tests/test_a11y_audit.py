"""Accessibility audit: axe-core (tests/package.json) inside real Chromium over every screen.

Each screen in SCREENS is checked in light and dark, at phone (360 px) and desktop width, and
must have no serious or critical violation. Adding a screen is one line in SCREENS: a name and
a function that brings a page there (most are ``in_room(click=...)``). The counts per screen and
impact are printed, so the closing note can quote them.

The keyboard, announcement and motion checks that axe cannot make sit below it.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, Chatter, Host, need_tool, wait_until
from tests.e2e_helpers import (
    DESKTOP,
    PHONE,
    join,
    launch_browser,
    new_page,
    say,
    shot,
    wait_connected,
    wait_in_page,
)
from tests.test_e2e_conversations import tab_to
from tests.test_e2e_files import png_bytes

pytestmark = pytest.mark.e2e

AXE = ROOT / "tests" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
VARIANTS = [(theme, width) for theme in ("light", "dark") for width in ("phone", "desktop")]
SIZES = {"phone": PHONE, "desktop": DESKTOP}
LOCALES = {"en": "en-US", "ar": "ar-EG"}
ADMIN = "mod secret 42"

Opener = Callable[[Any, Callable[..., Host]], None]


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


# The other people of a screen stay online while it is audited (the remove dialog needs one).
STILL_ONLINE: list[Chatter] = []


@pytest.fixture
def others_leave() -> Iterator[None]:
    yield
    while STILL_ONLINE:
        STILL_ONLINE.pop().close()


# How to reach each screen ---------------------------------------------------------------------

def lobby(page: Any, make_host: Callable[..., Host]) -> None:
    page.goto(make_host(hosting=False).url + "/")
    expect(page.locator("#join-address")).to_be_visible()


def join_prompt(page: Any, make_host: Callable[..., Host]) -> None:
    page.goto(make_host(password="open sesame").url + "/")
    expect(page.locator("#join-password")).to_be_visible()


def join_prompt_with_error(page: Any, make_host: Callable[..., Host]) -> None:
    join_prompt(page, make_host)
    page.locator("#join-name").fill("Ada")
    page.locator("#join-password").fill("guess")
    page.locator("#join-password").press("Enter")
    expect(page.locator("#join-error")).to_be_visible()


def room(page: Any, make_host: Callable[..., Host]) -> None:
    """A room with a conversation: others' messages, own ones, a file and an image."""
    host = make_host()
    bob = Chatter(host, "Bob")
    with host.http() as http:
        image = http.post("/api/files", files={"file": ("sunset.png", png_bytes(), "image/png")})
        notes = http.post("/api/files", files={"file": ("minutes 2026-11.pdf", b"%PDF" * 900)})
    bob.say("Morning! The agenda is at https://example.invalid/agenda")
    bob.say("", file_id=image.json()["id"])
    bob.say("", file_id=notes.json()["id"])
    join(page, host.url, "Ada")
    say(page, "Thanks, reading it now")
    expect(page.locator('.msg.own[data-status="delivered"]')).to_have_count(1)
    bob.say("See you at ten")
    expect(page.locator("#messages .msg-text", has_text="See you at ten")).to_be_visible()
    wait_in_page(page, "() => [...document.images].every((i) => i.complete)", "images loaded")
    bob.close()


def posted(chatter: Chatter, text: str, **extra: Any) -> int:
    """Say `text` and return the id the host gave it."""
    chatter.say(text, **extra)
    return int(chatter.recv_type("message", text=text)["id"])


def conversation(page: Any, make_host: Callable[..., Host]) -> None:
    """A room (with a moderator password) holding a reply, reactions, an edited and a deleted
    message, then one of your own last; Bob and Cy stay online."""
    host = make_host(admin_password=ADMIN)
    bob, cy = Chatter(host, "Bob"), Chatter(host, "Cy")
    STILL_ONLINE.extend((bob, cy))
    lunch = posted(bob, "Lunch at noon?")
    posted(cy, "Yes, the usual place", reply_to=lunch)
    typo = posted(cy, "I'll bring the tikcets")
    cy.send(type="edit", target=typo, text="I'll bring the tickets",
            client_msg_id=str(uuid.uuid4()))
    gone = posted(cy, "wrong room, sorry")
    cy.send(type="delete", target=gone, client_msg_id=str(uuid.uuid4()))
    for who, emoji in ((bob, "👍"), (cy, "👍"), (cy, "🎉")):
        who.send(type="react", target=lunch, emoji=emoji, on=True,
                 client_msg_id=str(uuid.uuid4()))
    cy.recv_type("react", emoji="🎉")
    join(page, host.url, "Ada")
    expect(page.locator("#messages .tombstone")).to_have_count(1)
    say(page, "Count me in")
    expect(page.locator('.msg.own[data-status="delivered"]')).to_have_count(1)


def private(page: Any, make_host: Callable[..., Host]) -> None:
    """`conversation`, then Bob writes to Ada privately; she opens it and answers."""
    conversation(page, make_host)
    bob = STILL_ONLINE[0]
    while (joined := bob.recv_type("join"))["user"]["name"] != "Ada":
        pass
    bob.say("Are you free after lunch?", to=joined["user"]["id"])
    page.locator(".conv-list button.conv", has_text="Bob").click()
    expect(page.locator("#messages .msg-text", has_text="free after lunch")).to_be_visible()
    say(page, "Yes, after two")
    expect(page.locator('.msg.own[data-status="delivered"]')).to_have_count(1)


def message_focused(page: Any, make_host: Callable[..., Host]) -> None:
    """`conversation` with the last message (Ada's own) focused from the keyboard."""
    conversation(page, make_host)
    page.locator("#compose").focus()
    tab_to(page, page.locator(".scroller"))
    page.keyboard.press("ArrowUp")
    expect(page.locator(".msg[data-id].own .msg-actions")).to_be_visible()


def then_key(first: Opener, key: str, shown: str) -> Opener:
    """`first`, then `key` pressed, then wait for `shown`."""
    def opener(page: Any, make_host: Callable[..., Host]) -> None:
        first(page, make_host)
        page.keyboard.press(key)
        expect(page.locator(shown).first).to_be_visible()
    return opener


def replying(page: Any, make_host: Callable[..., Host]) -> None:
    """`message_focused`, then R: the composer answers Ada's own message, in her language."""
    then_key(message_focused, "r", ".compose-context")(page, make_host)
    if not (page.locator("html").get_attribute("lang") or "").startswith("en"):
        expect(page.locator(".compose-context")).not_to_contain_text("yourself")


def searched(page: Any, make_host: Callable[..., Host]) -> None:
    conversation(page, make_host)
    page.keyboard.press("ControlOrMeta+k")
    page.keyboard.type("lunch")
    expect(page.locator(".search-hit")).to_have_count(1)


def moderator(page: Any, make_host: Callable[..., Host]) -> None:
    then_click(conversation, PEOPLE, "Sign in as moderator")(page, make_host)
    page.locator("#admin-password").fill(ADMIN)
    page.keyboard.press("Enter")
    expect(page.locator(".notice-toast")).to_contain_text("moderator")
    wait_connected(page)


def then_click(first: Opener, *buttons: str | re.Pattern[str],
               dialog: str = "dialog[open]") -> Opener:
    """`first`, then a click on each button named in `buttons`, then wait for `dialog`."""
    def opener(page: Any, make_host: Callable[..., Host]) -> None:
        first(page, make_host)
        for name in buttons:
            page.get_by_role("button", name=name).first.click()
        expect(page.locator(dialog)).to_be_visible()
    return opener


PEOPLE = re.compile(r"online; show who")

SCREENS: dict[str, Opener] = {
    "lobby": lobby,
    "join prompt (password room)": join_prompt,
    "join prompt with an error": join_prompt_with_error,
    "room with messages and files": room,
    "people dialog": then_click(room, PEOPLE),
    "address dialog": then_click(room, re.compile(r"^Room address")),
    "image dialog": then_click(room, "Open sunset.png full size"),
    "rename dialog": then_click(room, PEOPLE, "Change name", dialog="dialog.rename-dialog[open]"),
    "notifications dialog": then_click(room, "Notifications off; change"),
    "room with a reply, reactions, an edit and a delete": conversation,
    "private conversation": private,
    "message toolbar": message_focused,
    "composer replying": replying,
    "search dialog with results": searched,
    "delete confirmation": then_key(message_focused, "Delete", "dialog[open]"),
    "moderator sign-in dialog": then_click(conversation, PEOPLE, "Sign in as moderator",
                                           dialog="dialog[open] #admin-password"),
    "remove-person dialog": then_click(moderator, PEOPLE, "Remove Bob from the room"),
}
# In Arabic too (these are reached without English names): the whole layout mirrors.
ARABIC = ["lobby", "join prompt (password room)", "join prompt with an error",
          "room with messages and files", "room with a reply, reactions, an edit and a delete",
          "private conversation", "message toolbar", "composer replying",
          "search dialog with results", "delete confirmation"]


# The audit ------------------------------------------------------------------------------------

RUN_AXE = """async () => {
  const r = await axe.run(document, { resultTypes: ['violations'] });
  return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 4), count: v.nodes.length }));
}"""


def audit(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        # Evaluated by the test's own channel: the page's CSP (script-src 'self') stays as it is.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return list(page.evaluate(RUN_AXE))


@pytest.mark.parametrize(("screen", "language"),
                         [(s, "en") for s in SCREENS] + [(s, "ar") for s in ARABIC])
def test_no_serious_or_critical_axe_violations(screen: str, language: str, browser: Any,
                                               make_host: Callable[..., Host],
                                               others_leave: None) -> None:
    need_tool(str(AXE) if AXE.exists() else None, "axe-core (npm install in tests/)")
    _, page, errors = new_page(browser, locale=LOCALES[language])
    SCREENS[screen](page, make_host)
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^" + language))
    blocking: list[str] = []
    slug = re.sub(r"[^a-z]+", "-", screen.lower()).strip("-") + "-" + language
    for theme, width in VARIANTS:
        page.emulate_media(color_scheme=theme)
        page.set_viewport_size(SIZES[width])
        violations = audit(page)
        if (theme, width) in (("light", "phone"), ("dark", "desktop")):
            shot(page, f"a11y-{slug}-{width}-{theme}.png")
        counts: Counter[str] = Counter()  # elements found, by impact
        for v in violations:
            counts[v["impact"]] += v["count"]
        summary = ", ".join(f"{k} {counts[k]}" for k in ("critical", "serious", "moderate", "minor")
                            if counts[k]) or "none"
        print(f"\naxe: {screen} / {language} / {theme} / {width}: {summary}")
        for v in violations:
            print(f"    {v['impact']}: {v['id']} ({v['count']}): {v['help']} at {v['nodes']}")
            if v["impact"] in BLOCKING:
                blocking.append(f"{theme}/{width} {v['id']}: {v['nodes']}")
    assert not blocking, blocking
    assert not errors.real_errors(), errors.real_errors()


# What axe cannot check: keyboard, announcements, motion ---------------------------------------

FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const ring = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return { what: el.id || el.getAttribute('aria-label') || el.className || el.tagName,
           visible: el.matches(':focus-visible') && (ring || s.boxShadow !== 'none') };
}"""


def tab_through(page: Any, presses: int) -> list[str]:
    """Tab `presses` times; the names of focused elements whose focus could not be seen."""
    hidden = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_SHOWN)
        if state and not state["visible"]:
            hidden.append(state["what"])
    return hidden


def test_keyboard_alone_shows_focus_and_escape_returns_it(browser: Any,
                                                          make_host: Callable[..., Host]) -> None:
    _, page, errors = new_page(browser)
    lobby(page, make_host)
    assert tab_through(page, 8) == []
    room(page, make_host)
    page.locator("#compose").focus()
    assert tab_through(page, 14) == []
    # The people chip opens its dialog from the keyboard; Escape closes it and focus returns.
    people = page.get_by_role("button", name=PEOPLE)
    people.focus()
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_be_visible()
    assert tab_through(page, 3) == []
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(people).to_be_focused()
    assert not errors.real_errors(), errors.real_errors()


# Test page script only: notes, for each item added to the message list, whether the list was
# a polite live region at that moment (what a screen reader would read out).
RECORD_ANNOUNCEMENTS = """
window.__added = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.id !== 'messages') continue;
    for (const n of r.addedNodes) {
      window.__added.push({ live: r.target.getAttribute('aria-live'), cls: n.className });
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


def test_new_messages_are_announced_politely_and_history_is_not(
        browser: Any, host: Host) -> None:
    bob = Chatter(host, "Bob")
    for i in range(15):  # under the rate limit
        bob.say(f"earlier message {i}")
    context, page, errors = new_page(browser)
    context.add_init_script(RECORD_ANNOUNCEMENTS)
    join(page, host.url, "Ada")
    expect(page.locator("#messages .msg-text", has_text="earlier message 14")).to_be_visible()
    loud = page.evaluate("() => window.__added.filter((a) => a.live === 'polite').length")
    assert loud == 0, "the history that arrived on joining was announced"
    wait_in_page(page, "() => document.querySelector('#messages').ariaLive === 'polite'",
                 "the list announcing politely")
    page.evaluate("() => { window.__added = []; }")
    bob.say("fresh news")
    expect(page.locator("#messages .msg-text", has_text="fresh news")).to_be_visible()
    added = page.evaluate("() => window.__added")
    assert [a["live"] for a in added if "msg" in a["cls"]] == ["polite"], added
    bob.close()
    assert not errors.real_errors(), errors.real_errors()


ANIMATED = """() => [...document.querySelectorAll('*')].filter((el) => {
  const s = getComputedStyle(el);
  const moving = (v) => v.split(',').some((d) => parseFloat(d) > 0);
  const animated = s.animationName !== 'none' && moving(s.animationDuration);
  return animated || moving(s.transitionDuration);
}).map((el) => el.className || el.tagName)"""


def test_motion_stops_under_prefers_reduced_motion(browser: Any,
                                                   make_host: Callable[..., Host]) -> None:
    looking = make_host(hosting=False, discovery=True, discovery_interfaces=("127.0.0.1",))
    _, page, _ = new_page(browser)
    page.goto(looking.url + "/")
    expect(page.get_by_text("Looking for rooms on your network…")).to_be_visible()
    # Without the preference something moves (the search pulse), or this test would prove nothing.
    wait_until(lambda: page.evaluate(ANIMATED), what="an animation without the preference")
    page.emulate_media(reduced_motion="reduce")
    assert page.evaluate(ANIMATED) == []
    room(page, make_host)
    assert page.evaluate(ANIMATED) == []
