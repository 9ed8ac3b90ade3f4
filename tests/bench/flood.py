"""A header that never ends: what one unauthenticated connection costs the host.

The attacker opens a connection to a host on 127.0.0.1, sends a request line and then one header
whose value never ends, as fast as the host takes it, for a bounded time; when the host closes the
connection it opens a new one and starts again. Meanwhile a prober asks ``/api/health`` every
100 ms on fresh connections, the way the lobby and other rooms check that a host is alive.
Measured: the host's CPU seconds and peak RSS growth over the run, and the health latencies.

``python -m tests.bench.flood [--seconds 25] [--code DIR]``: ``--code`` runs the host from another
checkout (for example one of an older version, to compare before and after).
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Child, cpu_seconds, percentile, python, rss

CHUNK = b"a" * 16384


def _flood(port: int, until: float, stats: dict[str, int]) -> None:
    """Send one endless header per connection until ``until``; reconnect when the host closes."""
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                stats["connections"] += 1
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Flood: ")
                while time.monotonic() < until:
                    sock.sendall(CHUNK)
                    stats["bytes"] += len(CHUNK)
        except OSError:
            stats["closed_by_host"] += 1
            time.sleep(0.01)  # a refused connection is retried, not spun on


def _probe(port: int, until: float, latencies: list[float], failures: list[str]) -> None:
    while time.monotonic() < until:
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            conn.request("GET", "/api/health")
            status = conn.getresponse().status
            if status == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                failures.append(f"status {status}")
        except OSError as exc:
            failures.append(type(exc).__name__)
        finally:
            conn.close()
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - t0)))


def run(seconds: float = 25.0, code: Path | None = None, tmp: Path | None = None
        ) -> dict[str, Any]:
    """One flood of ``seconds`` against a fresh host; returns the measurements."""
    work = Path(tempfile.mkdtemp(prefix="bench-flood-", dir=tmp))
    host = Child([python(), "-m", "server", "--host", "127.0.0.1", "--port", "0",
                  "--no-discovery", "--data-dir", str(work / "data"), "--log-level", "error"],
                 cwd=code or ROOT)
    try:
        url = host.read_line("LAN Chat is serving on ", timeout=30)
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        time.sleep(1.0)  # let start-up work settle before the baseline is read
        cpu0, rss0 = cpu_seconds(host.ps), rss(host.ps)
        peak = rss0
        stats = {"connections": 0, "bytes": 0, "closed_by_host": 0}
        latencies: list[float] = []
        failures: list[str] = []
        until = time.monotonic() + seconds
        workers = [threading.Thread(target=_flood, args=(port, until, stats), daemon=True),
                   threading.Thread(target=_probe, args=(port, until, latencies, failures),
                                    daemon=True)]
        for w in workers:
            w.start()
        while time.monotonic() < until:
            peak = max(peak, rss(host.ps))
            time.sleep(0.25)
        cpu = cpu_seconds(host.ps) - cpu0
        for w in workers:
            w.join(25)
    finally:
        host.stop()
        shutil.rmtree(work, ignore_errors=True)
    ordered = sorted(latencies)
    return {
        "seconds": seconds, "host_cpu_s": round(cpu, 1),
        "rss_before_mb": round(rss0 / 2**20, 1), "rss_peak_mb": round(peak / 2**20, 1),
        "rss_growth_mb": round((peak - rss0) / 2**20, 1),
        "flood_connections": stats["connections"], "flood_mb_sent": round(stats["bytes"] / 1e6, 1),
        "health_ok": len(ordered), "health_failed": len(failures),
        "health_p50_ms": round(percentile(ordered, 50) * 1000, 1),
        "health_p99_ms": round(percentile(ordered, 99) * 1000, 1),
        "health_max_ms": round(max(ordered, default=float("nan")) * 1000, 1),
    }


def describe(r: dict[str, Any]) -> str:
    return (f"{r['seconds']:.0f} s of flood: host CPU {r['host_cpu_s']} s, RSS "
            f"{r['rss_before_mb']} -> {r['rss_peak_mb']} MB (+{r['rss_growth_mb']}); "
            f"{r['flood_connections']} flood connections, {r['flood_mb_sent']} MB sent; "
            f"/api/health {r['health_ok']} ok, {r['health_failed']} failed, p50 "
            f"{r['health_p50_ms']} ms, p99 {r['health_p99_ms']} ms, max {r['health_max_ms']} ms")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.flood", description=__doc__)
    p.add_argument("--seconds", type=float, default=25.0)
    p.add_argument("--code", type=Path, default=None, help="run the host from this checkout")
    args = p.parse_args(argv)
    result = run(args.seconds, args.code)
    print(describe(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
