"""A page on a host that steps down for another host of its room (a split that healed, at the
same term) ends up showing the winner's history: never an event of the loser at an id the winner
gave to another event, and its own message from the loser stored once at the winner. Two real
hosts of one room, real Chromium."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Chatter, Host, chromium_path, need_tool, wait_until
from tests.e2e_helpers import join, launch_browser, message_texts, new_page, say, shot
from tests.test_e2e_follow import stored_texts

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


def echo(chatter: Chatter, text: str) -> None:
    cmid = chatter.say(text)
    while chatter.recv().get("client_msg_id") != cmid:
        pass


def successors(host: Host) -> list[str]:
    with host.http() as http:
        return list(http.get("/api/room").json().get("successors") or [])


def test_a_page_on_a_host_that_steps_down_shows_the_winners_history(
        make_host: Any, browser: Any, tmp_path: Path) -> None:
    need_tool(chromium_path(), "chromium")
    first: Host = make_host()
    standby = Host(tmp_path / "second", standby_url=first.url).start()
    wait_until(lambda: successors(first), timeout=15, what="the standby to be a successor")
    _, ada, errors = new_page(browser)
    join(ada, first.url, "Ada")
    say(ada, "before the split")
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(1)
    wait_until(lambda: standby_holds(standby, "before the split"), timeout=15,
               what="the standby to hold the first message")
    # The standby leaves and comes back as a host of its copy, at the same term (as when two
    # standbys both took a room over): each side now gives the next ids to other events.
    standby.stop()
    mine = [f"only at the first {i}" for i in range(3)]
    for text in mine:
        say(ada, text)
    expect(ada.locator('.msg.own[data-status="delivered"]')).to_have_count(4)
    second = Host(tmp_path / "second")
    second.port = standby.port
    second.start()
    try:
        bob = Chatter(second, "Bob")
        # Before the two first look at each other (2 s after it serves), the second host holds
        # more events: at the same term, it is the one that stays.
        for i in range(6):
            echo(bob, f"at the second {i}")
        # Bob's first lines take ids the page holds for Ada's: it must read them again there.
        winner = ["before the split", *(f"at the second {i}" for i in range(6)), *mine]
        wait_until(lambda: stored_texts(second) == winner, timeout=30,
                   what="Ada's messages from the first host to be stored once at the second")
        wait_until(lambda: message_texts(ada) == winner, timeout=20,
                   what="Ada's page to show the second host's history")
        print(f"\n{shot(ada, 'split-healed-page.png')}")
        bob.close()
        assert not errors.real_errors()
    finally:
        second.stop()


def standby_holds(standby: Host, text: str) -> bool:
    db = standby.data_dir / "history.sqlite3"
    if not db.exists():
        return False
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return any(text in p for (p,) in conn.execute("SELECT payload FROM events"))
