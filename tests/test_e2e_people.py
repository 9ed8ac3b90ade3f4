"""People in the room, in a real browser: join and leave lines as they happen (a burst folded
into one line), the host's first view inviting others in, and names: taken, and changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Chatter, Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import DESKTOP, join, launch_browser, new_page, say, shot, wait_in_page

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def stored(host: Host, kind: str) -> list[dict[str, Any]]:
    with host.http() as http:
        events = http.get("/api/events", params={"after": 0, "limit": 500}).json()["events"]
    return [e for e in events if e["type"] == kind]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_join_and_leave_lines_appear_live_and_a_burst_is_one_line(
        host: Host, browser: Any, viewport: dict[str, int]) -> None:
    need_tool(chromium_path(), "chromium")
    _, ada, errors = new_page(browser, viewport=viewport)
    join(ada, host.url, "Ada")
    notices = ada.locator("#messages .notice")
    expect(notices).to_have_count(1)
    expect(notices.first).to_contain_text("You joined")
    say(ada, "anyone?")

    # Someone arrives: the line shows at once, not with the next message.
    bob_context, bob, _ = new_page(browser)
    join(bob, host.url, "Bob")
    expect(notices).to_have_count(2)
    expect(notices.last).to_contain_text("Bob joined")
    say(bob, "here")
    expect(ada.locator("#messages .msg-text").last).to_have_text("here")

    # A flaky phone comes and goes eight times, and a second device of the same name once:
    # one line for the whole burst.
    for _ in range(8):
        Chatter(host, "Olly", client_id="olly-phone").close()
        wait_until(lambda: not any(u.name == "Olly" for u in host.room.hub.users.values()),
                   what="Olly to leave")
    second = Chatter(host, "Olly", client_id="olly-laptop")
    Chatter(host, "Olly", client_id="olly-phone").close()
    second.close()
    wait_until(lambda: len(stored(host, "leave")) == 10, what="all ten leaves stored")
    olly = notices.filter(has_text="Olly")
    expect(olly).to_have_count(1)
    # Each device under the name it had last (the phone was "Olly (2)" beside the laptop).
    expect(olly).to_contain_text("Olly (2) and Olly joined and left")
    expect(notices).to_have_count(3)

    # And a leave on its own, live.
    bob_context.close()
    expect(notices.last).to_contain_text("Bob left")
    shot(ada, f"presence-lines-{viewport['width']}.png")
    assert not errors.real_errors(), errors.real_errors()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("password", ["", "swordfish"], ids=["open", "password"])
def test_the_hosts_first_view_invites_people_in(make_host: Any, browser: Any,
                                                viewport: dict[str, int], password: str) -> None:
    need_tool(chromium_path(), "chromium")
    host = make_host(password=password)
    _, ada, errors = new_page(browser, viewport=viewport)
    ada.goto(host.url + "/")
    ada.locator("#join-name").fill("Ada")
    if password:
        ada.locator("#join-password").fill(password)
    ada.locator("#join-name").press("Enter")
    ada.locator(".conn-online").wait_for()

    card = ada.locator(".invite")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Invite people to Test room")
    expect(card.locator(".invite-me")).to_contain_text("You are in the room as Ada")
    qr = card.locator("img.qr")
    expect(qr).to_be_visible()
    wait_in_page(ada, "() => document.querySelector('.invite img.qr').naturalWidth > 0",
                 "the QR code drawn")
    address = card.locator(".copy-input")
    assert address.input_value().startswith("http")
    expect(card.locator(".invite-lock")).to_contain_text(
        "need the room’s password" if password else "No password")
    expect(card).to_be_in_viewport()
    shot(ada, f"invite-{'password' if password else 'open'}-{viewport['width']}.png")
    ada.emulate_media(color_scheme="dark")
    shot(ada, f"invite-{'password' if password else 'open'}-{viewport['width']}-dark.png")

    # Someone else comes in: the card steps aside.
    _, bob, _ = new_page(browser)
    bob.goto(host.url + "/")
    bob.locator("#join-name").fill("Bob")
    if password:
        bob.locator("#join-password").fill(password)
    bob.locator("#join-name").press("Enter")
    expect(card).to_be_hidden()
    expect(bob.locator(".invite")).to_be_hidden()
    expect(ada.locator("#messages .notice").last).to_contain_text("Bob joined")
    assert not errors.real_errors(), errors.real_errors()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_taken_name_is_said_and_a_name_can_be_changed(host: Host, browser: Any,
                                                        viewport: dict[str, int]) -> None:
    need_tool(chromium_path(), "chromium")
    _, ana, _ = new_page(browser)
    join(ana, host.url, "Ana")
    _, other, errors = new_page(browser, viewport=viewport)
    join(other, host.url, "Ana")
    notice = other.locator(".name-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("“Ana” is taken in this room, so the others see you as "
                                   "“Ana (2)”.")
    shot(other, f"name-taken-{viewport['width']}.png")
    other.emulate_media(color_scheme="dark")
    shot(other, f"name-taken-{viewport['width']}-dark.png")

    notice.get_by_role("button", name="Change name").click()
    field = other.get_by_label("Your name in this room")
    expect(field).to_be_focused()
    expect(field).to_have_value("Ana (2)")
    # A name someone else holds is refused, with the reason, and the dialog stays.
    field.fill("ana")
    field.press("Enter")
    expect(other.locator("#rename-error")).to_contain_text("Someone here already has that name")
    shot(other, f"rename-refused-{viewport['width']}.png")
    field.fill("Ana B.")
    field.press("Enter")
    expect(other.locator("dialog[open]")).to_have_count(0)
    expect(notice).to_be_hidden()

    # Everyone sees the change, as a line in the chat and in the people list.
    expect(ana.locator("#messages .notice").last).to_contain_text("Ana (2) is now Ana B.")
    expect(other.locator("#messages .notice").last).to_contain_text("You are now Ana B.")
    say(other, "new name, same me")
    expect(ana.locator("#messages .msg:not(.own) .msg-author").last).to_have_text("Ana B.")
    other.get_by_role("button", name="online; show who").click()
    people = other.locator("dialog[open] .people")
    expect(people).to_contain_text("Ana B. (you)")
    shot(other, f"people-after-rename-{viewport['width']}.png")
    other.keyboard.press("Escape")

    # The new name is the one used from now on, after a reload too.
    other.reload()
    other.locator(".conn-online").wait_for()
    expect(other.locator(".name-notice")).to_be_hidden()
    assert [e["user"]["name"] for e in stored(host, "rename")] == ["Ana B."]
    assert sorted(u.name for u in host.room.hub.users.values()) == ["Ana", "Ana B."]
    assert not errors.real_errors(), errors.real_errors()
