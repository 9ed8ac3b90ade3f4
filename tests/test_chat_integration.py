"""The chat against a real uvicorn host with real WebSocket and HTTP clients."""

from __future__ import annotations

from typing import Any

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


def test_history_survives_a_host_restart_on_the_same_data_dir(host: Host) -> None:
    ada = Chatter(host, "Ada")
    for i in range(3):
        ada.say(f"before restart {i}")
        ada.recv_type("message", text=f"before restart {i}")
    ada.close()
    host.stop()
    host.start()
    bob = Chatter(host, "Bob")
    texts = [e["text"] for e in bob.welcome["events"] if e["type"] == "message"]
    assert texts == ["before restart 0", "before restart 1", "before restart 2"]
    kinds = [e["type"] for e in bob.welcome["events"]]
    assert kinds[:2] == ["join", "message"] and "leave" in kinds
    bob.close()


def test_resume_with_since_gives_exactly_the_missed_events(host: Host) -> None:
    ada = Chatter(host, "Ada")
    bob = Chatter(host, "Bob")
    seen = bob.recv_type("join", timeout=5)  # Bob's own join: the last thing he saw
    bob.close()
    ada.recv_type("leave")
    missed = []
    for i in range(5):
        ada.say(f"missed {i}")
        missed.append(ada.recv_type("message")["id"])
    back = Chatter(host, "Bob", client_id=bob.client_id, since=seen["id"])
    ids = [e["id"] for e in back.welcome["events"]]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert ids[0] == seen["id"] + 1 and ids[-1] == back.welcome["last_id"]
    assert [e["id"] for e in back.welcome["events"] if e["type"] == "message"] == missed
    assert back.welcome["has_more_after"] is False and back.welcome["reset"] is False
    ada.close()
    back.close()


def test_a_fresh_client_gets_the_latest_page_and_can_scroll_back(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(message_burst=1000)
    ada = Chatter(host, "Ada")
    for i in range(120):
        ada.say(f"n{i}")
        ada.recv_type("message", text=f"n{i}")
    bob = Chatter(host, "Bob")
    page = bob.welcome["events"]
    assert len(page) == 50 and bob.welcome["has_more_before"] is True
    assert page[-1]["text"] == "n119"
    with host.http() as http:
        first = page[0]["id"]
        older = http.get("/api/events", params={"before": first, "limit": 40}).json()
        assert [e["id"] for e in older["events"]] == list(range(first - 40, first))
        assert older["has_more"] is True
        oldest = http.get("/api/events", params={"before": first - 40, "limit": 500}).json()
        assert [e["id"] for e in oldest["events"]] == list(range(1, first - 40))
        assert oldest["has_more"] is False
        assert http.get("/api/events", params={"before": 1, "after": 2}).status_code == 400
        assert http.get("/api/events", params={"limit": 0}).status_code == 422
    ada.close()
    bob.close()


def test_a_repeated_client_msg_id_is_stored_and_delivered_once(host: Host) -> None:
    ada = Chatter(host, "Ada")
    bob = Chatter(host, "Bob")
    ada.say("only once", client_msg_id="fixed-id-1")
    first = bob.recv_type("message")
    ack1 = ada.recv_type("message")
    ada.say("only once", client_msg_id="fixed-id-1")  # a retry after a lost ack
    ack2 = ada.recv_type("message")
    assert ack1["id"] == ack2["id"] == first["id"]
    bob.say("marker")
    # Bob's next message event is his own marker: the retry never reached him.
    assert bob.recv_type("message")["text"] == "marker"
    with host.http() as http:
        events = http.get("/api/events", params={"limit": 500}).json()["events"]
    assert [e["text"] for e in events if e["type"] == "message"] == ["only once", "marker"]
    ada.close()
    bob.close()


def test_bad_input_gets_an_error_event_and_the_connection_keeps_working(host: Host) -> None:
    ada = Chatter(host, "Ada")
    ada.ws.send("{not json")
    assert ada.recv_type("error")["code"] == "bad_json"
    ada.send(type="launch_rockets")
    assert ada.recv_type("error")["code"] == "unknown_type"
    cmid = ada.say("x" * 9000)
    err = ada.recv_type("error")
    assert err["code"] == "too_long" and err["client_msg_id"] == cmid and "8192" in err["detail"]
    ada.say("with a ghost file", file_id="0" * 32)
    assert ada.recv_type("error")["code"] == "unknown_file"
    ada.say("still here")
    assert ada.recv_type("message")["text"] == "still here"
    with host.http() as http:
        texts = [e.get("text") for e in http.get("/api/events").json()["events"]]
    assert texts.count("still here") == 1 and "x" * 9000 not in texts
    ada.close()


def test_health_and_room_info(host: Host) -> None:
    with host.http() as http:
        health = http.get("/api/health").json()
        assert health["status"] == "ok" and health["room"] == "Test room" and health["version"]
        room = http.get("/api/room").json()
        assert room["room"] == "Test room" and room["urls"] == [f"{host.url}/"]
        page = http.get("/")
        assert page.status_code == 200 and "script-src 'self'" in page.headers[
            "content-security-policy"]


def test_a_page_from_another_origin_cannot_open_the_chat(host: Host) -> None:
    import pytest
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as err:
        Chatter(host, "Mallory", origin="http://evil.example")
    assert err.value.response.status_code == 403
    ok = Chatter(host, "Ada", origin=host.url)
    ok.close()


def test_typing_reaches_the_others_but_not_the_typist(host: Host) -> None:
    ada = Chatter(host, "Ada")
    bob = Chatter(host, "Bob")
    bob.send(type="typing")
    assert ada.recv_type("typing")["user"] == bob.me
    bob.say("done typing")
    assert bob.recv_type("message")["text"] == "done typing"  # no typing event came first
    ada.close()
    bob.close()


def test_two_people_cannot_hold_the_same_name(host: Host) -> None:
    ada = Chatter(host, "Ada")
    fake = Chatter(host, "ADA")
    assert fake.me["name"] == "ADA (2)"
    same_person = Chatter(host, "Ada", client_id=ada.client_id)  # a second tab
    assert same_person.me == ada.me
    for c in (ada, fake, same_person):
        c.close()


def test_a_flood_from_one_connection_is_slowed_down(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(messages_per_second=0.01, message_burst=10)  # no refill meanwhile
    ada = Chatter(host, "Ada")
    for i in range(30):
        ada.say(f"flood {i}")
    kinds = [ada.recv()["type"] for _ in range(31)]  # Ada's join, then 30 answers
    assert kinds.count("message") == 10 and kinds.count("error") == 20
    with host.http() as http:
        stored = [e for e in http.get("/api/events").json()["events"] if e["type"] == "message"]
    assert len(stored) == 10
    ada.close()


def test_a_crowd_joining_at_once_sees_every_join_line_once_in_order(make_host) -> None:  # type: ignore[no-untyped-def]
    """40 people say hello at once to a real host: each gets a welcome and then the live
    events, together every stored event from the first once, in id order, with all 40 join
    lines, though the lines go out in groups and welcomes are built while some are held."""
    import asyncio
    import json
    import uuid

    from websockets.asyncio.client import connect

    host = make_host(history_page=1000, join_burst_per_address=1000,
                     joins_per_second_per_address=1000.0)
    crowd = 40

    async def person(i: int, everyone: asyncio.Event, names: set[str]) -> list[dict[str, Any]]:
        async with connect(host.ws_url, open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "hello", "name": f"p{i}",
                                      "client_id": uuid.uuid4().hex}))
            seen = [json.loads(await ws.recv())]
            events = list(seen[0]["events"])
            while {e["user"]["name"] for e in events if e["type"] == "join"} != names:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                seen.append(frame)
                events.append(frame)
            everyone.set()
            return seen

    async def main() -> list[list[dict[str, Any]]]:
        everyone = asyncio.Event()
        names = {f"p{i}" for i in range(crowd)}
        return await asyncio.wait_for(
            asyncio.gather(*(person(i, everyone, names) for i in range(crowd))), 30)

    for welcome, *live in asyncio.run(main()):
        ids = [e["id"] for e in welcome["events"]] + [f["id"] for f in live]
        assert ids == list(range(1, len(ids) + 1)), welcome["you"]
        assert welcome["last_id"] == len(welcome["events"])
        lines = welcome["events"] + live
        assert all(e["type"] == "join" for e in lines) and len(lines) == crowd
