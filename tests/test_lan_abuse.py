"""Attacks from someone on the LAN, each against a real host: limits that reconnecting does not
reset, pages and welcomes bounded in bytes, readers that never read, names that pass for
someone else, and frames nested too deeply to parse."""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from typing import Any

import psutil
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect

from server.rates import RateTable
from tests.conftest import Chatter, Host, wait_until

CONTROLS = "\x01" * 8000  # about 48 KB as JSON: each control character escapes to six bytes


def _replies(chatter: Chatter, count: int) -> list[dict[str, Any]]:
    """The next ``count`` answers to messages (echoes or errors), skipping joins and leaves."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        event = chatter.recv(timeout=10)
        if event["type"] in ("message", "error"):
            out.append(event)
    return out


def _hello(host: Host, name: str, client_id: str | None = None) -> tuple[dict[str, Any], Any]:
    """Open /ws and say hello; the first frame answered and the socket (may be closing)."""
    ws = connect(host.ws_url, open_timeout=10, close_timeout=1).__enter__()
    ws.send(json.dumps({"type": "hello", "name": name,
                        "client_id": client_id or uuid.uuid4().hex}))
    return json.loads(ws.recv(timeout=10)), ws


def _close_of(ws: Any) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(100):
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


# Rates that hold across reconnects ---------------------------------------------------------


def test_reconnecting_does_not_refill_a_persons_message_rate(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(messages_per_second=0.2, message_burst=5)
    ada = Chatter(host, "Ada")
    for i in range(5):
        ada.say(f"burst {i}")
    assert [e["type"] for e in _replies(ada, 5)] == ["message"] * 5
    ada.close()
    again = Chatter(host, "Ada", client_id=ada.client_id)  # a new connection, the same person
    for i in range(5):
        again.say(f"after reconnect {i}")
    replies = _replies(again, 5)
    refused = [e for e in replies if e["type"] == "error"]
    assert len(refused) >= 4, replies
    assert all(e["code"] == "rate_limited" for e in refused)
    assert all(isinstance(e["retry_after"], (int, float)) and e["retry_after"] > 0
               for e in refused)
    assert "try again in" in refused[0]["detail"]
    again.close()


def test_one_address_cannot_send_more_by_making_up_people(make_host) -> None:  # type: ignore[no-untyped-def]
    # The default address_rate_factor (3): the address may send what three people may. The
    # refill is slow enough (one message back every 33 s) that the count does not depend on
    # how fast this machine runs the twenty sends.
    host: Host = make_host(messages_per_second=0.01, message_burst=4)
    sent = refused = 0
    for _ in range(5):  # five made-up people from 127.0.0.1, four messages each
        fake = Chatter(host, f"Fake {uuid.uuid4().hex[:6]}")
        for i in range(4):
            fake.say(f"spam {i}")
        for event in _replies(fake, 4):
            sent += event["type"] == "message"
            refused += event["type"] == "error" and event["code"] == "rate_limited"
        fake.close()
    assert sent <= 12 + 1, f"the address sent {sent} messages; its burst is 12"
    assert refused >= 7


def test_joins_are_limited_per_address_and_per_person(make_host) -> None:  # type: ignore[no-untyped-def]
    # The default bursts: a person may join 10 times in a row, an address 30 times. The refills
    # are slowed (by default a person gets a join back every 5 s, an address every 2 s), so
    # that the count does not depend on how fast this machine runs 31 joins.
    host: Host = make_host(joins_per_second_per_person=0.001,
                           joins_per_second_per_address=0.001)
    me = uuid.uuid4().hex
    for _ in range(10):
        first, ws = _hello(host, "Ada", me)
        assert first["type"] == "welcome"
        ws.close()
    first, ws = _hello(host, "Ada", me)
    assert first["type"] == "error" and first["code"] == "too_many_joins"
    assert isinstance(first["retry_after"], int) and first["retry_after"] >= 1
    code, reason = _close_of(ws)
    assert code == 4429 and "try again in" in reason
    # New people from the same address: twenty more fit (30 in all), then the address is done.
    for i in range(20):
        first, ws = _hello(host, f"Fake {i}")
        assert first["type"] == "welcome", (i, first)
        ws.close()
    first, ws = _hello(host, "One more")
    assert first["code"] == "too_many_joins"
    assert _close_of(ws)[0] == 4429
    with host.http() as http:
        events = http.get("/api/events", params={"limit": 500}).json()["events"]
    assert sum(e["type"] == "join" for e in events) <= 31


def test_the_rate_memory_is_bounded_and_forgets_what_has_refilled() -> None:
    table = RateTable(rate=1000.0, burst=5, max_keys=100)
    for i in range(1000):  # made-up people: the table never holds more than its bound
        table.bucket(f"fake-{i}").take()
    assert len(table) <= 100
    table = RateTable(rate=1e9, burst=1, max_keys=100)  # refills at once
    for i in range(50):
        table.bucket(f"p{i}").take()
    assert len(table) <= 2  # each one refilled before the next came, so it was forgotten
    spent = RateTable(rate=0.001, burst=3, max_keys=100)
    for _ in range(3):
        assert spent.bucket("ada").take() == 0.0
    assert spent.bucket("ada").take() > 0  # the same key, the same bucket: no refill


# Pages and welcomes bounded in bytes -------------------------------------------------------


def test_pages_and_welcomes_are_capped_in_bytes_and_page_on(make_host) -> None:  # type: ignore[no-untyped-def]
    cap = 512 * 1024  # the default page_max_bytes and welcome_max_bytes
    host: Host = make_host(message_burst=100)
    ada = Chatter(host, "Ada", max_queue=None)
    for _ in range(40):  # about 2 MB of history
        ada.say(CONTROLS)
    assert all(e["type"] == "message" for e in _replies(ada, 40))
    ada.close()
    with host.http() as http:
        # Ada's leave line is held for a moment before it is stored: page once it is there.
        wait_until(lambda: http.get("/api/events", params={"limit": 1}).json()["events"][-1]
                   ["type"] == "leave")
        forward: list[dict[str, Any]] = []
        after = 0
        while True:
            r = http.get("/api/events", params={"after": after, "limit": 500})
            assert len(r.content) <= cap + 60 * 1024, len(r.content)  # the cap, plus the wrapper
            page = r.json()
            forward += page["events"]
            after = page["events"][-1]["id"]
            if not page["has_more"]:
                break
        backward: list[dict[str, Any]] = []
        before = None
        while True:
            params = {"limit": 500} | ({"before": before} if before else {})
            r = http.get("/api/events", params=params)
            assert len(r.content) <= cap + 60 * 1024, len(r.content)
            page = r.json()
            backward = page["events"] + backward
            before = page["events"][0]["id"]
            if not page["has_more"]:
                break
    ids = list(range(1, len(forward) + 1))
    assert [e["id"] for e in forward] == ids and [e["id"] for e in backward] == ids
    assert sum(e["type"] == "message" for e in forward) == 40
    # A fresh welcome holds the newest events that fit, and says there is more before them.
    bob = Chatter(host, "Bob")
    welcome = json.dumps(bob.welcome)
    assert len(welcome.encode()) <= cap + 60 * 1024
    assert bob.welcome["has_more_before"] is True
    assert bob.welcome["events"][-1]["id"] == bob.welcome["last_id"]  # the newest that fit
    # A resuming one too, with has_more_after to page on.
    carl = Chatter(host, "Carl", since=0)
    assert len(json.dumps(carl.welcome).encode()) <= cap + 60 * 1024
    assert carl.welcome["has_more_after"] is True and carl.welcome["events"][0]["id"] == 1
    bob.close()
    carl.close()


# Readers that never read ---------------------------------------------------------------


def _silent_client(host: Host, name: str) -> socket.socket:
    """A WebSocket client with a tiny receive window that says hello and never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", host.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{host.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    sock.settimeout(10)
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    hello = json.dumps({"type": "hello", "name": name, "client_id": uuid.uuid4().hex})
    sock.sendall(Frame(Opcode.TEXT, hello.encode()).serialize(mask=True))
    return sock


def _server_side_open(host: Host, client: socket.socket) -> bool:
    """Whether the host still holds its end of ``client``'s TCP connection open."""
    port = client.getsockname()[1]
    return any(c.raddr and c.raddr.port == port and c.laddr.port == host.port
               and c.status == psutil.CONN_ESTABLISHED
               for c in psutil.Process().net_connections("tcp"))


def test_a_reader_that_reads_nothing_is_timed_out_and_its_buffer_freed(make_host) -> None:  # type: ignore[no-untyped-def]
    # The buffer bound is far away, so only the send timeout (10 s) can notice this reader.
    host: Host = make_host(client_buffer_bytes=256 * 1024 * 1024, message_burst=1000,
                           messages_per_second=1000.0)
    hub = host.room.hub
    silent = _silent_client(host, "Silent")
    ada = Chatter(host, "Ada", max_queue=None)
    wait_until(lambda: len(hub.connections) == 2, 10, what="both in the room")
    for _ in range(200):  # about 10 MB for the silent reader: more than the kernel buffers
        ada.say(CONTROLS)
    assert all(e["type"] == "message" for e in _replies(ada, 200))
    wait_until(lambda: len(hub.connections) == 1, 30, what="the silent reader to be closed")
    assert ada.recv_type("leave", timeout=10)["user"]["name"] == "Silent"
    # Its end of the socket is cut too (once the keepalive would call it dead: 25 s), so the
    # megabytes buffered for it are freed.
    wait_until(lambda: not _server_side_open(host, silent), 60,
               what="the host to drop its end of the silent reader's socket")
    ada.say("still here")
    assert ada.recv_type("message", text="still here")
    silent.close()
    ada.close()


# Names that pass for someone else ----------------------------------------------------------

INVISIBLE = ["Alice\u034f", "Alice\ufe0f", "Alice\u3164", "Al\u2800ice", "Alice\uffa0",
             "Ali\u00adce", "Alice\u200b", "\u115fAlice", "Alice\U000e0041"]
# Capital I, dotless ı, Latin alpha ɑ, Cyrillic А and е, case, full width.
LOOK_ALIKES = ["AIice", "Al\u0131ce", "\u0251lice", "\u0410lice", "Alic\u0435", "ALICE", "alice",
               "\uff21\uff4c\uff49\uff43\uff45"]


@pytest.mark.parametrize("name", INVISIBLE)
def test_names_with_invisible_or_blank_characters_are_refused(host: Host, name: str) -> None:
    first, ws = _hello(host, name)
    assert first["type"] == "error" and first["code"] == "bad_name"
    assert "U+" in first["detail"]
    code, reason = _close_of(ws)
    assert code == 4400 and "invisible" in reason


def test_names_that_look_like_someone_online_get_a_number(host: Host) -> None:
    alice = Chatter(host, "Alice")
    hannah = Chatter(host, "Hannah")
    others = []
    for name in LOOK_ALIKES:
        c = Chatter(host, name)
        assert c.me["name"] != name and c.me["name"].startswith(name), (name, c.me)
        others.append(c)
    cyrillic_h = Chatter(host, "Hanna\u04bb")  # Cyrillic һ
    assert cyrillic_h.me["name"] == "Hanna\u04bb (2)"
    fine = Chatter(host, "Alicia")
    assert fine.me["name"] == "Alicia"
    for c in (alice, hannah, cyrillic_h, fine, *others):
        c.close()


# Frames nested too deeply ------------------------------------------------------------------


def test_deeply_nested_json_is_a_bad_json_error_not_a_crash(host: Host) -> None:
    first, ws = _hello_raw(host, "[" * 50_000)
    assert first["type"] == "error" and first["code"] == "bad_json"
    assert _close_of(ws)[0] == 4400
    ada = Chatter(host, "Ada")
    ada.ws.send("[" * 50_000)
    assert ada.recv_type("error")["code"] == "bad_json"
    ada.ws.send('{"type": "message", "client_msg_id": "a", "text": ' + "[" * 50_000)
    assert ada.recv_type("error")["code"] == "bad_json"
    ada.say("still here")
    assert ada.recv_type("message")["text"] == "still here"
    ada.close()


def _hello_raw(host: Host, raw: str) -> tuple[dict[str, Any], Any]:
    ws = connect(host.ws_url, open_timeout=10, close_timeout=1).__enter__()
    ws.send(raw)
    return json.loads(ws.recv(timeout=10)), ws
