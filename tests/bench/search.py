"""Search and conversations at scale: ``python -m tests.bench.search [--events N]`` (also the
``search`` section of ``make bench``).

Measured on a history of N stored messages (1,000,000 by default) written through the store:
- search answers in-process (``HistoryStore.search``, what the hub runs for a ``search`` frame)
  for a common word, a rarer one, two words, a word prefix and a word nobody wrote: median and
  p99 of many runs, and over a real WebSocket to a real host (frame sent until ``results``
  received);
- a delete at that size: the commit, then the background erasure until the index and the WAL
  hold no trace of it (``HistoryStore.purging`` false);
- the migration of a schema-1 history (the layout before conversations) of N events.
Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from server.conversation import Change
from server.protocol import encode, fts_query
from server.runner import ServerThread
from server.schema import BASE
from server.store import HistoryStore

from .common import percentile
from .hosts import bench_settings

QUERIES = {"common word": "meeting", "rare word": "zebra", "two words": "lunch report",
           "prefix": "quart*", "no match": "xylophonequartet"}
_WORDS = ("the a to and of in is it for on with that this we can you at be are was have "
          "meeting lunch report build release bug fix deploy coffee tomorrow today link "
          "review branch server window please thanks quarterly budget agenda notes").split()


def _text(rng: random.Random, i: int) -> str:
    words = rng.choices(_WORDS, k=8) + [f"w{rng.randrange(50_000)}"]
    if i % 5000 == 0:
        words.append("zebra")
    return " ".join(words)


def _events(count: int, seed: int = 1) -> Any:
    rng = random.Random(seed)
    user = {"id": "0123456789abcdef", "name": "filler"}
    for i in range(count):
        yield {"type": "message", "ts": "2026-01-01T00:00:00.000Z", "user": user,
               "text": _text(rng, i), "file": None, "client_msg_id": None}


def fill(store: HistoryStore, count: int, batch: int = 50_000) -> None:
    source = _events(count)
    left = count
    while left:
        n = min(batch, left)
        store.bulk_append(next(source) for _ in range(n))
        left -= n


def _stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": round(statistics.median(ms), 3), "p99_ms": round(percentile(ms, 99), 3),
            "max_ms": round(ms[-1], 3)}


def in_process(store: HistoryStore, runs: int) -> dict[str, Any]:
    """Wall time, and this thread's CPU time (on a shared machine the wall clock also counts
    the time other programs held the CPU)."""
    out: dict[str, Any] = {}
    for label, q in QUERIES.items():
        query = fts_query(q)
        assert query is not None
        times, cpu, found = [], [], 0
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.thread_time()
            found = len(store.search(query, 20, None, "0123456789abcdef").payloads)
            times.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
        out[label] = {**_stats(times), "cpu_median_ms": round(statistics.median(cpu) * 1000, 3),
                      "results": found}
    return out


def over_websocket(data: Path, runs: int) -> dict[str, Any]:
    host = ServerThread(bench_settings(data).with_(searches_per_second=1e6,
                                                   search_burst=1_000_000)).start()
    try:
        with connect(f"ws://127.0.0.1:{host.port}/ws", open_timeout=10) as ws:
            ws.send(json.dumps({"type": "hello", "name": "bench", "client_id": "bench-search"}))
            while json.loads(ws.recv(30))["type"] != "welcome":
                pass
            out: dict[str, Any] = {}
            for label in ("common word", "rare word"):
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    ws.send(json.dumps({"type": "search", "q": QUERIES[label]}))
                    while json.loads(ws.recv(30))["type"] != "results":
                        pass
                    times.append(time.perf_counter() - t0)
                out[label] = _stats(times)
            return out
    finally:
        host.stop()


def delete_and_purge(store: HistoryStore) -> dict[str, float]:
    """Delete one message (as its author) and time the commit and the erasure after it."""
    target = store.last_id // 2
    event = {"type": "delete", "ts": "2026-01-01T00:00:00.000Z",
             "user": {"id": "0123456789abcdef", "name": "filler"}, "client_msg_id": "bench-del"}
    change = Change("delete", event, "0123456789abcdef", target)
    t0 = time.perf_counter()
    store.append_change(change)
    committed = time.perf_counter() - t0
    while store.purging:
        time.sleep(0.01)
    return {"commit_ms": round(committed * 1000, 1),
            "erased_s": round(time.perf_counter() - t0, 2)}


def migration(folder: Path, count: int) -> dict[str, float]:
    """A schema-1 history of ``count`` messages (the layout before conversations, written
    directly) opened by this version: the time until it serves."""
    path = folder / "history.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(BASE)
    db.execute("BEGIN")
    for i, event in enumerate(_events(count, seed=2), start=1):
        db.execute("INSERT INTO events VALUES (?, 'message', NULL, NULL, ?)",
                   (i, encode({"type": "message", "id": i, **event})))
    db.execute("COMMIT")
    db.close()
    t0 = time.perf_counter()
    store = HistoryStore(path)
    seconds = time.perf_counter() - t0
    store.close()
    return {"events": count, "seconds": round(seconds, 2)}


def run(count: int, tmp: Path | None = None, runs: int = 200) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="lanchat-search-", dir=tmp))
    try:
        data = base / "data"
        data.mkdir()
        store = HistoryStore(bench_settings(data).db_path)
        t0 = time.perf_counter()
        fill(store, count)
        report: dict[str, Any] = {"events": count,
                                  "build_s": round(time.perf_counter() - t0, 1)}
        report["in_process"] = in_process(store, runs)
        report["delete"] = delete_and_purge(store)
        # The delete's purge merged the index into one segment: the same searches again.
        report["in_process_merged"] = in_process(store, runs)
        store.close()
        report["websocket"] = over_websocket(data, 20)
        old = base / "old"
        old.mkdir()
        report["migration"] = migration(old, count)
        return report
    finally:
        shutil.rmtree(base, ignore_errors=True)


def print_search(report: dict[str, Any]) -> None:
    print(f"\nsearch over {report['events']:,} events (built in {report['build_s']} s)")
    for key, name in (("in_process", "as built"), ("in_process_merged", "merged")):
        for label, row in report[key].items():
            print(f"  in-process ({name:8}) {label:12} median {row['median_ms']:7.3f} ms  p99 "
                  f"{row['p99_ms']:7.3f} ms  max {row['max_ms']:7.3f} ms  CPU median "
                  f"{row['cpu_median_ms']:7.3f} ms  ({row['results']} results)")
    for label, row in report["websocket"].items():
        print(f"  websocket  {label:12} median {row['median_ms']:7.3f} ms  p99 "
              f"{row['p99_ms']:7.3f} ms")
    d = report["delete"]
    print(f"  delete: committed in {d['commit_ms']} ms, erased from index and WAL in "
          f"{d['erased_s']} s")
    m = report["migration"]
    print(f"  migration of a schema-1 history of {m['events']:,} events: {m['seconds']} s")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.bench.search", description=__doc__)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--tmp", type=Path, default=None)
    args = p.parse_args()
    print_search(run(args.events, args.tmp))


if __name__ == "__main__":
    main()
