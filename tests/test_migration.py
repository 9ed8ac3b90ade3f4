"""Histories written before conversations (schema 1) open in this version, and a migration that
fails leaves the file as it was. The fixture was written by the store of the version before."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from server.conversation import Change
from server.schema import BASE
from server.store import HistoryStore, StoreError
from tests.conftest import Chatter, Host, wait_until

FIXTURE = Path(__file__).parent / "fixtures" / "history-v1.sqlite3"


def old_history(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "history.sqlite3"
    shutil.copyfile(FIXTURE, path)
    return path


def rows(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT * FROM events ORDER BY id").fetchall()
    finally:
        db.close()


def test_a_schema_1_history_opens_and_is_searchable(tmp_path: Path) -> None:
    path = old_history(tmp_path / "data")
    before = rows(path)
    started = time.perf_counter()
    store = HistoryStore(path)
    print(f"\nmigrated {len(before)} events in {(time.perf_counter() - started) * 1000:.1f} ms")
    try:
        wait_until(lambda: not store.indexing, timeout=30)
        page = store.before(None, 50)
        assert len(page.payloads) == len(before)
        assert [p for (_, _, _, _, p) in before] == page.payloads  # the JSON is untouched
        found = store.search('"quarterly"', 10, None, None)
        assert len(found.payloads) == 1 and "quarterly report" in found.payloads[0]
        assert store.people() == {"a1a1a1a1a1a1a1a1": "Alice", "b2b2b2b2b2b2b2b2": "Robert"}
        assert store.file_visible("f1f1f1f1-0000-4000-8000-000000000001", None)
    finally:
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("2",)
    assert db.execute("SELECT file_id FROM events WHERE id=4").fetchone() == (
        "f1f1f1f1-0000-4000-8000-000000000001",)
    db.close()


def test_a_host_on_an_old_history_serves_and_edits_it(tmp_path: Path) -> None:
    old_history(tmp_path / "data")
    host = Host(tmp_path / "data", admin_password="moderator-pw").start()
    try:
        wait_until(lambda: not host.room.store.indexing, timeout=30)
        with host.http() as http:
            login = http.post("/api/login", json={"password": "moderator-pw"})
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        alice = Chatter(host, "Alice", additional_headers={"Cookie": cookie})
        texts = [e.get("text") for e in alice.welcome["events"]]
        assert "hello from the old version" in texts
        alice.send(type="search", q="agenda")
        results = alice.recv_type("results")
        assert [e["id"] for e in results["events"]] == [4]
        # Old messages take reactions and deletes, and the search follows.
        alice.send(type="react", target=4, emoji="👍", on=True, client_msg_id="r1")
        assert alice.recv_type("react", target=4)["emoji"] == "👍"
        alice.send(type="delete", target=3, client_msg_id="d1")
        alice.recv_type("delete", target=3)
        alice.send(type="search", q="hello")
        assert alice.recv_type("results")["events"] == []
        states = {e["id"]: e for e in Chatter(host, "Bob").welcome["events"]}
        assert states[4]["reactions"]["👍"][0]["name"] == "Alice"
        assert states[3]["deleted"] is True
        alice.close()
    finally:
        host.stop()


def test_a_failed_migration_leaves_the_old_file_intact(tmp_path: Path) -> None:
    path = old_history(tmp_path / "data")
    db = sqlite3.connect(path)
    # Something in the way of the new index: the migration's CREATE fails half way.
    db.execute("CREATE TABLE search (x)")
    db.commit()
    db.close()
    before = rows(path)
    with pytest.raises(StoreError, match="left as it was"):
        HistoryStore(path)
    db = sqlite3.connect(path)
    columns = [r[1] for r in db.execute("PRAGMA table_info(events)")]
    assert columns == ["id", "type", "user_id", "client_msg_id", "payload"]
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() is None
    assert db.execute("SELECT name FROM sqlite_master WHERE name='people'").fetchone() is None
    db.close()
    assert rows(path) == before


def test_changes_to_old_messages_while_they_wait_for_the_index(tmp_path: Path) -> None:
    """A migrated history indexes its old messages in the background, oldest first; an edit
    or delete of one not indexed yet leaves search right once indexing is done: the edited
    words found once, the deleted ones not at all, every other message found."""
    path = tmp_path / "history.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(BASE)
    user = {"id": "a1a1a1a1a1a1a1a1", "name": "Alice"}
    count = 30_000
    db.execute("BEGIN")
    db.executemany("INSERT INTO events VALUES (?, 'message', ?, NULL, ?)", (
        (i, user["id"], json.dumps({"type": "message", "id": i, "ts": "2026-01-01T00:00:00Z",
                                    "user": user, "text": f"line {i} common{i % 7}",
                                    "file": None})) for i in range(1, count + 1)))
    db.execute("COMMIT")
    db.close()
    store = HistoryStore(path)
    try:
        assert store.indexing
        for kind, target, extra in (("edit", count, {"text": "rewritten newestword"}),
                                    ("delete", count - 1, {})):
            event = {"type": kind, "ts": "2026-01-01T00:00:01Z", "user": user, **extra}
            store.append_change(Change(kind, event, user["id"], target))
        wait_until(lambda: not store.indexing and not store.purging, timeout=120)
        assert len(store.search('"newestword"', 10, None, None).payloads) == 1
        assert store.search(f'"{count - 1}"', 10, None, None).payloads == []
        expected = sum(1 for i in range(1, count - 1) if i % 7 == 3)
        assert len(store.search('"common3"', 10_000, None, None).payloads) == expected
        check = sqlite3.connect(path)
        check.execute("INSERT INTO search (search) VALUES ('integrity-check')")
        check.close()
    finally:
        store.close()
