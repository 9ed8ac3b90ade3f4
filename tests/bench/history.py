"""History at scale: the welcome and a scroll-back page with many stored events.

The store is filled with :meth:`HistoryStore.bulk_append` in a temporary data folder. Measured:
- in-process, the host's own work for a welcome: ``ChatHub.connect`` of a returning user (the
  welcome page and its encoding; no join event, as the user is already in the room) and of a
  client resuming 100 events behind;
- over a real WebSocket to a real host: connect + hello until the welcome is received;
- over HTTP: ``GET /api/events?before=<middle>&limit=50``.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from server.hub import ChatHub
from server.protocol import Hello
from server.store import HistoryStore

from .common import Child, percentile, python
from .hosts import bench_settings


def fill(store: HistoryStore, count: int, batch: int = 100_000) -> None:
    user = {"id": "0123456789abcdef", "name": "filler"}
    made = 0
    while made < count:
        n = min(batch, count - made)
        store.bulk_append(
            {"type": "message", "ts": "2026-01-01T00:00:00.000Z", "user": user,
             "text": f"history line {made + i}: the quick brown fox jumps over the lazy dog",
             "file": None, "client_msg_id": None}
            for i in range(n))
        made += n


def _stats_ms(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": round(statistics.median(ms), 3), "p99_ms": round(percentile(ms, 99), 3),
            "runs": len(ms)}


def in_process(data: Path, runs: int) -> dict[str, Any]:
    async def measure() -> dict[str, Any]:
        settings = bench_settings(data)
        store = HistoryStore(settings.db_path)
        hub = ChatHub(store, settings)

        async def send(_frame: str) -> None:
            return None

        async def close(_code: int, _reason: str) -> None:
            return None

        try:
            first = hub.connect(Hello("reader", "bench-reader", None), "127.0.0.1", send, close)
            hub.disconnect(first)
            out: dict[str, Any] = {}
            for label, since in (("welcome_fresh", None), ("welcome_resume_100",
                                                           store.last_id - 100)):
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    conn = hub.connect(Hello("reader", "bench-reader", since), "127.0.0.1",
                                       send, close)
                    times.append(time.perf_counter() - t0)
                    hub.disconnect(conn)
                out[label] = _stats_ms(times)
            return out
        finally:
            hub.shutdown()
            store.close()

    return asyncio.run(measure())


async def _ws_welcome(url: str, runs: int) -> list[float]:
    from websockets.asyncio.client import connect

    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        async with connect(url, compression=None, max_size=None) as ws:
            await ws.send(f'{{"type":"hello","name":"r{i}","client_id":"bench-ws-{i % 5}"}}')
            await asyncio.wait_for(ws.recv(), 10)
            times.append(time.perf_counter() - t0)
    return times


def run(events: int, tmp: Path | None, runs: int = 50) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-history-", dir=tmp))
    out: dict[str, Any] = {"events": events}
    host: Child | None = None
    try:
        t0 = time.perf_counter()
        store = HistoryStore(work / "history.sqlite3")
        fill(store, events)
        store.close()
        out["fill_seconds"] = round(time.perf_counter() - t0, 1)
        out["server_side"] = in_process(work, runs)
        host = Child([python(), "-m", "tests.bench.hosts", "ours", "--data-dir", str(work)])
        port = host.read_line("PORT ")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=10, trust_env=False) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    client.get(base + "/api/health")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
            out["ws_welcome"] = _stats_ms(asyncio.run(
                _ws_welcome(f"ws://127.0.0.1:{port}/ws", runs)))
            mid = events // 2
            times = []
            for i in range(runs):
                before = mid - i * max(1, events // (4 * runs))  # a page not yet cached
                t0 = time.perf_counter()
                r = client.get(f"{base}/api/events", params={"before": before, "limit": 50})
                times.append(time.perf_counter() - t0)
                r.raise_for_status()
                assert len(r.json()["events"]) == 50
            out["scrollback_page"] = _stats_ms(times)
    finally:
        if host is not None:
            host.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out
