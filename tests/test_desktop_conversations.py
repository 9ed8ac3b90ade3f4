"""Conversations in the desktop app's real window under Xvfb: the window that hosts a room is
its moderator, lists a private conversation apart from the room, and shows replies, reactions
and a deleted message like a browser does."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import wait_until
from tests.desktop_helpers import DesktopApp, Xvfb
from tests.test_desktop import host_from_page, shot

pytestmark = [pytest.mark.desktop, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                      reason="the window tests use Xvfb")]


@pytest.fixture
def app(tmp_path: Path, xvfb: Xvfb) -> Iterator[DesktopApp]:
    started = DesktopApp(tmp_path / "app", xvfb.display)
    yield started
    started.stop()


def send(ws: Any, **frame: Any) -> None:
    ws.send(json.dumps({"client_msg_id": str(uuid.uuid4()), **frame}))


def next_of(ws: Any, kind: str, **match: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        event = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
            return event
    raise AssertionError(f"no {kind} event matching {match}")


def test_the_hosting_window_moderates_and_shows_conversations(app: DesktopApp,
                                                              xvfb: Xvfb) -> None:
    app.wait_loaded()
    wait_until(lambda: app.eval("!!(window.pywebview && window.pywebview.api && "
                                "window.pywebview.api.host_room)"), what="the bridge")
    host_from_page(app, "Desk room", "Ann")
    base = f"http://127.0.0.1:{app.app_port}"

    def joined() -> bool:
        if httpx.get(f"{base}/api/room").json()["users"]:
            return True
        app.eval("(() => { const f = document.querySelector('form'); if (f) f.requestSubmit(); "
                 "return true; })()")
        return False

    wait_until(joined, timeout=20, interval=0.5, what="the window to join its room")
    with connect(f"ws://127.0.0.1:{app.app_port}/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "name": "Bob", "client_id": str(uuid.uuid4()),
                            "since": None}))
        welcome = next_of(ws, "welcome")
        ann = next(u for u in welcome["users"] if u["name"] == "Ann")
        send(ws, type="message", text="a question for the room")
        first = next_of(ws, "message", text="a question for the room")["id"]
        send(ws, type="message", text="and an answer", reply_to=first)
        send(ws, type="react", target=first, emoji="🎉", on=True)
        send(ws, type="message", text="a word in private", to=ann["id"])
        send(ws, type="message", text="to be taken back")
        gone = next_of(ws, "message", text="to be taken back")["id"]
        send(ws, type="delete", target=gone)
        next_of(ws, "delete", target=gone)

        def shown() -> Any:
            return app.eval("""(() => {
                const q = (s) => document.querySelectorAll(s).length;
                const other = document.querySelector('.msg[data-id]:not(.own):not(.deleted)');
                const badge = document.querySelector('.conv[data-conv^="p:"] .conv-badge');
                return { quotes: q('#messages .reply-quote'), chips: q('#messages .reaction'),
                         tombstones: q('#messages .tombstone'), convs: q('.conv-list .conv'),
                         badge: badge && badge.textContent,
                         moderator: !!(other && other.dataset.canDelete),
                         secret: document.body.innerText.includes('a word in private') };
            })()""")

        state = wait_until(lambda: (s := shown()) and s["tombstones"] == 1 and s["convs"] == 2
                           and s["chips"] == 1 and s["moderator"] and s,
                           timeout=20, interval=0.3, what="the conversation to show")
        assert state["quotes"] == 1 and state["badge"] == "1"
        assert not state["secret"], "a private message showed in the room's stream"
        time.sleep(0.3)
        shot(xvfb, "desktop-conversations.png")
