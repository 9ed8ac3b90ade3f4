"""The desktop app stands by for the room its window is in (desktop/standby.py), without a window:
a real host on loopback, the app's real standby server, its replica read from the app's data
folder. The window itself is tested in tests/test_desktop_standby_window.py."""

from __future__ import annotations

import json
import logging
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from desktop.bridge import Bridge
from desktop.pinning import Pinning, PinStore
from desktop.prefs import Prefs, PrefsError, PrefsStore, validate
from desktop.servers import EmbeddedServer
from desktop.standby import REPLICAS, StandbyKeeper, fetch_room_id, room_base
from server.runner import ServerThread
from server.settings import Settings
from tests.conftest import Chatter, Host, wait_until
from tests.desktop_helpers import port_is_free
from tests.tls_helpers import TlsMitm, cert_fingerprint, make_cert, served_fingerprint

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


def keeper_for(tmp_path: Path, allowed: list[bool],
               pins: PinStore | None = None) -> StandbyKeeper:
    settings = Settings(data_dir=tmp_path / "app-data", discovery=False)
    return StandbyKeeper(settings, lambda: OWN_PORT, lambda: allowed[0],
                         pins=pins.get if pins is not None else lambda _room_id: None)


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
        # The same room at another address (as after a move the window followed): kept.
        keeper.page_loaded(f"http://localhost:{remote.port}/")
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
    # Each new password restarts the standby: a page cannot make the app churn it.
    results = [bridge.call_from(room_page, "stand_by_with", [f"guess {i}"]) for i in range(20)]
    assert results.count(True) <= 2 and len(given) <= 3


def test_the_window_accepts_the_standby_of_a_pinned_room_by_its_replicated_certificate(
        tmp_path: Path) -> None:
    """The room's TLS identity travels to its standbys, so the host the window follows the room
    to presents the certificate the window pinned for that room id: accepted without asking,
    while another certificate for the same room is still refused."""
    cert, key = make_cert(tmp_path, "room")
    fp = cert_fingerprint(cert)
    far = Host(tmp_path / "far", room="Far room", tls_cert_file=cert, tls_key_file=key).start()
    pins = PinStore(tmp_path / "config")
    keeper = keeper_for(tmp_path, [True], pins)
    try:
        base = f"https://127.0.0.1:{far.port}/"
        room_id = fetch_room_id(base)
        assert room_id is not None
        pins.remember(room_id, fp, "Far room", base)  # the window's first visit
        keeper.page_loaded(base)
        port = wait_until(lambda: keeper.port, timeout=20, what="the standby")
        # It answers with a certificate of its own until the room's identity has arrived.
        wait_until(lambda: served_fingerprint("127.0.0.1", port) == fp, timeout=20,
                   what="the standby to present the room's certificate")
        der = ssl.PEM_cert_to_DER_cert(cert.read_text("ascii"))
        assert keeper.target is not None and keeper.target.fingerprint == fp  # handed on
        verdict = Pinning(pins, lambda: []).judge(f"https://127.0.0.1:{port}/", der)
        assert verdict.action == "accept" and verdict.room_id == room_id
        other_cert, _ = make_cert(tmp_path, "impostor")
        impostor = ssl.PEM_cert_to_DER_cert(other_cert.read_text("ascii"))
        assert Pinning(pins, lambda: []).judge(f"https://127.0.0.1:{port}/",
                                               impostor).action == "refuse"
    finally:
        keeper.stop()
        far.stop()


def test_a_password_room_is_replicated_once_the_person_entered_its_password(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The host of a password room refuses standbys that do not know the password, and counts
    each try as a wrong password: the app waits for the one typed in the room's join prompt
    (handed over by the page), then its standby gets in."""
    caplog.set_level(logging.INFO, logger="desktop.standby")
    far = Host(tmp_path / "far", room="Far room", password="open sesame").start()
    keeper = keeper_for(tmp_path, [True])
    try:
        base = f"http://127.0.0.1:{far.port}/"
        keeper.page_loaded(base)
        wait_until(lambda: "waits for its password" in caplog.text, timeout=15,
                   what="the app to wait for the password")
        assert keeper.target is None
        maya = Chatter(far, "Maya",
                       additional_headers={"Cookie": session_cookie(far, "open sesame")})
        maya.say("for members only")
        maya.recv_type("message")
        maya.close()
        keeper.use_password(base, "open sesame")
        room_id = wait_until(lambda: keeper.target and keeper.target.room_id, timeout=20,
                             what="the standby")
        folder = tmp_path / "app-data" / REPLICAS / room_id
        wait_until(lambda: replica_texts(folder) == ["for members only"], timeout=20,
                   what="the replica of the password room")
    finally:
        keeper.stop()
        far.stop()


def test_a_standby_its_host_refuses_stops_and_is_not_tried_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A headless host with an admin password refuses standbys without it: the app's
    standby stops at the first refusal instead of trying again every few seconds, and coming
    back to the room does not try again."""
    caplog.set_level(logging.INFO, logger="desktop.standby")
    far = Host(tmp_path / "far", room="Far room", admin_password="only-the-host").start()
    keeper = keeper_for(tmp_path, [True])
    try:
        keeper.page_loaded(f"{far.url}/")
        port = wait_until(lambda: keeper.port, timeout=20, what="the standby")
        wait_until(lambda: "refuses this app's standby" in caplog.text, timeout=20,
                   what="the refusal")
        assert "admin password" in caplog.text
        wait_until(lambda: keeper.target is None and port_is_free(port), timeout=15,
                   what="the refused standby to stop")
        keeper.page_loaded(f"http://127.0.0.1:{OWN_PORT}/#lobby")
        keeper.page_loaded(f"{far.url}/")
        wait_until(lambda: "not asking again" in caplog.text, timeout=15,
                   what="the app to remember the refusal")
        assert keeper.target is None
    finally:
        keeper.stop()
        far.stop()


def test_a_room_another_desktop_app_hosts_takes_this_apps_standby(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A laptop hosting a room (its admin key is its window's own): another app in the room
    stands by with the room's password alone, and holds the room's messages."""
    caplog.set_level(logging.INFO, logger="desktop.standby")
    hosting = EmbeddedServer(Settings(port=0, data_dir=tmp_path / "laptop", discovery=False,
                                      hosting=False, tls=False)).start_lobby()
    keeper = keeper_for(tmp_path, [True])
    try:
        hosting.host("Den", password="den-pass")
        base = f"http://127.0.0.1:{hosting.port}/"
        keeper.page_loaded(base)
        wait_until(lambda: "waits for its password" in caplog.text, timeout=15,
                   what="the app to wait for the password")
        keeper.use_password(base, "den-pass")
        room_id = wait_until(lambda: keeper.target and keeper.target.room_id, timeout=20,
                             what="the standby")
        folder = tmp_path / "app-data" / REPLICAS / room_id
        wait_until(lambda: status_of(base).get("successors"), timeout=20,
                   what="the laptop to list the standby as its successor")
        assert "refuses" not in caplog.text and folder.is_dir()
    finally:
        keeper.stop()
        hosting.stop()


def status_of(base: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(base + "api/room", timeout=10).json()
    return answer


def session_cookie(host: Host, password: str) -> str:
    with host.http() as client:
        res = client.post("/api/login", json={"password": password},
                          headers={"Origin": host.url})
        assert res.status_code == 200, res.text
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def test_a_room_this_app_took_over_stays_open_and_is_never_stood_by_for_again(
        remote: Host, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The room's host hands it to this app's standby: the app hosts the room now. Leaving it
    in the window does not close it, opening it again starts no standby of itself, and the
    app's quitting stops it."""
    caplog.set_level(logging.INFO, logger="desktop.standby")
    keeper = keeper_for(tmp_path, [True])
    try:
        keeper.page_loaded(f"{remote.url}/")
        port = wait_until(lambda: keeper.port, timeout=20, what="the standby")
        here = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{remote.url}/api/room", timeout=2).json().get(
            "successors") == [here], timeout=20, interval=0.1, what="the standby as successor")
        remote.stop()  # the host quits on purpose: it hands the room over
        wait_until(lambda: httpx.get(f"{here}/api/room", timeout=2).json().get("term") == 1,
                   timeout=15, interval=0.1, what="this app's standby serving the room")
        keeper.page_loaded(f"http://127.0.0.1:{OWN_PORT}/#lobby")  # the window leaves
        wait_until(lambda: "hosts room" in caplog.text and "it stays open" in caplog.text,
                   timeout=15, what="the app to keep hosting the room")
        keeper.page_loaded(f"{here}/")  # and comes back, to this computer's address
        wait_until(lambda: "no standby for it" in caplog.text, timeout=15,
                   what="the app to see it hosts the room itself")
        assert keeper.target is None
        assert httpx.get(f"{here}/api/room", timeout=2).json()["term"] == 1  # still open
        assert not port_is_free(port)
    finally:
        keeper.stop()
    assert port_is_free(port)  # the app quit: the room it hosted stopped (handed on, or closed)


def test_no_standby_for_a_tls_room_behind_another_certificate_or_never_pinned(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A standby gets the room's whole history and TLS key: the app stands by only at an
    address that presents the certificate the window pinned for the room, never through a
    man in the middle (whom the window refused), nor for a room it pinned nothing for."""
    caplog.set_level(logging.INFO, logger="desktop.standby")
    cert, key = make_cert(tmp_path, "room")
    far = Host(tmp_path / "far", room="Far room", tls_cert_file=cert, tls_key_file=key).start()
    mallory_cert, mallory_key = make_cert(tmp_path, "mallory")
    mitm = TlsMitm(far.port, mallory_cert, mallory_key)
    pins = PinStore(tmp_path / "config")
    keeper = keeper_for(tmp_path, [True], pins)
    try:
        room_id = fetch_room_id(f"https://127.0.0.1:{far.port}/")
        assert room_id is not None
        keeper.page_loaded(f"https://127.0.0.1:{far.port}/")  # nothing pinned yet
        wait_until(lambda: caplog.text.count("does not present the certificate") == 1,
                   timeout=15, what="no standby without a pin")
        pins.remember(room_id, cert_fingerprint(cert), "Far room", "")
        keeper.page_loaded(f"https://127.0.0.1:{mitm.port}/")  # through Mallory's proxy
        wait_until(lambda: caplog.text.count("does not present the certificate") == 2,
                   timeout=15, what="no standby through the proxy")
        assert keeper.target is None
        assert b"/ws/standby" not in bytes(mitm.seen)  # no standby link through Mallory
        assert not (tmp_path / "app-data" / REPLICAS).exists()
    finally:
        keeper.stop()
        mitm.stop()
        far.stop()


def test_a_standby_given_the_rooms_fingerprint_sends_nothing_to_another_certificate(
        tmp_path: Path) -> None:
    """``standby_fingerprint`` (what the desktop app gives its standby from the window's pin):
    the standby's very first link must present that certificate, so a man in the middle gets
    neither the password in its hello nor, in answer, the room's history and key."""
    cert, key = make_cert(tmp_path, "room")
    far = Host(tmp_path / "far", room="Far room", tls_cert_file=cert, tls_key_file=key,
               password="open sesame").start()
    mallory_cert, mallory_key = make_cert(tmp_path, "mallory")
    mitm = TlsMitm(far.port, mallory_cert, mallory_key)
    standby = ServerThread(Settings(
        room="Far room", host="127.0.0.1", port=0, data_dir=tmp_path / "standby",
        discovery=False, password="open sesame", standby_url=f"https://127.0.0.1:{mitm.port}",
        standby_fingerprint=cert_fingerprint(cert).upper())).start()
    try:
        status = f"http://127.0.0.1:{standby.port}/api/room"
        wait_until(lambda: httpx.get(status, timeout=2).json().get("state") == "refused",
                   timeout=15, what="the standby to refuse the proxy")
        assert "certificate" in httpx.get(status, timeout=2).json()["problem"]
        assert b"open sesame" not in bytes(mitm.seen) and b"/ws/standby" in bytes(mitm.seen)
    finally:
        standby.stop()
        mitm.stop()
        far.stop()
