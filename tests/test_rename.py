"""Names in the room: a taken name is reported in the welcome, and a person can rename."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Chatter, Host


def test_welcome_says_when_the_asked_for_name_was_taken(host: Host) -> None:
    ana = Chatter(host, "Ana")
    assert "name_taken" not in ana.welcome
    other = Chatter(host, "ana")
    assert other.me["name"] == "ana (2)"
    assert other.welcome["name_taken"] is True
    assert other.welcome["requested_name"] == "ana"
    ana.close()
    other.close()


def test_rename_is_stored_broadcast_and_checked_like_hello(host: Host) -> None:
    ana = Chatter(host, "Ana")
    bob = Chatter(host, "Bob")
    bob.send(type="rename", name="  Ana  ")
    assert bob.recv_type("error")["code"] == "name_taken"
    bob.send(type="rename", name="Bob\u200b")
    assert bob.recv_type("error")["code"] == "bad_name"
    bob.send(type="rename", name="x" * 33)
    assert bob.recv_type("error")["code"] == "bad_name"
    bob.send(type="rename", name="Bob")
    assert bob.recv_type("error")["code"] == "same_name"

    bob.send(type="rename", name="  Robert\tB. ")
    seen = ana.recv_type("rename")
    assert seen["user"] == {"id": bob.me["id"], "name": "Robert B."}
    assert seen["old_name"] == "Bob"
    assert bob.recv_type("rename")["id"] == seen["id"]
    # Stored: a page loading history later sees it; and the new name is the one in use.
    with host.http() as http:
        events = http.get("/api/events", params={"after": 0}).json()["events"]
    assert [e["type"] for e in events][-1] == "rename"
    bob.say("signed")
    assert ana.recv_type("message")["user"]["name"] == "Robert B."
    # The old name is free again.
    ana.send(type="rename", name="Bob")
    assert ana.recv_type("rename")["user"]["name"] == "Bob"
    ana.close()
    bob.close()


def test_renames_are_rate_limited_like_messages(make_host: Callable[..., Host]) -> None:
    host = make_host(messages_per_second=0.01, message_burst=3)  # no refill meanwhile
    ana = Chatter(host, "Ana")
    for i in range(6):
        ana.send(type="rename", name=f"Ana {i}")
    frames: list[dict[str, object]] = []
    while len(frames) < 6:
        frame = ana.recv()
        if frame["type"] in ("rename", "error"):
            frames.append(frame)
    renames = [f for f in frames if f["type"] == "rename"]
    refused = [f for f in frames if f["type"] == "error"]
    assert len(renames) == 3
    assert {f["code"] for f in refused} == {"rate_limited"}
    ana.close()


def test_old_clients_ignore_the_new_fields(host: Host) -> None:
    """A client that never renames sees the same welcome and messages as before."""
    ana = Chatter(host, "Ana")
    assert set(ana.welcome) >= {"you", "room", "room_id", "users", "events", "last_id"}
    ana.say("hello")
    assert ana.recv_type("message")["text"] == "hello"
    ana.close()
