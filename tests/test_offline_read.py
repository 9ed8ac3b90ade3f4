"""Reading a room while no host serves it: a standby answers read-only from its replica.

Real processes: a host and a standby (``python -m server --standby URL``). The host is killed
(SIGKILL) while the standby's take-over is held off by a long ``standby_grace_seconds``, so no
host serves the room. The standby then answers history pages, searches and the files it holds,
each filtered as the host filters them (private events only for their two people; a password
room only with its session), and refuses to store anything. When the host serves again, the
read-only sockets are sent to it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import Chatter, wait_until
from tests.procs import HostProcess

HOLD_OFF = {"LANCHAT_STANDBY_GRACE_SECONDS": "600"}  # no take-over during the test


def room_info(node: HostProcess) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = httpx.get(f"{node.url}/api/room", timeout=5).json()
    except httpx.HTTPError:
        return {}
    return answer


def echo(chatter: Chatter, cmid: str) -> dict[str, Any]:
    return chatter.recv_type("message", client_msg_id=cmid, timeout=15)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[HostProcess, HostProcess]]:
    """A host and its standby (stopped by PID at the end); the test sets their environment."""
    host = HostProcess(tmp_path / "host")
    standby = HostProcess(tmp_path / "standby", None, "--standby", host.url)
    standby.env.update(HOLD_OFF)
    try:
        yield host, standby
    finally:
        for proc in (standby, host):
            proc.kill()


def stand_by_and_lose_host(host: HostProcess, standby: HostProcess,
                           session: str | None = None) -> None:
    """Start the standby, let it catch up with the host, then kill the host."""
    standby.start()
    wait_until(lambda: room_info(standby).get("state") == "following", timeout=30,
               what="the standby to follow the host")
    wait_until(lambda: room_info(standby).get("last_id") == last_stored(host, session), timeout=30,
               what="the replica to catch up")
    host.kill()
    wait_until(lambda: room_info(standby).get("read_only") is True, timeout=30,
               what="the standby to read its replica out")


def last_stored(host: HostProcess, session: str | None) -> int:
    headers = {"X-LanChat-Session": session} if session else {}
    page = httpx.get(f"{host.url}/api/events", params={"limit": 1}, headers=headers,
                     timeout=5).json()
    return int(page["events"][-1]["id"]) if page["events"] else 0


def texts(events: list[dict[str, Any]]) -> set[str]:
    return {str(e.get("text")) for e in events if e.get("type") == "message"}


def page_for(node: HostProcess, client_id: str | None) -> set[str]:
    headers = {"X-LanChat-Client": client_id} if client_id else {}
    answer = httpx.get(f"{node.url}/api/events", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return texts(answer.json()["events"])


class Reader(Chatter):
    """A chat client that can show a read-only room (its hello says ``read_only``)."""

    def __init__(self, node: HostProcess, name: str, client_id: str) -> None:
        self.client_id = client_id
        self.ws = connect(node.ws_url, open_timeout=10).__enter__()
        self.send(type="hello", name=name, client_id=client_id, since=None, read_only=True)
        self.welcome = self.recv_type("welcome")
        self.me = self.welcome["you"]


def search(chatter: Chatter, q: str) -> set[str]:
    chatter.send(type="search", q=q)
    return texts(chatter.recv_type("results", timeout=10)["events"])


def test_a_standby_reads_the_room_out_while_no_host_serves_it(pair) -> None:  # type: ignore[no-untyped-def]
    host, standby = pair
    host.start()
    ada, bob = Chatter(host, "Ada"), Chatter(host, "Bob")
    eve_id = str(uuid.uuid4())
    echo(ada, ada.say("the lantern is on the shelf"))
    echo(ada, ada.say("the lantern key is under the mat", to=bob.me["id"]))
    upload = httpx.post(f"{host.url}/api/files", params={"name": "map.txt"},
                        content=b"north of the lantern", timeout=10)
    assert upload.status_code == 201, upload.text
    file_id = upload.json()["id"]
    echo(ada, ada.say("here is the map", file_id=file_id))
    stand_by_and_lose_host(host, standby)
    wait_until(lambda: httpx.get(f"{standby.url}/api/files/{file_id}", timeout=5
                                 ).status_code == 200, timeout=30, what="the file on the copy")

    public = {"the lantern is on the shelf", "here is the map"}
    private = "the lantern key is under the mat"
    assert page_for(standby, bob.client_id) == public | {private}
    assert page_for(standby, ada.client_id) == public | {private}
    assert page_for(standby, eve_id) == public
    assert page_for(standby, None) == public
    download = httpx.get(f"{standby.url}/api/files/{file_id}", timeout=10)
    assert download.content == b"north of the lantern"

    # A client that does not know read-only rooms is sent to the host, as before.
    with connect(standby.ws_url, open_timeout=10) as old:
        old.send(json.dumps({"type": "hello", "name": "Old", "client_id": str(uuid.uuid4()),
                             "since": None}))
        assert json.loads(old.recv(timeout=10))["type"] == "moved"
        with pytest.raises(ConnectionClosed) as sent_on:
            old.recv(timeout=10)
        assert sent_on.value.rcvd is not None and sent_on.value.rcvd.code == 4301
    eve = Reader(standby, "Eve", eve_id)
    assert eve.welcome["read_only"] is True and eve.welcome["room_id"] == ada.welcome["room_id"]
    assert eve.welcome["machine"]
    assert texts(eve.welcome["events"]) == public
    assert search(eve, "lantern") == {"the lantern is on the shelf"}
    bob_there = Reader(standby, "Bob", bob.client_id)
    assert private in texts(bob_there.welcome["events"])
    assert search(bob_there, "lantern") == {"the lantern is on the shelf", private}

    cmid = eve.say("may I write here?")
    refused = eve.recv_type("error", timeout=10)
    assert refused["code"] == "read_only" and refused["client_msg_id"] == cmid
    assert refused["detail"] == "the room's host is away; read-only until it is back"
    assert httpx.post(f"{standby.url}/api/files", params={"name": "x.txt"}, content=b"x",
                      timeout=10).status_code == 503
    assert "may I write here?" not in page_for(standby, eve_id)
    for _ in range(12):  # searches are limited per person, as at a host (burst of 10)
        eve.send(type="search", q="shelf")
    assert eve.recv_type("error", timeout=10)["code"] == "rate_limited"

    started = time.monotonic()
    host.start()  # the host serves again: the read-only sockets are sent to it
    moved = eve.recv_type("moved", timeout=30)
    assert moved["url"].rstrip("/") == host.url
    with pytest.raises(ConnectionClosed) as closed:
        eve.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4301
    print(f"\nread-only sockets sent back to the host {time.monotonic() - started:.2f} s "
          "after it started again")
    wait_until(lambda: room_info(standby).get("read_only") is False, timeout=10,
               what="the standby to stand by again")
    assert httpx.get(f"{standby.url}/api/events", timeout=5).status_code == 503


def test_a_password_rooms_copy_needs_its_session(pair) -> None:  # type: ignore[no-untyped-def]
    host, standby = pair
    for proc in (host, standby):
        proc.env["LANCHAT_PASSWORD"] = "open sesame"
    host.start()
    login = httpx.post(f"{host.url}/api/login", json={"password": "open sesame"}, timeout=10)
    assert login.status_code == 200, login.text
    token = login.cookies["lanchat_session"]
    ada = Chatter(host, "Ada", additional_headers={"Cookie": f"lanchat_session={token}"})
    echo(ada, ada.say("behind the password"))
    stand_by_and_lose_host(host, standby, token)

    refused = httpx.get(f"{standby.url}/api/events", timeout=10)
    assert refused.status_code == 401
    forged = httpx.get(f"{standby.url}/api/events", headers={"X-LanChat-Session": "a.b"},
                       timeout=10)
    assert forged.status_code == 401
    allowed = httpx.get(f"{standby.url}/api/events", headers={"X-LanChat-Session": token},
                        timeout=10)
    assert allowed.status_code == 200
    assert texts(allowed.json()["events"]) == {"behind the password"}

    with connect(standby.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "name": "Mallory", "client_id": str(uuid.uuid4()),
                            "since": None, "read_only": True}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                assert json.loads(ws.recv(timeout=10))["type"] != "welcome"
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    with connect(standby.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "name": "Ada", "client_id": str(uuid.uuid4()),
                            "since": None, "session": token, "read_only": True}))
        welcome = json.loads(ws.recv(timeout=10))
        assert welcome["type"] == "welcome" and welcome["read_only"] is True
        assert texts(welcome["events"]) == {"behind the password"}
