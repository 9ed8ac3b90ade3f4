"""Replica catch-up: a standby copying a room of 1,000,000 events from zero.

A host (``tests.bench.hosts ours``) serves a history filled with ``HistoryStore.bulk_append``.
Then, one after the other, two readers copy the whole history from it:

- ``standby``: ``python -m server --standby URL`` with an empty data folder, until its own
  history holds every event (its SQLite file is read, read-only, every 0.2 s);
- ``paging`` (the baseline): a plain client paging ``GET /api/events?after=`` (500 events a
  page, as the HTTP API allows), in a process of its own, keeping nothing.

For each: events/s and seconds (from the reader's start, and from its first events on, which
leaves out Python's start-up), the reader's peak RSS (sampled every 50 ms), its CPU seconds and
the host's, and the host's loop lag meanwhile: a client in a thread of this process pings the
host every 20 ms over its WebSocket (p50/p99/max of the round trips, and the same measured idle
before).
Every phase has a deadline (``--replica-timeout``, default 300 s); a phase that runs out is
reported with how far it got.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from server.store import HistoryStore

from .common import Child, cpu_seconds, percentile, python, rss
from .history import fill

PING_EVERY = 0.02


class Pinger:
    """Pings the host over its WebSocket every 20 ms from a thread; keeps (time, rtt ms)."""

    def __init__(self, ws_url: str) -> None:
        self.url = ws_url
        self.samples: list[tuple[float, float]] = []
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="replica-pinger")
        self._thread.start()
        if not self._ready.wait(60) or self.error is not None:
            raise RuntimeError(f"the pinger did not join the room: {self.error!r}")

    def _run(self) -> None:
        from websockets.sync.client import connect

        try:
            with connect(self.url, max_size=None, open_timeout=30, compression=None) as ws:
                ws.send(json.dumps({"type": "hello", "name": "pinger",
                                    "client_id": "bench-replica-pinger"}))
                ws.recv(timeout=30)  # the welcome
                self._ready.set()
                while not self._stop.wait(PING_EVERY):
                    t0 = time.monotonic()
                    ws.send('{"type":"ping"}')
                    while '"pong"' not in str(ws.recv(timeout=30)):
                        pass
                    self.samples.append((t0, (time.monotonic() - t0) * 1000))
        except Exception as exc:  # noqa: BLE001 - reported by __init__ or seen as no samples
            self.error = exc
            self._ready.set()

    def between(self, start: float, end: float) -> dict[str, float]:
        rtts = sorted(ms for t, ms in self.samples if start <= t <= end)
        return {"ping_p50_ms": round(percentile(rtts, 50), 2),
                "ping_p99_ms": round(percentile(rtts, 99), 2),
                "ping_max_ms": round(rtts[-1], 2) if rtts else float("nan"), "pings": len(rtts)}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(35)


class Watch:
    """Samples a reader process's RSS (with its children) and CPU every 50 ms."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc = proc
        self.peak = 0
        self.cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="replica-rss")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                family = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(rss(p) for p in family))
                self.cpu = sum(cpu_seconds(p) for p in family)
            except psutil.Error:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def replica_last_id(folder: Path) -> int:
    """The highest event id in any history under the standby's data folder (0 if none yet)."""
    best = 0
    for path in folder.rglob("*.sqlite3"):
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
            try:
                row = db.execute("SELECT max(id) FROM events").fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            continue
        best = max(best, int(row[0] or 0))
    return best


def measure(label: str, child: Child, done: Any, target: int, pinger: Pinger, host: Child,
            timeout: float) -> dict[str, Any]:
    """Wait (with a deadline) until ``done()`` reaches ``target``; the numbers of the phase."""
    host_cpu = cpu_seconds(host.ps)
    t0 = time.monotonic()
    watch = Watch(child.ps)
    got = 0
    first: float | None = None  # when the first events arrived (the reader had started up)
    try:
        while time.monotonic() - t0 < timeout and child.popen.poll() is None:
            got = done()
            if got and first is None:
                first = time.monotonic()
            if got >= target:
                break
            time.sleep(0.2)
        else:
            got = done()
    finally:
        seconds = time.monotonic() - t0
        watch.close()
        host_cpu = cpu_seconds(host.ps) - host_cpu
    copying = t0 + seconds - (first or t0)
    print(f"   {label:8} {got:,} of {target:,} events in {seconds:.1f} s", flush=True)
    return {"reader": label, "events": got, "complete": got >= target,
            "seconds": round(seconds, 2), "events_per_s": round(got / max(seconds, 1e-9)),
            "first_events_s": round((first or t0) - t0, 2),
            "copy_events_per_s": round(got / max(copying, 1e-9)),
            "peak_rss_mb": round(watch.peak / 2**20, 1), "cpu_s": round(watch.cpu, 1),
            "host_cpu_s": round(host_cpu, 1),
            "exit": child.popen.poll(), **pinger.between(t0, t0 + seconds)}


def page_main(base: str, until: int) -> int:
    """The baseline reader: page the whole history forward, keep nothing, print progress."""
    after, got = 0, 0
    with httpx.Client(base_url=base, timeout=60, trust_env=False) as http:
        while after < until:
            body = http.get("/api/events", params={"after": after, "limit": 500}).json()
            events = body["events"]
            if not events:
                break
            got += len(events)
            after = int(events[-1]["id"])
            print(f"AT {after}", flush=True)
            if not body.get("has_more"):
                break
    print(f"DONE {after} {got}", flush=True)
    return 0


def wait_health(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/api/health", timeout=5, trust_env=False)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Progress:
    """The last id the paging child printed, read from its stdout without blocking."""

    def __init__(self, child: Child) -> None:
        assert child.popen.stdout is not None
        self.fd = child.popen.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.tail = b""
        self.at = 0

    def __call__(self) -> int:
        try:
            while chunk := os.read(self.fd, 1 << 16):
                self.tail = (self.tail + chunk)[-4096:]
        except BlockingIOError:
            pass
        for line in reversed(self.tail.decode(errors="replace").splitlines()):
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("AT", "DONE") and parts[1].isdigit():
                self.at = max(self.at, int(parts[1]))
                break
        return self.at


def run(events: int, tmp: Path | None, timeout: float = 300.0) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-replica-", dir=tmp))
    host_dir, standby_dir = work / "host", work / "standby"
    host_dir.mkdir()
    standby_dir.mkdir()
    out: dict[str, Any] = {"events": events}
    children: list[Child] = []
    pinger: Pinger | None = None
    try:
        t0 = time.perf_counter()
        store = HistoryStore(host_dir / "history.sqlite3")
        fill(store, events)
        store.close()
        out["fill_seconds"] = round(time.perf_counter() - t0, 1)
        host = Child([python(), "-m", "tests.bench.hosts", "ours", "--data-dir", str(host_dir)])
        children.append(host)
        base = f"http://127.0.0.1:{host.read_line('PORT ')}"
        wait_health(base)
        pinger = Pinger(base.replace("http://", "ws://") + "/ws")
        idle_from = time.monotonic()
        time.sleep(2.0)
        out["idle"] = pinger.between(idle_from, time.monotonic())
        paging = Child([python(), "-m", "tests.bench.replica", "page", base,
                        "--until", str(events)])
        children.append(paging)
        out["paging"] = measure("paging", paging, Progress(paging), events, pinger,
                                host, timeout)
        paging.stop()
        standby = Child([python(), "-m", "server", "--standby", base + "/", "--host",
                         "127.0.0.1", "--port", "0", "--data-dir", str(standby_dir),
                         "--no-discovery", "--log-level", "warning"])
        children.append(standby)
        out["standby"] = measure("standby", standby, lambda: replica_last_id(standby_dir),
                                 events, pinger, host, timeout)
    finally:
        if pinger is not None:
            pinger.close()
        for child in reversed(children):
            child.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def describe(r: dict[str, Any]) -> str:
    """The section's table, for ``python -m tests.bench`` and for a run of this module."""
    idle = r["idle"]
    lines = [f"Replica catch-up of {r['events']:,} events (filled in {r['fill_seconds']} s); "
             f"host ping idle p50 {idle['ping_p50_ms']} ms, p99 {idle['ping_p99_ms']} ms",
             f"  {'reader':10} {'events':>11} {'seconds':>8} {'events/s':>9} {'first at':>9} "
             f"{'copy ev/s':>9} {'peak RSS':>9} {'CPU s':>6} {'host CPU s':>10} "
             f"{'host ping p50':>13} {'p99':>8} {'max':>8}"]
    for key in ("paging", "standby"):
        if key not in r:
            continue
        x = r[key]
        note = "" if x["complete"] else (
            f"  (exited with {x['exit']})" if x["exit"] is not None else "  (ran out of time)")
        lines.append(f"  {key:10} {x['events']:>11,} {x['seconds']:>8} {x['events_per_s']:>9,} "
                     f"{x['first_events_s']:>7} s {x['copy_events_per_s']:>9,} "
                     f"{x['peak_rss_mb']:>6} MB {x['cpu_s']:>6} {x['host_cpu_s']:>10} "
                     f"{x['ping_p50_ms']:>10} ms "
                     f"{x['ping_p99_ms']:>5} ms {x['ping_max_ms']:>5} ms{note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.replica", description=__doc__)
    sub = p.add_subparsers(dest="cmd")
    page = sub.add_parser("page", help="(internal) the paging baseline reader")
    page.add_argument("base")
    page.add_argument("--until", type=int, required=True)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--tmp", type=Path, default=None)
    p.add_argument("--replica-timeout", type=float, default=300.0)
    args = p.parse_args(argv)
    if args.cmd == "page":
        return page_main(args.base, args.until)
    print(describe(run(args.events, args.tmp, args.replica_timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
