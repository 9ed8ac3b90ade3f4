"""``GET /api/peers`` and ``/api/peers/stream`` on real hosts, zeroconf pinned to 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from server.app import create_app
from tests.conftest import Chatter, Host, wait_until
from tests.conftest import test_settings as settings_for

PINNED = {"discovery": True, "discovery_interfaces": ("127.0.0.1",)}


def peers_of(host: Host) -> list[dict[str, Any]]:
    with host.http() as http:
        body = http.get("/api/peers").json()
    return list(body["peers"])


def room_named(host: Host, name: str) -> Callable[[], dict[str, Any] | None]:
    def find() -> dict[str, Any] | None:
        return next((p for p in peers_of(host) if p["name"] == name), None)
    return find


def sse_snapshots(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Each ``data:`` event of a peers stream, decoded."""
    for line in response.iter_lines():
        if line.startswith("data: "):
            yield json.loads(line[len("data: "):])


def test_peers_when_discovery_is_off_says_so(tmp_path: Path) -> None:
    # An IP literal as Host: the app answers only to its own names and addresses.
    with TestClient(create_app(settings_for(tmp_path)), base_url="http://127.0.0.1") as client:
        body = client.get("/api/peers").json()
    assert body["peers"] == []
    status = body["status"]
    assert status["enabled"] is False and status["browsing"] is False
    assert status["hints"] and "turned off" in status["hints"][0]
    assert status["hint_codes"] == ["off"]  # one code per hint: the lobby says it in its language


def test_two_hosts_list_each_other_count_users_and_drop_a_host_that_quits(
        make_host: Callable[..., Host]) -> None:
    ada = make_host(room="Ada's room", **PINNED)
    bob = make_host(room="Bob's room", **PINNED)

    t0 = time.monotonic()
    seen = wait_until(room_named(bob, "Ada's room"), timeout=5, interval=0.05,
                      what="Bob's host listing Ada's room")
    print(f"\nAda's room listed by Bob's host {time.monotonic() - t0:.2f} s after both started")
    with ada.http() as http:
        ada_room = http.get("/api/room").json()
    assert seen == {"id": ada_room["room_id"], "name": "Ada's room",
                    "url": f"http://127.0.0.1:{ada.port}/", "host": "127.0.0.1",
                    "port": ada.port, "users": 0, "version": ada_room["version"],
                    "password": False, "machine": ada_room["machine"], "self": False,
                    "fingerprint": None, "term": ada_room["term"]}
    mine = wait_until(room_named(ada, "Ada's room"), timeout=5, what="Ada's own room")
    assert mine["self"] is True

    with ada.http() as http:
        status = http.get("/api/peers").json()["status"]
    assert status["enabled"] and status["browsing"] and status["advertising"]
    assert status["interfaces"] == ["127.0.0.1"] and status["pinned"] is True
    assert status["advertised_addresses"] == ["127.0.0.1"] and status["errors"] == []

    carol = Chatter(ada, "Carol")
    wait_until(lambda: (room_named(bob, "Ada's room")() or {}).get("users") == 1, timeout=5,
               what="Ada's user count reaching Bob")
    carol.close()

    t0 = time.monotonic()
    ada.stop()
    stopped = time.monotonic()
    wait_until(lambda: room_named(bob, "Ada's room")() is None, timeout=2, interval=0.05,
               what="Ada's room leaving Bob's list")
    print(f"Ada's host stopped in {stopped - t0:.2f} s; gone from Bob's list "
          f"{time.monotonic() - stopped:.2f} s later")


def test_peer_stream_sends_the_list_on_connect_and_on_change_and_ends_at_shutdown(
        make_host: Callable[..., Host]) -> None:
    bob = make_host(room="Bob's room", **PINNED)
    wait_until(room_named(bob, "Bob's room"), timeout=5, what="Bob's own room")
    with httpx.Client(base_url=bob.url, timeout=10) as http, \
            http.stream("GET", "/api/peers/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        snapshots = sse_snapshots(response)
        first = next(snapshots)
        assert [p["name"] for p in first["peers"]] == ["Bob's room"]
        assert first["status"]["browsing"] is True

        make_host(room="Dan's room", **PINNED)
        deadline = time.monotonic() + 5
        for snap in snapshots:
            if "Dan's room" in [p["name"] for p in snap["peers"]]:
                break
            assert time.monotonic() < deadline, "Dan's room never reached the stream"

        # A lobby with the stream open must not hold the server's shutdown up.
        t0 = time.monotonic()
        bob.stop()
        took = time.monotonic() - t0
        rest = list(snapshots)  # the server ended the stream: iteration finishes
    print(f"\nshutdown with a peer stream open took {took:.2f} s; {len(rest)} more events")
    assert took < 1.5


def test_with_discovery_off_an_open_peer_stream_still_ends_at_shutdown(
        make_host: Callable[..., Host]) -> None:
    """The desktop lobby runs with discovery off when asked to; hosting a room from it stops
    that host, which an open room-list stream held up for uvicorn's whole grace time (2 s)."""
    lobby = make_host(room="Lobby", hosting=False)  # discovery off: the fixture's default
    with httpx.Client(base_url=lobby.url, timeout=10) as http, \
            http.stream("GET", "/api/peers/stream") as response:
        snapshots = sse_snapshots(response)
        first = next(snapshots)
        assert first["status"]["browsing"] is False
        t0 = time.monotonic()
        lobby.stop()
        took = time.monotonic() - t0
        rest = list(snapshots)  # ended by the server, not by a timeout
    print(f"\nshutdown with discovery off and a peer stream open took {took:.2f} s; "
          f"{len(rest)} more events")
    assert took < 1.5


def test_a_password_room_is_listed_and_says_it_needs_a_password(
        make_host: Callable[..., Host]) -> None:
    """The liveness probe must not need the password, or locked rooms would never be listed."""
    make_host(room="Locked room", password="open sesame", **PINNED)
    lobby = make_host(room="Lobby", hosting=False, **PINNED)
    locked = wait_until(room_named(lobby, "Locked room"), timeout=5, what="the locked room")
    assert locked["password"] is True
    with lobby.http() as http:
        status = http.get("/api/peers").json()["status"]
    assert status["advertising"] is False  # a lobby browses but advertises nothing
    assert "Lobby" not in [p["name"] for p in peers_of(lobby)]
