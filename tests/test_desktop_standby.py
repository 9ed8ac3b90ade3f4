"""The desktop app stands by for the room its window is in (desktop/standby.py), without a window:
a real host on loopback, the app's real standby server, its replica read from the app's data
folder. The window itself is tested in tests/test_desktop_standby_window.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.bridge import Bridge
from desktop.prefs import Prefs, PrefsError, PrefsStore, validate
from desktop.servers import EmbeddedServer
from desktop.standby import REPLICAS, StandbyKeeper, fetch_room_id, room_base
from server.settings import Settings
from tests.conftest import Chatter, Host, wait_until
from tests.desktop_helpers import port_is_free

OWN_PORT = 8123


def replica_texts(folder: Path) -> list[str]:
    """The message texts a replica holds (read-only; [] while it has no history yet)."""
    db = folder / "history.sqlite3"
    if not db.is_file():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2) as conn:
            rows = conn.execute("SELECT payload FROM events WHERE type='message' "
                                "ORDER BY id").fetchall()
    except sqlite3.Error:
        return []
    return [json.loads(p).get("text", "") for (p,) in rows]


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Host]:
    """Another machine's room, on loopback, without TLS or password (anyone may stand by)."""
    host = Host(tmp_path / "remote", room="Far room").start()
    yield host
    host.stop()


def keeper_for(tmp_path: Path, allowed: list[bool]) -> StandbyKeeper:
    settings = Settings(data_dir=tmp_path / "app-data", discovery=False)
    return StandbyKeeper(settings, lambda: OWN_PORT, lambda: allowed[0])


def test_room_base_is_a_remote_room_and_never_this_apps_own_pages() -> None:
    assert room_base("https://10.0.0.3:8765/#room", OWN_PORT) == "https://10.0.0.3:8765/"
    assert room_base("http://192.168.1.20:8765/join?x=1", OWN_PORT) == "http://192.168.1.20:8765/"
    assert room_base(f"http://127.0.0.1:{OWN_PORT}/#lobby", OWN_PORT) is None
    assert room_base(f"http://localhost:{OWN_PORT}/", OWN_PORT) is None
    for url in ("", "about:blank", "file:///etc/passwd", "data:text/html,x", "https:///x"):
        assert room_base(url, OWN_PORT) is None, url


def test_the_standby_preference_is_on_by_default_and_only_a_boolean() -> None:
    assert Prefs().standby is True
    assert validate({"standby": False}, Prefs()).standby is False
    assert validate({"name": "Ann"}, Prefs(standby=False)).standby is False
    for junk in ("false", 0, None, [], {"x": 1}):
        with pytest.raises(PrefsError, match="standby"):
            validate({"standby": junk}, Prefs())


def test_only_the_apps_own_page_switches_standing_by(tmp_path: Path) -> None:
    server = EmbeddedServer(Settings(port=OWN_PORT, data_dir=tmp_path / "d"))
    prefs = PrefsStore(tmp_path / "config")
    changed: list[int] = []
    bridge = Bridge(server, prefs, prefs_changed=lambda: changed.append(1))
    remote_page = "https://10.0.0.3:8765/"
    assert "error" in bridge.call_from(remote_page, "set_prefs", [{"standby": False}])
    assert prefs.load().standby is True and changed == []
    own_page = f"http://127.0.0.1:{OWN_PORT}/#lobby"
    answer: dict[str, Any] = bridge.call_from(own_page, "set_prefs", [{"standby": False}])
    assert answer["prefs"]["standby"] is False and changed == [1]
    assert bridge.call_from(remote_page, "get_prefs", [])["standby"] is False
    bridge.call_from(own_page, "set_prefs", [{"name": "Ann"}])
    assert changed == [1]  # the name alone does not touch the standby


def test_keeper_stands_by_for_the_room_on_screen_and_stops_when_the_window_leaves(
        remote: Host, tmp_path: Path) -> None:
    maya = Chatter(remote, "Maya")
    for i in range(5):
        maya.say(f"before {i}")
        maya.recv_type("message")
    keeper = keeper_for(tmp_path, [True])
    room_id = fetch_room_id(f"http://127.0.0.1:{remote.port}/")
    assert room_id is not None
    folder = tmp_path / "app-data" / REPLICAS / room_id
    try:
        keeper.page_loaded(f"http://127.0.0.1:{remote.port}/#join")
        wait_until(lambda: replica_texts(folder) == [f"before {i}" for i in range(5)],
                   timeout=20, what="the replica to catch up")
        standby_port = keeper.port
        assert standby_port is not None and keeper.target is not None
        assert keeper.target.room_id == room_id
        keeper.page_loaded(f"http://127.0.0.1:{remote.port}/")  # same room: nothing new
        maya.say("live")
        maya.recv_type("message", text="live")
        wait_until(lambda: replica_texts(folder)[-1:] == ["live"], timeout=15,
                   what="the live message in the replica")
        assert keeper.port == standby_port

        keeper.page_loaded(f"http://127.0.0.1:{OWN_PORT}/#lobby")  # back to the lobby
        wait_until(lambda: keeper.target is None and port_is_free(standby_port), timeout=15,
                   what="the standby to stop")
        assert replica_texts(folder)[-1:] == ["live"]  # the copy stays for the next visit
    finally:
        keeper.stop()
        maya.close()


def test_keeper_keeps_no_copy_while_standing_by_is_off(remote: Host, tmp_path: Path) -> None:
    allowed = [False]
    keeper = keeper_for(tmp_path, allowed)
    try:
        keeper.page_loaded(f"http://127.0.0.1:{remote.port}/")
        keeper.refresh()
    finally:
        keeper.stop()  # waits for every decision under way
    assert keeper.target is None
    assert not (tmp_path / "app-data" / REPLICAS).exists()


def test_a_remote_room_page_may_hand_its_password_to_its_standby_only(tmp_path: Path) -> None:
    server = EmbeddedServer(Settings(port=OWN_PORT, data_dir=tmp_path / "d"))
    given: list[tuple[str, str]] = []
    bridge = Bridge(server, PrefsStore(tmp_path / "config"),
                    room_password=lambda url, pw: given.append((url, pw)))
    room_page = "https://10.0.0.3:8765/"
    assert bridge.call_from(room_page, "stand_by_with", ["s3cret"]) is True
    assert given == [(room_page, "s3cret")]
    own_page = f"http://127.0.0.1:{OWN_PORT}/"
    for page, junk in ((own_page, "s3cret"), (room_page, ""), (room_page, 42),
                       (room_page, "x" * 129), (room_page, None)):
        assert bridge.call_from(page, "stand_by_with", [junk]) is False
    assert given == [(room_page, "s3cret")]
