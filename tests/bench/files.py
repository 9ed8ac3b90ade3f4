"""Files: upload and download of one big file through the real endpoints, beside raw baselines.

- raw loopback TCP: one socket pair on 127.0.0.1, a thread receiving, ``sendall`` of the size;
- raw body to disk: a bare ASGI app (``hosts.py rawsink``) that writes the request body to a file
  and fsyncs, with the same uvicorn settings: the fastest an upload through uvicorn can be;
- ours: ``POST /api/files`` (multipart, the browser's way) and ``GET /api/files/{id}``, each with
  httpx and with curl. The host's RSS is sampled every 20 ms; "peak growth" is the highest sample
  minus the one before the transfer.
The big file lives in a temporary folder and is deleted afterwards, as are the hosts' copies.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from .common import Child, python, rss

CHUNK = 1 << 20


def make_file(path: Path, size: int) -> None:
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(CHUNK, left)])
            left -= CHUNK


class PeakRss:
    """Samples a process's RSS on a thread while a transfer runs."""

    def __init__(self, proc: psutil.Process, interval: float = 0.02) -> None:
        self.proc = proc
        self.interval = interval
        self.base = rss(proc)
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss(self.proc))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.proc))

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.base) / 2**20, 1)


def loopback_tcp(size: int) -> float:
    """MB/s of one TCP stream over 127.0.0.1 (sender and receiver threads in this process)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = 0

    def receive() -> None:
        nonlocal received
        conn, _ = server.accept()
        buf = bytearray(CHUNK)
        with conn:
            while received < size:
                n = conn.recv_into(buf)
                if not n:
                    break
                received += n

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    block = os.urandom(CHUNK)
    with socket.create_connection(("127.0.0.1", port)) as client:
        t0 = time.perf_counter()
        sent = 0
        while sent < size:
            client.sendall(block[: min(CHUNK, size - sent)])
            sent += CHUNK
        t.join(120)
        seconds = time.perf_counter() - t0
    server.close()
    return size / seconds / 1e6


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def curl(args: list[str]) -> str:
    done = subprocess.run(["curl", "-sS", "--fail", "--noproxy", "*", "-H", "Expect:", *args],
                          capture_output=True, text=True, timeout=300, check=True)
    return done.stdout


def run(size: int, tmp: Path | None, rounds: int = 2) -> dict[str, Any]:
    """Each transfer ``rounds`` times, interleaving ours with the baseline; the best of the
    rounds is reported (the machine is shared, and the slower rounds are the noisy ones)."""
    work = Path(tempfile.mkdtemp(prefix="bench-files-", dir=tmp))
    src = work / "big.bin"
    out: dict[str, Any] = {"bytes": size, "rounds": rounds}
    samples: dict[str, list[dict[str, float]]] = {}
    hosts: list[Child] = []
    mb = size / 1e6

    def record(name: str, peak: PeakRss, seconds: float) -> None:
        samples.setdefault(name, []).append({"mb_s": round(mb / seconds),
                                             "rss_growth_mb": peak.growth_mb})

    try:
        make_file(src, size)
        fd = os.open(src, os.O_RDONLY)
        os.fsync(fd)  # not left for the kernel to write back during the first upload
        os.close(fd)
        out["loopback_tcp_mb_s"] = max(round(loopback_tcp(size)) for _ in range(rounds))
        use_curl = shutil.which("curl") is not None
        raw = Child([python(), "-m", "tests.bench.hosts", "rawsink", "--data-dir", str(work)])
        data = work / "ours"
        ours = Child([python(), "-m", "tests.bench.hosts", "ours", "--data-dir", str(data)])
        hosts += [raw, ours]
        raw_url = f"http://127.0.0.1:{raw.read_line('PORT ')}/"
        base = f"http://127.0.0.1:{ours.read_line('PORT ')}"
        with httpx.Client(timeout=300, trust_env=False) as client:
            _wait_http(client, raw_url, method="POST")
            _wait_http(client, base + "/api/health")
            for _ in range(rounds):
                with PeakRss(raw.ps) as peak, open(src, "rb") as f:
                    s, r = timed(lambda f=f: client.post(raw_url, content=f))  # type: ignore[misc]
                r.raise_for_status()
                record("raw_body_to_disk_httpx", peak, s)
                with PeakRss(ours.ps) as peak, open(src, "rb") as f:
                    s, r = timed(lambda f=f: client.post(  # type: ignore[misc]
                        base + "/api/files",
                        files={"file": ("big.bin", f, "application/octet-stream")}))
                r.raise_for_status()
                record("upload_httpx", peak, s)
                url = f"{base}/api/files/{r.json()['id']}"
                with PeakRss(ours.ps) as peak:
                    s, got = timed(lambda url=url: _download(client, url))  # type: ignore[misc]
                assert got == size, f"downloaded {got} of {size} bytes"
                record("download_httpx", peak, s)
                if use_curl:
                    with PeakRss(raw.ps) as peak:
                        s, _ = timed(lambda: curl(["-X", "POST", "-T", str(src), raw_url]))
                    record("raw_body_to_disk_curl", peak, s)
                    with PeakRss(ours.ps) as peak:
                        s, body = timed(lambda: curl(
                            ["-F", f"file=@{src};type=application/octet-stream",
                             base + "/api/files"]))
                    record("upload_curl", peak, s)
                    url = f"{base}/api/files/{httpx.Response(200, content=body).json()['id']}"
                    with PeakRss(ours.ps) as peak:
                        s, _ = timed(lambda url=url: curl(["-o", os.devnull, url]))  # type: ignore[misc]
                    record("download_curl", peak, s)
                _remove_stored(data)
                for leftover in work.glob("raw-*"):
                    leftover.unlink()
        for name, runs in samples.items():
            out[name] = {"mb_s": max(r["mb_s"] for r in runs),
                         "rss_growth_mb": max(r["rss_growth_mb"] for r in runs),
                         "all_mb_s": [r["mb_s"] for r in runs]}
        for client_name in ("httpx", "curl"):
            if f"upload_{client_name}" in out:
                out[f"upload_vs_raw_{client_name}"] = round(
                    out[f"upload_{client_name}"]["mb_s"]
                    / out[f"raw_body_to_disk_{client_name}"]["mb_s"], 2)
    finally:
        for h in hosts:
            h.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def _remove_stored(data: Path) -> None:
    """Free the disk between runs (the host keeps serving what it still has on record)."""
    for f in (data / "files").glob("*"):
        f.unlink(missing_ok=True)


def _download(client: httpx.Client, url: str) -> int:
    got = 0
    with client.stream("GET", url) as r:
        r.raise_for_status()
        for chunk in r.iter_raw(CHUNK):
            got += len(chunk)
    return got


def _wait_http(client: httpx.Client, url: str, method: str = "GET", timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.request(method, url, content=b"" if method == "POST" else None)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
