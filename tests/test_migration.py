"""Histories written before conversations (schema 1) open in this version, and a migration that
fails leaves the file as it was. The fixture was written by the store of the version before."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from server.store import HistoryStore, StoreError
from tests.conftest import Chatter, Host

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
    host = Host(tmp_path / "data").start()
    try:
        alice = Chatter(host, "Alice")
        texts = [e.get("text") for e in alice.welcome["events"]]
        assert "hello from the old version" in texts
        alice.send(type="search", q="agenda")
        results = alice.recv_type("results")
        assert [e["id"] for e in results["events"]] == [4]
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
