"""Start-up: from launching ``python -m server`` to ``/api/health`` answering."""

from __future__ import annotations

import http.client
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import Child, python


def once(data: Path) -> float:
    t0 = time.perf_counter()
    child = Child([python(), "-m", "server", "--host", "127.0.0.1", "--port", "0",
                   "--no-discovery", "--data-dir", str(data), "--log-level", "warning"])
    try:
        url = child.read_line("LAN Chat is serving on ", timeout=30)
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/api/health")
                if conn.getresponse().status == 200:
                    return time.perf_counter() - t0
            except OSError:
                time.sleep(0.005)
            finally:
                conn.close()
        raise TimeoutError("the server did not answer /api/health within 30 s")
    finally:
        child.stop()


def run(tmp: Path | None, runs: int = 5) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-startup-", dir=tmp))
    try:
        once(work / "warm")  # the first launch pays for .pyc files and a new database
        times = [once(work / "data") for _ in range(runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
            "max_s": round(max(times), 3), "runs": runs}
