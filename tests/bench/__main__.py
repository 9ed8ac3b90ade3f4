"""``python -m tests.bench`` (``make bench``): run every benchmark, print a table, write JSON.

Options: ``--quick`` (100 and 1,000 clients, 100 MB files, 100,000 events: a few minutes),
``--only fanout,files,history,search,startup,slowdisk,flood,attacks,replica``,
``--baseline DIR`` (an earlier checkout for the slow-disk comparison), ``--sizes 100,1000``,
``--file-mb``, ``--events`` (history, search and replica catch-up), ``--tmp`` (a folder on the
disk to test; default the system's temporary folder), ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

from . import attacks, fanout, files, flood, history, replica, search, slowdisk, startup
from .attacks import print_attacks
from .common import ROOT, loadavg, raise_nofile

SECTIONS = ("fanout", "files", "history", "search", "startup", "slowdisk", "flood", "attacks",
            "replica")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, for a first look")
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    p.add_argument("--sizes", default=None, help="fan-out client counts (default 100,1000,5000)")
    p.add_argument("--file-mb", type=int, default=None, help="upload/download size (default 1000)")
    p.add_argument("--events", type=int, default=None, help="stored events (default 1,000,000)")
    p.add_argument("--tmp", type=Path, default=None, help="folder for temporary data")
    p.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "bench.json")
    p.add_argument("--baseline", type=Path, default=None,
                   help="slowdisk: another checkout (an earlier version) measured beside this one")
    return p.parse_args(argv)


def _stop(_sig: int, _frame: object) -> None:
    raise SystemExit(130)  # run every finally: hosts and load workers are stopped by PID


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    nofile = raise_nofile()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    sizes = tuple(int(x) for x in (args.sizes or ("100,1000" if args.quick
                                                  else "100,1000,5000")).split(","))
    if max(sizes) + 100 > nofile:
        print(f"note: the open-file limit is {nofile}; {max(sizes)} clients may not fit",
              file=sys.stderr)
    file_mb = args.file_mb or (100 if args.quick else 1000)
    events = args.events or (100_000 if args.quick else 1_000_000)
    t_start = time.monotonic()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "loadavg_before": loadavg()},
    }

    def section(name: str, fn: Any) -> None:
        if name not in only:
            return
        print(f"== {name} (load average {loadavg()})", flush=True)
        t0 = time.monotonic()
        report[name] = fn()
        report[name + "_seconds"] = round(time.monotonic() - t0, 1)
        report.setdefault("loadavg", {})[name] = loadavg()

    def run_fanout() -> list[dict[str, Any]]:
        cfg = fanout.FanoutConfig(sizes=sizes, tmp=args.tmp)
        rows = []
        for n in sizes:
            for kind in fanout.KINDS:
                print(f"   {kind:8} {n:5} clients", flush=True)
                rows.append(fanout.run_one(kind, n, cfg))
        return rows

    section("startup", lambda: startup.run(args.tmp))
    section("history", lambda: history.run(events, args.tmp))
    section("search", lambda: search.run(events, args.tmp))
    section("files", lambda: files.run(file_mb * 10**6, args.tmp))
    section("fanout", run_fanout)
    section("slowdisk", lambda: slowdisk.run(args.tmp, args.baseline,
                                             seconds=3.0 if args.quick else 5.0))
    section("flood", lambda: flood.run(10.0 if args.quick else 25.0, tmp=args.tmp))
    section("attacks", lambda: attacks.run(args.tmp))
    section("replica", lambda: replica.run(events, args.tmp))
    report["seconds"] = round(time.monotonic() - t_start, 1)
    report["machine"]["loadavg_after"] = loadavg()
    report["targets"] = targets(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print_report(report)
    print(f"\nJSON: {args.out}  ({report['seconds']} s in all)")
    return 0


def _fan(report: dict[str, Any], kind: str, n: int) -> dict[str, Any] | None:
    for row in report.get("fanout", []):
        if row["kind"] == kind and row["clients"] == n:
            return row  # type: ignore[no-any-return]
    return None


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 8 with the measured value and whether it is met."""
    out: list[dict[str, Any]] = []

    def add(name: str, value: float, goal: str, met: bool) -> None:
        out.append({"target": name, "value": value, "goal": goal, "met": bool(met)})

    ours, naive, ceil = (_fan(report, k, 1000) for k in fanout.KINDS)
    if ours and naive and ceil:
        r = ours["sat"]["deliveries_per_s"] / max(1, naive["sat"]["deliveries_per_s"])
        add("1000 clients: deliveries/s vs naive", round(r, 2), ">= 2.0", r >= 2)
        r = ours["sat"]["p99_ms"] / naive["sat"]["p99_ms"]
        add("1000 clients: p99 vs naive (saturation)", round(r, 2), "<= 0.5", r <= 0.5)
        r = ceil["sat"]["deliveries_per_s"] / max(1, ours["sat"]["deliveries_per_s"])
        add("1000 clients: ceiling deliveries/s vs ours", round(r, 2), "<= 1.5", r <= 1.5)
        add("1000 clients: KiB per connection", ours["kib_per_conn"], "<= 40",
            ours["kib_per_conn"] <= 40)
    big = _fan(report, "ours", 5000)
    if big:
        p99 = big["rate"]["p99_ms"]
        add("5000 clients at 10 msg/s: p99 ms", p99, "< 250, nothing lost",
            p99 < 250 and big["rate"]["lost"] == 0 and big["connected"] == 5000)
    f = report.get("files")
    if f:
        for client in ("httpx", "curl"):
            if f"upload_{client}" in f:
                r = f[f"upload_vs_raw_{client}"]
                add(f"upload ({client}) vs raw body to disk", r, ">= 0.8", r >= 0.8)
                g = f[f"upload_{client}"]["rss_growth_mb"]
                add(f"upload ({client}) host memory growth MB", g, "< 10", g < 10)
                d = f[f"download_{client}"]["mb_s"]
                add(f"download ({client}) MB/s", d, ">= 300", d >= 300)
    slow = {(r["code"], r["disk"] != "fast"): r for r in report.get("slowdisk", [])}
    if ("ours", True) in slow and ("ours", False) in slow:
        s, fast = slow[("ours", True)], slow[("ours", False)]
        add("fsync 20 ms, 100 clients: messages stored/s at saturation", s["stored_per_s"],
            ">= 500", s["stored_per_s"] >= 500)
        d = round(s["ping_p99_ms"] - fast["ping_p99_ms"], 1)
        add("fsync 20 ms: idle ping p99 minus the fast disk's, ms", d, "<= 10", d <= 10)
        add("fsync 20 ms: 100 joins at once, longest ping ms", s["join_worst_ping_ms"], "<= 50",
            s["join_worst_ping_ms"] <= 50)
    h = report.get("history")
    if h:
        w = h["ws_welcome"]["median_ms"]
        add(f"welcome at {h['events']:,} events (median ms, over a WebSocket)", w, "< 10", w < 10)
    return out


def _f(x: Any, digits: int = 1) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    if report.get("search"):
        search.print_search(report["search"])
    print(f"\nLAN Chat benchmarks: {m['cpus']} CPUs, Python {m['python']}, load average "
          f"{m['loadavg_before']} before, {m['loadavg_after']} after (a shared machine: noisy)")
    rows = report.get("fanout")
    if rows:
        print("\nFan-out (~230-byte events; rate = 10 msg/s in all; sat = 4 senders x 4 in flight)")
        head = ("host", "clients", "KiB/conn", "rate p50", "rate p99", "sat deliv/s", "sat p50",
                "sat p99", "host us/deliv", "host CPU%", "load CPU%", "lost")
        print("  ".join(f"{h:>12}" for h in head))
        for r in rows:
            s, q = r["sat"], r["rate"]
            cells = (r["kind"], r["clients"], r["kib_per_conn"], q["p50_ms"], q["p99_ms"],
                     s["deliveries_per_s"], s["p50_ms"], s["p99_ms"], s["host_us_per_delivery"],
                     s["host_cpu_pct"], "/".join(_f(x, 0) for x in s["load_cpu_pct"]),
                     q["lost"] + s["lost"])
            print("  ".join(f"{_f(c):>12}" for c in cells))
        for n in sorted({r["clients"] for r in rows}):
            ours, naive, ceil = (_fan(report, k, n) for k in fanout.KINDS)
            if ours and naive and ceil:
                o, nv, c = ours["sat"], naive["sat"], ceil["sat"]
                print(f"  {n} clients: ours/naive deliveries/s "
                      f"{o['deliveries_per_s'] / max(1, nv['deliveries_per_s']):.2f}, p99 "
                      f"{o['p99_ms'] / nv['p99_ms']:.2f}; ours/ceiling deliveries/s "
                      f"{o['deliveries_per_s'] / max(1, c['deliveries_per_s']):.2f}")
        print("  (latency in ms; 'load CPU%' is each load process's share of one core: below 100 "
              "means the load client was not the bottleneck)")
    if report.get("slowdisk"):
        print("\nA slow disk (every fsync 20 ms) beside the fast one, 100 clients")
        print(slowdisk.table(report["slowdisk"]))
    f = report.get("files")
    if f:
        print(f"\nFiles ({f['bytes'] / 1e6:,.0f} MB, best of {f['rounds']}; MB/s, host peak RSS "
              f"growth MB); raw loopback TCP {f['loopback_tcp_mb_s']:,} MB/s")
        for name in ("raw_body_to_disk_httpx", "upload_httpx", "download_httpx",
                     "raw_body_to_disk_curl", "upload_curl", "download_curl"):
            if name in f:
                print(f"  {name:24} {f[name]['mb_s']:>6,} MB/s  +{f[name]['rss_growth_mb']} MB"
                      f"   (runs {f[name]['all_mb_s']})")
    h = report.get("history")
    if h:
        print(f"\nHistory ({h['events']:,} events; ms, median / p99)")
        for label, v in (("welcome, host work", h["server_side"]["welcome_fresh"]),
                         ("resume 100, host work", h["server_side"]["welcome_resume_100"]),
                         ("welcome over WebSocket", h["ws_welcome"]),
                         ("scroll-back page HTTP", h["scrollback_page"])):
            print(f"  {label:24} {v['median_ms']:8.3f} / {v['p99_ms']:.3f}")
    s = report.get("startup")
    if s:
        print(f"\nStart-up to /api/health: median {s['median_s']} s (min {s['min_s']}, "
              f"max {s['max_s']}, {s['runs']} runs)")
    fl = report.get("flood")
    if fl:
        print("\nOne connection sending an endless header (tests/bench/flood.py)")
        print("  " + flood.describe(fl))
    a = report.get("attacks")
    if a:
        print("\nAttacks from one address (see tests/bench/attacks.py)")
        print_attacks(a)
    if report.get("replica"):
        print()
        print(replica.describe(report["replica"]))
    if report["targets"]:
        print("\nTargets")
        for t in report["targets"]:
            print(f"  {'MET ' if t['met'] else 'MISS'}  {t['target']}: {_f(t['value'], 2)} "
                  f"(goal {t['goal']})")


if __name__ == "__main__":
    sys.exit(main())
