"""Conversations on a real host: replies, private messages, mentions, edits, deletes, reactions,
search and moderation, each seen through real WebSocket and HTTP clients."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import Chatter, Host, wait_until


def events_of(host: Host, viewer: Chatter | None = None, **params: Any) -> list[dict[str, Any]]:
    headers = {"X-LanChat-Client": viewer.client_id} if viewer is not None else {}
    with host.http() as http:
        r = http.get("/api/events", params={"limit": 500, **params}, headers=headers)
    r.raise_for_status()
    events: list[dict[str, Any]] = r.json()["events"]
    return events


def message(chatter: Chatter, text: str, **extra: Any) -> dict[str, Any]:
    """Send and wait for the echo (the acknowledgement)."""
    cmid = chatter.say(text, **extra)
    return chatter.recv_type("message", client_msg_id=cmid)


def change(chatter: Chatter, kind: str, **frame: Any) -> dict[str, Any]:
    cmid = str(uuid.uuid4())
    chatter.send(type=kind, client_msg_id=cmid, **frame)
    return recv_reply(chatter, cmid)


def recv_reply(chatter: Chatter, cmid: str) -> dict[str, Any]:
    """The echo of ``cmid`` or the error refusing it."""
    while True:
        event = chatter.recv()
        if event.get("client_msg_id") == cmid and event["type"] != "message" or (
                event["type"] == "message" and event.get("client_msg_id") == cmid):
            return event


def search(chatter: Chatter, q: str, **extra: Any) -> dict[str, Any]:
    chatter.send(type="search", q=q, **extra)
    return chatter.recv_type("results", q=q)


def upload(host: Host, data: bytes, name: str = "secret.txt") -> dict[str, Any]:
    with host.http() as http:
        r = http.post("/api/files", params={"name": name}, content=data)
    r.raise_for_status()
    record: dict[str, Any] = r.json()
    return record


def test_reply_quotes_the_original_and_mentions_name_people(host: Host) -> None:
    ada = Chatter(host, "Ada Lovelace")
    bob = Chatter(host, "Bob")
    original = message(ada, "the build is green " + "x" * 300)
    reply = message(bob, "@Ada Lovelace thanks, and @bob too", reply_to=original["id"])
    assert reply["reply_to"]["id"] == original["id"]
    assert reply["reply_to"]["user"]["id"] == ada.me["id"]
    assert reply["reply_to"]["text"].startswith("the build is green")
    assert len(reply["reply_to"]["text"]) <= 120
    assert reply["mentions"] == [ada.me["id"], bob.me["id"]]
    assert message(ada, "no one named")["mentions"] == []
    assert message(ada, "plain")["reply_to"] is None
    missing = change(bob, "message", text="to nothing", reply_to=999_999)
    assert missing["type"] == "error" and missing["code"] == "unknown_target"
    ada.close()
    bob.close()


def test_edit_own_only_and_history_shows_the_latest_text(host: Host) -> None:
    ada = Chatter(host, "Ada")
    bob = Chatter(host, "Bob")
    sent = message(ada, "teh plan")
    edit = change(ada, "edit", target=sent["id"], text="the plan")
    assert edit["type"] == "edit" and edit["target"] == sent["id"] and edit["id"] > sent["id"]
    seen = bob.recv_type("edit", target=sent["id"])
    assert seen["text"] == "the plan"
    refused = change(bob, "edit", target=sent["id"], text="hijacked")
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    unknown = change(bob, "edit", target=10**9, text="x")
    assert unknown["code"] == "unknown_target"
    too_long = change(ada, "edit", target=sent["id"], text="y" * 9000)
    assert too_long["code"] == "too_long"
    stored = {e["id"]: e for e in events_of(host)}
    assert stored[sent["id"]]["text"] == "the plan" and stored[sent["id"]]["edited_at"]
    assert stored[edit["id"]]["type"] == "edit"
    ada.close()
    bob.close()


def test_reactions_toggle_and_refuse_bad_emoji(host: Host) -> None:
    ada = Chatter(host, "Ada")
    bob = Chatter(host, "Bob")
    sent = message(ada, "lunch?")
    change(bob, "react", target=sent["id"], emoji="👍", on=True)
    change(bob, "react", target=sent["id"], emoji="👍", on=True)  # idempotent
    change(ada, "react", target=sent["id"], emoji="👍", on=True)
    change(ada, "react", target=sent["id"], emoji="🎉", on=True)
    change(ada, "react", target=sent["id"], emoji="🎉", on=False)
    stored = {e["id"]: e for e in events_of(host)}[sent["id"]]
    assert {p["id"] for p in stored["reactions"]["👍"]} == {ada.me["id"], bob.me["id"]}
    assert "🎉" not in stored["reactions"]
    for bad in ("ok", "<b>", " ", "👍 yes"):
        assert change(bob, "react", target=sent["id"], emoji=bad, on=True)["code"] == "bad_emoji"
    ada.close()
    bob.close()


def test_concurrent_reactions_from_many_clients_count_right(host: Host) -> None:
    author = Chatter(host, "Author", max_queue=4096)
    sent = message(author, "react to me")
    people = [Chatter(host, f"P{i}", max_queue=4096) for i in range(16)]
    barrier = threading.Barrier(len(people))
    errors: list[BaseException] = []

    def run(chatter: Chatter, index: int) -> None:
        try:
            barrier.wait(10)
            for emoji in ("👍", "❤️"):
                change(chatter, "react", target=sent["id"], emoji=emoji, on=True)
            if index % 2:
                change(chatter, "react", target=sent["id"], emoji="❤️", on=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    stored = {e["id"]: e for e in events_of(host)}[sent["id"]]
    assert len(stored["reactions"]["👍"]) == 16
    assert len(stored["reactions"]["❤️"]) == 8
    assert len({p["id"] for p in stored["reactions"]["👍"]}) == 16
    for c in [author, *people]:
        c.close()


def db_bytes(data_dir: Path) -> bytes:
    parts = [data_dir / f"history.sqlite3{s}" for s in ("", "-wal", "-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def test_delete_erases_text_edits_quotes_and_file_from_storage(host: Host) -> None:
    ada = Chatter(host, "Ada")
    bob = Chatter(host, "Bob")
    record = upload(host, b"file words zebracode")
    secret = "quokkasecret " + "z" * 3000  # long: spills into overflow pages
    sent = message(ada, secret, file_id=record["id"])
    change(ada, "edit", target=sent["id"], text="quokkaedited wombatword")
    reply = message(bob, "answering", reply_to=sent["id"])
    assert reply["reply_to"]["text"].startswith("quokkaedited")
    assert search(bob, "quokkaedited")["events"]
    refused = change(bob, "delete", target=sent["id"])
    assert refused["code"] == "forbidden"
    deleted = change(ada, "delete", target=sent["id"])
    assert deleted["type"] == "delete" and deleted["target"] == sent["id"]
    bob.recv_type("delete", target=sent["id"])
    stored = {e["id"]: e for e in events_of(host)}
    assert stored[sent["id"]]["deleted"] is True
    assert stored[sent["id"]]["text"] == "" and stored[sent["id"]]["file"] is None
    assert stored[reply["id"]]["reply_to"]["text"] is None
    assert search(bob, "quokkaedited")["events"] == []
    with host.http() as http:
        assert http.get(record["url"]).status_code == 404
    assert not list((host.data_dir / "files").glob(record["id"] + "*"))
    assert change(ada, "edit", target=sent["id"], text="again")["code"] == "unknown_target"
    # The words are gone from the database, its WAL and the full-text index, not hidden.
    store = host.room.store
    wait_until(lambda: not store.purging, timeout=30)
    data = db_bytes(host.data_dir)
    for word in (b"quokkasecret", b"quokkaedited", b"wombatword", b"zzzzzzzzzzzzzzzz"):
        assert word not in data, word
    assert b"answering" in data  # the reply itself stays
    ada.close()
    bob.close()


def test_edit_and_delete_replayed_on_resume_converge(host: Host) -> None:
    ada = Chatter(host, "Ada")
    keep = message(ada, "first version")
    gone = message(ada, "to be deleted")
    bob = Chatter(host, "Bob")
    last_seen = bob.welcome["last_id"]
    bob.close()
    change(ada, "edit", target=keep["id"], text="second version")
    change(ada, "react", target=keep["id"], emoji="👍", on=True)
    change(ada, "delete", target=gone["id"])
    back = Chatter(host, "Bob", client_id=bob.client_id, since=last_seen)
    kinds = [(e["type"], e.get("target")) for e in back.welcome["events"]]
    assert ("edit", keep["id"]) in kinds and ("delete", gone["id"]) in kinds
    assert ("react", keep["id"]) in kinds
    # Apply to what Bob had: the same state as a fresh client's history.
    shown = {keep["id"]: dict(keep), gone["id"]: dict(gone)}
    for e in back.welcome["events"]:
        target = shown.get(e.get("target"))
        if target is None:
            continue
        if e["type"] == "edit":
            target.update(text=e["text"], edited_at=e["ts"])
        elif e["type"] == "delete":
            target.update(text="", deleted=True, file=None)
        elif e["type"] == "react":
            target.setdefault("reactions", {})[e["emoji"]] = [e["user"]]
    fresh = {e["id"]: e for e in Chatter(host, "Carol").welcome["events"]}
    for event_id, state in shown.items():
        for key in ("text", "deleted", "reactions"):
            assert state.get(key) == fresh[event_id].get(key), key
    ada.close()
    back.close()


def test_a_third_person_never_gets_a_private_message(host: Host) -> None:
    ada = Chatter(host, "Ada")
    bob = Chatter(host, "Bob")
    eve = Chatter(host, "Eve")
    record = upload(host, b"private bytes")
    public = message(ada, "room hello")
    eve.recv_type("message", id=public["id"])
    private = message(ada, "psst platypusword", to=bob.me["id"], file_id=record["id"])
    assert private["to"] == {"id": bob.me["id"], "name": "Bob"}
    got = bob.recv_type("message", id=private["id"])
    assert got["text"] == "psst platypusword"
    react = change(bob, "react", target=private["id"], emoji="👍", on=True)
    edit = change(ada, "edit", target=private["id"], text="psst platypusword2")
    after = message(ada, "room again")
    # Live: every frame Eve got up to the next room message, none of them private.
    live = []
    while not live or live[-1].get("id") != after["id"]:
        live.append(eve.recv())
    assert not {private["id"], react["id"], edit["id"]} & {e.get("id") for e in live}
    assert "platypus" not in json.dumps(live) and "psst" not in json.dumps(live)
    assert [e["type"] for e in live if e["type"] in ("message", "edit", "react")] == \
        ["message"]
    # Eve cannot act on it either: it does not exist for her.
    assert change(eve, "react", target=private["id"], emoji="👍", on=True)["code"] == \
        "unknown_target"
    assert change(eve, "message", text="re", reply_to=private["id"])["code"] == "unknown_target"
    # Search, welcome, resume, pages and the file URL.
    assert search(eve, "platypusword2")["events"] == []
    assert search(eve, "platypus*")["events"] == []
    assert [e["id"] for e in search(bob, "platypusword2")["events"]] == [private["id"]]
    hidden = {private["id"], react["id"], edit["id"]}
    eve.close()
    fresh = Chatter(host, "Eve", client_id=eve.client_id)
    resumed = Chatter(host, "Eve2", since=public["id"] - 1)
    for events in (fresh.welcome["events"], resumed.welcome["events"],
                   events_of(host, fresh), events_of(host),
                   events_of(host, fresh, after=0), events_of(host, fresh, before=after["id"])):
        assert not hidden & {e["id"] for e in events}
        assert "platypus" not in json.dumps(events)
    assert hidden <= {e["id"] for e in events_of(host, bob)}
    with host.http() as http:
        assert http.get(record["url"]).status_code == 404
        assert http.get(record["url"], headers={"X-LanChat-Client": eve.client_id}
                        ).status_code == 404
        assert http.get(record["url"], headers={"Cookie": f"lanchat_client={bob.client_id}"}
                        ).content == b"private bytes"
        assert http.get(record["url"], headers={"X-LanChat-Client": ada.client_id}
                        ).status_code == 200
    # Ids only grow for Eve (the private ones are simply absent).
    ids = [e["id"] for e in events_of(host, fresh)]
    assert ids == sorted(ids)
    for c in (ada, bob, fresh, resumed):
        c.close()


def test_private_message_reaches_an_offline_person_when_they_return(host: Host) -> None:
    bob = Chatter(host, "Bob")
    bob_id, last = bob.welcome["you"]["id"], bob.welcome["last_id"]
    bob.close()
    ada = Chatter(host, "Ada")
    sent = message(ada, "while you were out", to=bob_id)
    refused = change(ada, "message", text="to a stranger", to="ffffffffffffffff")
    assert refused["code"] == "unknown_user"
    back = Chatter(host, "Bob", client_id=bob.client_id, since=last)
    assert sent["id"] in {e["id"] for e in back.welcome["events"]}
    ada.close()
    back.close()


def test_search_newest_first_with_paging_and_a_rate_limit(make_host: Any) -> None:
    host = make_host(search_burst=2, searches_per_second=0.01)
    ada = Chatter(host, "Ada")
    ids = [message(ada, f"report number {i}")["id"] for i in range(5)]
    message(ada, "something else")
    first = search(ada, "report", limit=3)
    assert [e["id"] for e in first["events"]] == ids[::-1][:3] and first["has_more"]
    rest = search(ada, "report", limit=3, before=first["events"][-1]["id"])
    assert [e["id"] for e in rest["events"]] == ids[1::-1] and not rest["has_more"]
    ada.send(type="search", q="report")
    error = ada.recv_type("error")
    assert error["code"] == "rate_limited" and error["retry_after"] > 0
    ada.close()


def test_remove_closes_with_4410_and_refuses_the_same_browser(make_host: Any) -> None:
    host = make_host(admin_password="admin-secret-1")
    with host.http() as http:
        assert http.post("/api/login", json={"password": "wrong"}).status_code == 401
        r = http.post("/api/login", json={"password": "admin-secret-1"})
        assert r.json() == {"ok": True, "admin": True}
        admin_cookies = dict(r.cookies)
        page = http.get("/")
        browser = page.cookies["lanchat_browser"]
    cookie = "; ".join(f"{k}={v}" for k, v in admin_cookies.items())
    mod = Chatter(host, "Host", additional_headers={"Cookie": cookie})
    assert mod.welcome["admin"] is True
    troll = Chatter(host, "Troll", additional_headers={"Cookie": f"lanchat_browser={browser}"})
    assert troll.welcome["admin"] is False
    bad = message(troll, "spam spam")
    assert change(troll, "remove", user=mod.me["id"], minutes=5)["code"] == "forbidden"
    deleted = change(mod, "delete", target=bad["id"])
    assert deleted["type"] == "delete"
    assert change(mod, "remove", user="0000000000000000", minutes=5)["code"] == "unknown_user"
    removed = change(mod, "remove", user=troll.me["id"], minutes=5)
    assert removed["type"] == "remove" and removed["target_user"]["id"] == troll.me["id"]
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            troll.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410
    # Back under another name and client id, from the same browser: refused.
    with connect(host.ws_url, additional_headers={"Cookie": f"lanchat_browser={browser}"}
                 ) as ws:
        ws.send(json.dumps({"type": "hello", "name": "NotTroll",
                            "client_id": str(uuid.uuid4())}))
        with pytest.raises(ConnectionClosed) as again:
            ws.recv(timeout=10)
        assert again.value.rcvd is not None and again.value.rcvd.code == 4410
        assert "removed" in again.value.rcvd.reason
    with connect(host.ws_url) as ws:  # the same client id from elsewhere: refused too
        ws.send(json.dumps({"type": "hello", "name": "T", "client_id": troll.client_id}))
        with pytest.raises(ConnectionClosed) as third:
            ws.recv(timeout=10)
        assert third.value.rcvd is not None and third.value.rcvd.code == 4410
    other = Chatter(host, "Someone else")  # another browser is welcome
    other.close()
    mod.close()
    host.stop()  # a restart within the time still refuses the removed person
    host.start()
    with connect(host.ws_url) as ws:
        ws.send(json.dumps({"type": "hello", "name": "T", "client_id": troll.client_id}))
        with pytest.raises(ConnectionClosed) as after_restart:
            ws.recv(timeout=10)
        assert after_restart.value.rcvd is not None and after_restart.value.rcvd.code == 4410


def test_admin_entry_key_signs_the_hosting_window_in(make_host: Any) -> None:
    host = make_host(admin_password="k" * 43, password="roompw")
    with httpx.Client(base_url=host.url, timeout=30) as http:
        wrong = http.get("/api/admin/enter", params={"key": "nope"}, follow_redirects=False)
        assert wrong.status_code == 303 and "lanchat_admin" not in wrong.cookies
        right = http.get("/api/admin/enter", params={"key": "k" * 43}, follow_redirects=False)
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = "; ".join(f"{k}={v}" for k, v in right.cookies.items())
    mod = Chatter(host, "Host", additional_headers={"Cookie": cookie})
    assert mod.welcome["admin"] is True
    mod.close()
