"""A room's life on a real host: closing for good is announced, and each room name hosted from
the desktop app is its own room with its own history and password."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from desktop.servers import EmbeddedServer, HostingError
from server.settings import Settings
from tests.conftest import Chatter, Host, wait_until


def test_a_host_shutting_down_says_so_before_closing(tmp_path: Path) -> None:
    host = Host(tmp_path / "data", host_name="Maya").start()
    try:
        bob = Chatter(host, "Bob")
        bob.say("see you")
        bob.recv_type("message")
    finally:
        host.close_room()
    closing = bob.recv_type("closing", timeout=5)
    assert closing["by"] == "Maya" and closing["room"] == "Test room"
    assert closing["reason"] == "shutdown" and closing["ts"].endswith("Z")
    with pytest.raises(ConnectionClosed):
        bob.recv(5)
    assert bob.ws.close_code == 1001
    # Not stored: a restarted host's history has no trace of it.
    host.start()
    try:
        with host.http() as http:
            events = http.get("/api/events", params={"after": 0}).json()["events"]
        assert "closing" not in {e["type"] for e in events}
    finally:
        host.stop()


def test_a_restart_is_not_announced_as_closing(tmp_path: Path) -> None:
    """Stopping to start again (an outage, the same room replaced in place) stays a blip:
    clients reconnect and keep what they typed in their outbox."""
    host = Host(tmp_path / "data").start()
    try:
        bob = Chatter(host, "Bob")
    finally:
        host.stop()
    with pytest.raises(ConnectionClosed):
        while True:
            assert bob.recv(5)["type"] != "closing"
    assert bob.ws.close_code != 1001


def chat_as(port: int, name: str, text: str, cookies: httpx.Cookies | None = None) -> None:
    header = ""
    if cookies is not None and cookies.get("lanchat_session"):
        header = f"lanchat_session={cookies.get('lanchat_session')}"
    with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10,
                 additional_headers={"Cookie": header} if header else None) as ws:
        ws.send(json.dumps({"type": "hello", "name": name, "client_id": str(uuid.uuid4()),
                            "since": None}))
        ws.send(json.dumps({"type": "message", "text": text, "client_msg_id": str(uuid.uuid4())}))
        wait_until(lambda: json.loads(ws.recv(5)).get("text") == text, what="the echo")


def test_each_room_name_is_its_own_room_and_keeps_its_password(tmp_path: Path) -> None:
    server = EmbeddedServer(Settings(port=0, data_dir=tmp_path / "data", discovery=False,
                                     hosting=False)).start_lobby()
    base = f"http://127.0.0.1:{server.port}"
    try:
        server.host("Maya's room", "maya-secret", host_name="Maya")
        login = httpx.post(f"{base}/api/login", json={"password": "maya-secret"})
        chat_as(server.port, "Maya", "private plans", login.cookies)
        maya_id = httpx.get(f"{base}/api/room").json()["room_id"]

        server.host("Standup")  # a new name, no password: a new, open room
        info = httpx.get(f"{base}/api/room").json()
        assert info["room"] == "Standup" and info["password"] is False
        assert info["room_id"] != maya_id
        events = httpx.get(f"{base}/api/events", params={"after": 0}).json()["events"]
        assert "private plans" not in json.dumps(events)

        with pytest.raises(HostingError, match="password"):
            server.host("Maya's room")  # the password cannot be dropped by leaving it out
        with pytest.raises(HostingError, match="password"):
            server.host("Maya's room", "guess")
        assert server.hosting  # a refused request changes nothing (still Standup)
        assert httpx.get(f"{base}/api/room").json()["room"] == "Standup"

        server.host("Maya's room", "maya-secret")
        info = httpx.get(f"{base}/api/room").json()
        assert info["room_id"] == maya_id and info["password"] is True
        assert httpx.get(f"{base}/api/events").status_code == 401
        login = httpx.post(f"{base}/api/login", json={"password": "maya-secret"})
        events = httpx.get(f"{base}/api/events", cookies=login.cookies).json()["events"]
        assert "private plans" in json.dumps(events)

        server.stop_hosting()
        assert not server.hosting
        assert httpx.get(f"{base}/api/room").json()["hosting"] is False
    finally:
        server.stop()


def test_the_hosting_window_is_the_rooms_admin_and_nobody_else(tmp_path: Path) -> None:
    """The desktop app makes a fresh admin key for each room it hosts; its window goes in
    through the admin entry and may moderate, a visitor who has only the room URL may not."""
    server = EmbeddedServer(Settings(port=0, data_dir=tmp_path / "data", discovery=False,
                                     hosting=False)).start_lobby()
    try:
        assert server.admin_url == f"{server.origin}/"  # the lobby has no admin
        server.host("Den", host_name="Ann")
        entry = server.admin_url
        assert "/api/admin/enter?key=" in entry
        with httpx.Client(follow_redirects=True) as window:
            landed = window.get(entry)
            assert landed.status_code == 200 and str(landed.url) == f"{server.origin}/"
            cookie = "; ".join(f"{k}={v}" for k, v in window.cookies.items())
        for header, admin in ((cookie, True), ("", False)):
            with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=10,
                         additional_headers={"Cookie": header} if header else None) as ws:
                ws.send(json.dumps({"type": "hello", "name": "A", "client_id": str(uuid.uuid4())}))
                welcome = json.loads(ws.recv(10))
                assert welcome["type"] == "welcome" and welcome["admin"] is admin
        first_key = entry
        server.host("Other room")
        assert server.admin_url != first_key  # a new room, a new key
    finally:
        server.stop()
