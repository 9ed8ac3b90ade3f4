"""People in the room, in a real browser: join and leave lines as they happen (a burst folded
into one line), the host's first view inviting others in, and names: taken, and changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Chatter, Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import DESKTOP, join, launch_browser, new_page, say, shot

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
        wait_until(lambda: not any(u.name == "Olly" for u in host.app.state.hub.users.values()),
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
