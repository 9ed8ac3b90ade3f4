"""The chat against a real uvicorn host with real WebSocket and HTTP clients."""

from __future__ import annotations

from tests.conftest import Chatter, Host


def test_two_clients_chat_and_see_each_other_join_and_leave(host: Host) -> None:
    ada = Chatter(host, "Ada")
    assert ada.welcome["users"] == [ada.me]
    assert ada.recv_type("join")["user"] == ada.me
    bob = Chatter(host, "Bob")
    assert {u["name"] for u in bob.welcome["users"]} == {"Ada", "Bob"}
    assert ada.recv_type("join")["user"]["name"] == "Bob"

    cmid = bob.say("hello Ada")
    got = ada.recv_type("message")
    assert got["text"] == "hello Ada" and got["user"] == bob.me and got["file"] is None
    echo = bob.recv_type("message")
    assert echo["client_msg_id"] == cmid and echo["id"] == got["id"]

    bob.close()
    left = ada.recv_type("leave")
    assert left["user"]["name"] == "Bob" and left["id"] > got["id"]
    ada.close()
