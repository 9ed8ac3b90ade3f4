"""Launch to lobby: how soon a built desktop app shows its lobby, run after run, under Xvfb.

``python -m tests.bench.launch --app dist/LANChat/LANChat [--baseline OTHER/LANChat]``: each run
starts the app as a desktop launcher would (its own empty home folders, a display, no
discovery), and reads from the page afterwards, through Qt WebEngine's DevTools endpoint, when
the lobby was first painted (the largest-contentful-paint entry inside the lobby, on the page's
clock, turned into wall time with ``performance.timeOrigin``, which is also when the page
opened: ``page_to_lobby_s`` is the page's own part). The app's log gives when its
window was made and when pywebview saw the first page loaded. With ``--baseline``, the two apps
take turns, so both see the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import wait_until
from tests.procs import free_port
from tests.window_driver import DEVTOOLS_ENV, PAGE_CHANGING, DevToolsPage, first_load_seconds

from .common import loadavg

# Resolves, once the lobby has painted, to [lobby paint ms on the page's clock, timeOrigin].
LOBBY_PAINT = """
new Promise((resolve) => {
  const seen = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.element?.closest('.lobby')) seen.push(e.startTime);
    if (seen.length) resolve([Math.min(...seen), performance.timeOrigin]);
  }).observe({ type: 'largest-contentful-paint', buffered: true });
})
"""
WINDOW_MADE = "window made "


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    display = f":{free_port() % 400 + 600}"
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: Path(f"/tmp/.X11-unix/X{display[1:]}").exists(), timeout=10,
               what="Xvfb")
    return proc, display


def launch_once(app: Path, display: str, extra: tuple[str, ...] = ()) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    devtools = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "QT"))}
    env.update(HOME=str(home), DISPLAY=display, XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"),
               XDG_CACHE_HOME=str(home / "cache"), **{DEVTOOLS_ENV: f"127.0.0.1:{devtools}"})
    if os.geteuid() == 0:
        env["QTWEBENGINE_CHROMIUM_FLAGS"] = "--no-sandbox --disable-gpu"
    launched = time.time()
    proc = subprocess.Popen([str(app), "--no-discovery", "--port", "0", *extra], env=env, cwd=home,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page = DevToolsPage(devtools)
    try:
        # Asked only once the log has the first load: asking earlier slows the start down.
        log = home / "state" / "LANChat" / "log" / "lanchat.log"
        text = wait_until(lambda: _logged(log), timeout=60, what="the first page load in the log")
        wait_until(lambda: _on_lobby(page), timeout=60, interval=0.05, what="the lobby page")
        painted_ms, origin_ms = wait_until(lambda: _lobby_paint(page), timeout=60,
                                           what="the lobby's paint")
        return {"lobby_painted_s": (origin_ms + painted_ms) / 1000 - launched,
                "page_opened_s": origin_ms / 1000 - launched,
                "page_to_lobby_s": painted_ms / 1000,
                "window_made_s": _window_made(text),
                "first_load_s": first_load_seconds(text) or float("nan")}
    finally:
        page.close()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(home, ignore_errors=True)


def _on_lobby(page: DevToolsPage) -> bool:
    try:
        return "#lobby" in (page.url() or "")
    except httpx.TransportError:  # not listening yet
        return False


def _lobby_paint(page: DevToolsPage) -> list[float] | None:
    """[paint ms, timeOrigin ms], or None while the page is still being replaced."""
    reply = page._call("Runtime.evaluate", {"expression": LOBBY_PAINT, "awaitPromise": True,
                                            "returnByValue": True}, 60)
    if "error" in reply:
        if any(m in str(reply["error"].get("message")) for m in PAGE_CHANGING):
            return None
        raise AssertionError(f"DevTools refused the script: {reply['error']}")
    return list(reply["result"]["result"]["value"])


def _logged(log: Path) -> str | None:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text if first_load_seconds(text) is not None else None


def _window_made(text: str) -> float:
    for line in text.splitlines():
        if WINDOW_MADE in line:
            return float(line.split(WINDOW_MADE)[1].split()[0])
    return float("nan")


def summary(values: list[float]) -> str:
    return (f"{statistics.median(values):5.2f} (min {min(values):.2f}, "
            f"max {max(values):.2f})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.launch", description=__doc__)
    p.add_argument("--app", type=Path, default=Path("dist/LANChat/LANChat"))
    p.add_argument("--baseline", type=Path, default=None, help="another build to compare")
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args(argv)
    apps = {"app": args.app} | ({"baseline": args.baseline} if args.baseline else {})
    xvfb, display = start_xvfb()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in apps}
    try:
        for app in apps.values():  # a first launch warms the disk cache for both
            launch_once(app, display)
        for _ in range(args.runs):
            for name, app in apps.items():
                results[name].append(launch_once(app, display))
    finally:
        xvfb.terminate()
        xvfb.wait(10)
    print(f"launch to lobby, {args.runs} runs each, seconds: median (min, max); "
          f"load average {loadavg()}")
    for name, runs in results.items():
        print(f"  {name:9} {apps[name]}")
        for key in ("window_made_s", "page_opened_s", "page_to_lobby_s", "lobby_painted_s",
                    "first_load_s"):
            print(f"    {key:16} {summary([r[key] for r in runs])}")
    print(json.dumps({n: [{k: round(v, 3) for k, v in r.items()} for r in runs]
                      for n, runs in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
