"""The real desktop window under Xvfb stands by for the room it is in: a room hosted by a separate
``python -m server`` process, replicated into the app's data folder while the window is in it,
and not replicated once the person switched standing by off in the lobby."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Chatter, wait_until
from tests.desktop_helpers import DesktopApp, Xvfb
from tests.procs import HostProcess
from tests.test_desktop import shot
from tests.test_desktop_room_life import back_to_lobby, join_in_window, text_of
from tests.test_desktop_standby import replica_texts

pytestmark = [pytest.mark.desktop, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                      reason="the window tests use Xvfb")]

STANDBY_BOX = "document.getElementById('pref-standby')"


@pytest.fixture
def far_host(tmp_path: Path) -> Iterator[HostProcess]:
    """Another machine's room: ``python -m server`` on loopback, no password, no discovery."""
    host = HostProcess(tmp_path / "far").start()
    yield host
    host.stop()


def test_the_app_keeps_a_replica_of_the_room_its_window_is_in_unless_switched_off(
        far_host: HostProcess, xvfb: Xvfb, tmp_path: Path) -> None:
    maya = Chatter(far_host, "Maya")  # type: ignore[arg-type]
    app = DesktopApp(tmp_path / "app", xvfb.display, "--join", f"{far_host.url}/")
    try:
        for i in range(3):
            maya.say(f"before you came {i}")
            maya.recv_type("message")
        room_id = httpx.get(f"{far_host.url}/api/room", timeout=5).json()["room_id"]
        folder = tmp_path / "app" / "chat-data" / "replicas" / room_id
        app.wait_loaded()
        join_in_window(app, "Ann")
        wait_until(lambda: replica_texts(folder)[:3] == [f"before you came {i}"
                                                         for i in range(3)],
                   timeout=20, what="the replica to catch up with the history")
        maya.say("while you are here")
        wait_until(lambda: "while you are here" in replica_texts(folder), timeout=15,
                   what="a live message in the replica")
        wait_until(lambda: "while you are here" in text_of(app), what="the message on screen")
        time.sleep(0.3)
        shot(xvfb, "desktop-standby-in-room.png")

        back_to_lobby(app)  # leaving the room: the standby stops
        wait_until(lambda: "stopped standing by for room" in app.log(), timeout=15,
                   what="the standby to stop")
        wait_until(lambda: app.eval(f"!!{STANDBY_BOX} && {STANDBY_BOX}.checked && "
                                    "!document.querySelector('.prefs-card').hidden"),
                   timeout=15, what="the lobby's standby switch, on")
        time.sleep(0.3)  # let the lobby paint before the screenshot
        shot(xvfb, "desktop-lobby-standby-on.png")
        app.eval(f"{STANDBY_BOX}.click(); 1")  # the person switches it off
        prefs_file = tmp_path / "app" / "config" / "LANChat" / "prefs.json"
        wait_until(lambda: prefs_file.is_file()
                   and json.loads(prefs_file.read_text("utf-8")).get("standby") is False,
                   what="the choice saved")
        assert app.eval(f"{STANDBY_BOX}.checked") is False
        time.sleep(0.3)
        shot(xvfb, "desktop-lobby-standby-off.png")

        held = replica_texts(folder)
        app.eval(f"location.href = {json.dumps(far_host.url + '/')}; 1")
        # The window remembers Ann's name for this room now: in she goes, or she types it.
        wait_until(lambda: app.eval("!!document.getElementById('join-name') || "
                                    "!!document.querySelector('.conn-online')"), timeout=20,
                   what="the room again")
        if app.eval("!!document.getElementById('join-name')"):
            join_in_window(app, "Ann")
        wait_until(lambda: "standing by is off: no replica of the room" in app.log(),
                   timeout=15, what="the app to decide not to stand by")
        maya.say("after you switched it off")
        wait_until(lambda: "after you switched it off" in text_of(app),
                   what="the message on screen")
        assert replica_texts(folder) == held  # the copy is left as it was, and not followed
    finally:
        maya.close()
        app.stop()
