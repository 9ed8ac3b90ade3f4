"""The history store on its own: ids, paging, de-duplication, and surviving a reopen."""

from __future__ import annotations

import json
from pathlib import Path

from server.store import FileRecord, HistoryStore


def _msg(text: str) -> dict[str, object]:
    return {"type": "message", "ts": "2026-01-01T00:00:00.000Z", "user": {"id": "u", "name": "U"},
            "text": text, "file": None}


def test_ids_grow_and_pages_come_oldest_first(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    ids = [store.append(_msg(f"m{i}"))[0]["id"] for i in range(10)]
    assert ids == list(range(1, 11))
    page = store.before(None, 4)
    assert [json.loads(p)["text"] for p in page.payloads] == ["m6", "m7", "m8", "m9"]
    assert page.has_more
    older = store.before(7, 100)
    assert [json.loads(p)["id"] for p in older.payloads] == [1, 2, 3, 4, 5, 6]
    assert not older.has_more
    after = store.after(8, 100)
    assert [json.loads(p)["id"] for p in after.payloads] == [9, 10] and not after.has_more
    store.close()


def test_same_client_msg_id_from_same_user_is_stored_once(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    first, payload, new = store.append(_msg("hi"), user_id="u1", client_msg_id="abc")
    again, payload2, new2 = store.append(_msg("hi"), user_id="u1", client_msg_id="abc")
    other, _, new3 = store.append(_msg("hi"), user_id="u2", client_msg_id="abc")
    assert new and not new2 and new3
    assert again == first and payload2 == payload
    assert other["id"] == first["id"] + 1
    assert store.count() == 2
    store.close()


def test_history_room_id_and_files_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path)
    store.append(_msg("kept"))
    store.add_file(FileRecord("a" * 32, "cat.png", 3, "image/png", "a" * 32, None, "t"))
    room_id = store.room_id
    store.close()

    reopened = HistoryStore(path)
    assert reopened.room_id == room_id
    assert reopened.last_id == 1
    assert json.loads(reopened.before(None, 10).payloads[0])["text"] == "kept"
    record = reopened.get_file("a" * 32)
    assert record is not None and record.name == "cat.png"
    assert record.public()["url"] == f"/api/files/{'a' * 32}"
    assert reopened.append(_msg("next"))[0]["id"] == 2
    reopened.close()
