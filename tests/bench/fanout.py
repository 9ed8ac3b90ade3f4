"""Fan-out: N clients connected to one host, a few of them sending; every delivery timed.

For each host (ours, naive, ceiling) and each N, one host process and P load processes:
connect N clients (each sends hello and waits for its welcome), read the host's memory, then two
phases on the same connections: ``rate`` (a fixed total message rate) and ``sat`` (saturation:
each sender keeps a small window of messages in flight and sends the next when its own echo
arrives). Host CPU time comes from /proc via psutil before and after each phase.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import tempfile
import time
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import psutil

from .common import ROOT, Child, cpu_seconds, percentile, python, rss
from .load import worker_main

KINDS = ("ours", "naive", "ceiling")


@dataclass
class FanoutConfig:
    sizes: tuple[int, ...] = (100, 1000, 5000)
    senders: int = 4
    rate: float = 10.0  # messages per second, all senders together
    rate_seconds: float = 5.0
    sat_deliveries: int = 200_000  # a saturation phase sends about this many deliveries' worth
    sat_seconds: float = 8.0
    window: int = 4  # unacknowledged messages per sender at saturation
    users: int = 100  # distinct users among the clients (each connection is one tab)
    tmp: Path | None = None
    host_root: Path = ROOT  # the checkout the host runs from (another one: a baseline)
    host_env: dict[str, str] | None = None  # e.g. LD_PRELOAD for a slow disk
    phases: tuple[str, ...] = ("rate", "sat")


class Mailbox:
    """Replies from one worker, taken by the key they carry; every wait has a deadline."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.kept: list[dict[str, Any]] = []

    def take(self, key: str, timeout: float) -> dict[str, Any]:
        for i, msg in enumerate(self.kept):
            if key in msg:
                return self.kept.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pipe.poll(left):
                raise TimeoutError(f"no {key!r} reply from a load worker within {timeout} s")
            msg = self.pipe.recv()
            if key in msg:
                return msg  # type: ignore[no-any-return]
            self.kept.append(msg)

    def call(self, key: str, wait: float, **cmd: Any) -> dict[str, Any]:
        self.pipe.send(cmd)
        return self.take(key, wait)


def run_one(kind: str, n: int, cfg: FanoutConfig) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=cfg.tmp))
    host = Child([python(), "-m", "tests.bench.hosts", kind, "--data-dir", str(tmp)],
                 env=cfg.host_env, cwd=cfg.host_root)
    procs: list[mp.process.BaseProcess] = []
    boxes: list[Mailbox] = []
    result: dict[str, Any] = {"kind": kind, "clients": n}
    try:
        port = int(host.read_line("PORT "))
        url = f"ws://127.0.0.1:{port}/ws"
        time.sleep(0.5)
        rss0 = rss(host.ps)
        n_procs = 1 if n <= 200 else 2
        ctx = mp.get_context("spawn")
        for _ in range(n_procs):
            parent, child = ctx.Pipe()
            worker = ctx.Process(target=worker_main, args=(child,), daemon=True)
            worker.start()
            procs.append(worker)
            boxes.append(Mailbox(parent))
        share = [n // n_procs + (1 if i < n % n_procs else 0) for i in range(n_procs)]
        t0 = time.monotonic()
        base = 0
        for box, count in zip(boxes, share, strict=True):
            box.pipe.send({"op": "connect", "url": url, "count": count, "base": base,
                           "users": cfg.users})
            base += count
        replies = [box.take("connected", 180) for box in boxes]
        result["connect_seconds"] = round(time.monotonic() - t0, 2)
        result["connected"] = sum(r["connected"] for r in replies)
        result["connect_errors"] = sum(r["errors"] for r in replies)
        time.sleep(1.0)  # let welcomes drain and the host settle
        rss1 = rss(host.ps)
        result["rss_mb"] = round(rss1 / 2**20, 1)
        result["kib_per_conn"] = round((rss1 - rss0) / 1024 / max(1, result["connected"]), 1)
        workers = [psutil.Process(p.pid) for p in procs]

        rate_count = int(cfg.rate * cfg.rate_seconds)
        if "rate" in cfg.phases:
            result["rate"] = phase(boxes, workers, host.ps, "r", senders=cfg.senders,
                                   count=rate_count, rate=cfg.rate, window=0,
                                   seconds=cfg.rate_seconds + 2)
        sat_count = max(40, min(4000, cfg.sat_deliveries // n))
        result["sat"] = phase(boxes, workers, host.ps, "s", senders=cfg.senders,
                              count=sat_count, rate=None, window=cfg.window,
                              seconds=cfg.sat_seconds)
        for box in boxes:
            box.call("closed", 30, op="close")
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        host.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def phase(boxes: list[Mailbox], workers: list[psutil.Process], host: psutil.Process, tag: str,
          *, senders: int, count: int, rate: float | None, window: int,
          seconds: float) -> dict[str, Any]:
    drain = 15.0
    for box in boxes:
        box.pipe.send({"op": "measure", "phase": tag, "expect": count, "timeout": seconds + drain})
    for box in boxes:
        box.take("armed", 10)
    host_cpu0 = cpu_seconds(host)
    load_cpu0 = [cpu_seconds(w) for w in workers]
    start_ns = time.monotonic_ns()
    sent = boxes[0].call("sent", seconds + 10, op="send", phase=tag, senders=senders,
                         count=count, rate=rate, window=window, timeout=seconds)
    for box in boxes:
        box.pipe.send({"op": "set_expect", "expect": sent["sent"]})
    results = [box.take("got", seconds + drain + 10) for box in boxes]
    host_cpu = cpu_seconds(host) - host_cpu0
    load_cpu = [cpu_seconds(w) - c for w, c in zip(workers, load_cpu0, strict=True)]
    lat = array("q")
    for r in results:
        lat.frombytes(r["lat"])
    got = len(lat)
    last = max((r["last_ns"] for r in results), default=0)
    wall = max(1e-9, (last - start_ns) / 1e9) if got else seconds
    ms = sorted(x / 1e6 for x in lat)
    conns = sum(r["conns"] for r in results)
    return {
        "messages": sent["sent"],
        "deliveries": got,
        "lost": sent["sent"] * conns - got,
        "seconds": round(wall, 3),
        "deliveries_per_s": round(got / wall),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2) if ms else float("nan"),
        "host_cpu_pct": round(100 * host_cpu / wall, 1),
        "host_us_per_delivery": round(1e6 * host_cpu / got, 2) if got else float("nan"),
        "load_cpu_pct": [round(100 * c / wall, 1) for c in load_cpu],
    }
