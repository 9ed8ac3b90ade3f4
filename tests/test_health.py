"""``/api/health`` tells whether the history can be read and written, and the lobby's liveness
probe hides a host that cannot store what people say."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from server.discovery import probe_health
from server.store import HistoryStore, StoreError
from tests.conftest import Host


def test_health_sees_a_history_another_program_has_locked(host: Host, tmp_path: Path) -> None:
    with host.http() as http:
        ok = http.get("/api/health")
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "ok" and ok.json()["history"]["writable"] is True
        assert asyncio.run(probe_health("127.0.0.1", host.port)) is True
        other = sqlite3.connect(host.data_dir / "history.sqlite3", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
        try:
            locked = http.get("/api/health", timeout=5)
            assert locked.status_code == 503, locked.text
            body = locked.json()
            assert body["status"] == "unavailable" and "locked" in body["detail"]
            assert body["history"]["writable"] is False
            assert asyncio.run(probe_health("127.0.0.1", host.port)) is False
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert http.get("/api/health").status_code == 200


def test_health_reports_the_last_failed_write_until_one_succeeds(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3", busy_timeout=0.05)
    other = sqlite3.connect(tmp_path / "h.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    event = {"type": "message", "ts": "2026-01-01T00:00:00.000Z", "text": "x"}
    try:
        with pytest.raises(StoreError):
            store.append(event)
        assert "locked" in (asyncio.run(store.health()).last_write_error or "")
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.append(event)
    health = asyncio.run(store.health())
    assert health.problem is None and health.last_write_error is None
    store.close()
