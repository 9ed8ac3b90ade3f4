"""Attacks from the LAN, measured: what a host stores, burns and holds while one address abuses it.

``python -m tests.bench.attacks`` (also ``python -m tests.bench --only attacks``) runs three
bounded scenarios against a host process on 127.0.0.1 and prints what it cost the host:

- ``join_flood``: one address connects, says hello with a new ``client_id`` and hangs up, in a
  loop of 4 for ``--seconds``: join/leave events stored per second, host CPU and RSS.
- ``reconnect_burst``: one person sends 8 KiB messages as fast as it can and reconnects (same
  ``client_id``) whenever it is slowed down: messages stored per second.
- ``stuck_readers``: 70 WebSocket clients and 70 ``/api/events?limit=500`` requests that never
  read while 300 messages of 8,000 control characters (about 48 KB each as JSON) flow: host RSS
  peak while they hang, and after they close. Rate and join limits are lifted for this one, so
  the same traffic reaches every version of the host.

``--code-root`` runs the host from another checkout (for a before/after comparison); options
that checkout's ``Settings`` does not know are dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from websockets.frames import Frame, Opcode

from .common import ROOT, Child, cpu_seconds, python, raise_nofile, rss

MB = 1024 * 1024

HOST_CODE = """
import dataclasses, json, sys
from pathlib import Path
from server.listen import bind_socket
from server.runner import Server, uvicorn_config
from server.settings import Settings
known = {f.name for f in dataclasses.fields(Settings)}
over = {k: v for k, v in json.loads(sys.argv[1]).items() if k in known}
sock = bind_socket("127.0.0.1", 0)
port = sock.getsockname()[1]
settings = Settings(room="attacks", host="127.0.0.1", port=port, data_dir=Path(sys.argv[2]),
                    discovery=False, **over)
print("PORT", port, flush=True)
Server(uvicorn_config(settings)).run(sockets=[sock])
"""

# Lifted for stuck_readers, so that scenario measures buffering, not the rate limits.
LIFTED = {"messages_per_second": 1e6, "message_burst": 1_000_000,
          "max_connections_per_address": 10_000,
          "joins_per_second_per_address": 1e6, "join_burst_per_address": 1_000_000,
          "joins_per_second_per_person": 1e6, "join_burst_per_person": 1_000_000}


class HostProcess:
    """A LAN Chat host in its own process, sampled for CPU and RSS while a scenario runs."""

    def __init__(self, code_root: Path, data: Path, overrides: dict[str, Any]) -> None:
        self.data = data
        self.child = Child([python(), "-c", HOST_CODE, json.dumps(overrides), str(data)],
                           cwd=code_root)
        _started.append(self)  # stopped by run() even when a scenario fails
        self.port = int(self.child.read_line("PORT", timeout=30))
        self._wait_listening()
        self.proc: psutil.Process = self.child.ps
        self.peak = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _wait_listening(self, timeout: float = 30.0) -> None:
        """The port is printed before uvicorn listens: wait until it answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss(self.proc))
            except psutil.Error:
                return
            time.sleep(0.02)

    def rss_mb(self) -> float:
        return round(rss(self.proc) / MB, 1)

    def settle(self, steady: float = 2.0, timeout: float = 20.0) -> float:
        """RSS in MB once it has stayed within 1 MB for ``steady`` seconds (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        last, since = self.rss_mb(), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < steady:
            time.sleep(0.25)
            now = self.rss_mb()
            if abs(now - last) > 1.0:
                last, since = now, time.monotonic()
        return self.rss_mb()

    def cpu(self) -> float:
        return cpu_seconds(self.proc)

    def stop(self) -> dict[str, int]:
        """Stop the host (by its PID) and count what its history holds, by event type."""
        self._stop.set()
        self.child.stop()
        if self in _started:
            _started.remove(self)
        db = sqlite3.connect(f"file:{self.data / 'history.sqlite3'}?mode=ro", uri=True)
        try:
            return dict(db.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall())
        finally:
            db.close()


_started: list[HostProcess] = []


def _hello(name: str, client_id: str) -> str:
    return json.dumps({"type": "hello", "name": name, "client_id": client_id})


async def _flood_loop(url: str, seconds: float, counts: dict[str, int]) -> None:
    from websockets.asyncio.client import connect

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counts["attempts"] += 1
        try:
            async with connect(url, open_timeout=5, close_timeout=1, ping_interval=None) as ws:
                await ws.send(_hello("Flood", uuid.uuid4().hex))
                first = json.loads(await asyncio.wait_for(ws.recv(), 5))
                counts["admitted" if first.get("type") == "welcome" else "refused"] += 1
        except Exception as exc:  # noqa: BLE001 - a refusal closes the socket: counted, loop on
            counts["refused"] += 1
            kind = f"refused: {type(exc).__name__} {getattr(exc, 'rcvd', None)}"[:80]
            counts[kind] = counts.get(kind, 0) + 1


def join_flood(code_root: Path, work: Path, seconds: float) -> dict[str, Any]:
    host = HostProcess(code_root, work / "join_flood", {})
    counts = {"attempts": 0, "admitted": 0, "refused": 0}
    cpu0, t0 = host.cpu(), time.monotonic()

    async def run() -> None:
        url = f"ws://127.0.0.1:{host.port}/ws"
        await asyncio.gather(*(_flood_loop(url, seconds, counts) for _ in range(4)))

    asyncio.run(run())
    wall = time.monotonic() - t0
    cpu = host.cpu() - cpu0
    rss_end = host.rss_mb()
    stored = host.stop()
    return {"seconds": round(wall, 1), **counts,
            "joins_stored_per_s": round(stored.get("join", 0) / wall, 1),
            "leaves_stored_per_s": round(stored.get("leave", 0) / wall, 1),
            "host_cpu_pct": round(100 * cpu / wall), "host_rss_mb": rss_end,
            "host_rss_peak_mb": round(host.peak / MB, 1)}


async def _burst_loop(url: str, seconds: float, counts: dict[str, int]) -> None:
    from websockets.asyncio.client import connect

    client_id = uuid.uuid4().hex
    text = "b" * 8000
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with connect(url, open_timeout=5, close_timeout=1, ping_interval=None,
                               max_size=None) as ws:
                await ws.send(_hello("Burst", client_id))
                await asyncio.wait_for(ws.recv(), 5)
                counts["connections"] += 1
                for _ in range(30):
                    await ws.send(json.dumps({"type": "message", "text": text,
                                              "client_msg_id": uuid.uuid4().hex}))
                while time.monotonic() < deadline:  # read until the host slows us down
                    event = json.loads(await asyncio.wait_for(ws.recv(), 2))
                    if event.get("type") == "error":
                        break
        except Exception:  # noqa: BLE001 - refused or closed: reconnect
            counts["refused"] += 1
            await asyncio.sleep(0.01)


def reconnect_burst(code_root: Path, work: Path, seconds: float) -> dict[str, Any]:
    host = HostProcess(code_root, work / "reconnect_burst", {})
    counts = {"connections": 0, "refused": 0}
    cpu0, t0 = host.cpu(), time.monotonic()
    asyncio.run(_burst_loop(f"ws://127.0.0.1:{host.port}/ws", seconds, counts))
    wall = time.monotonic() - t0
    cpu = host.cpu() - cpu0
    stored = host.stop()
    size = sum(f.stat().st_size for f in (work / "reconnect_burst").glob("history.sqlite3*"))
    return {"seconds": round(wall, 1), **counts,
            "messages_stored": stored.get("message", 0),
            "messages_stored_per_s": round(stored.get("message", 0) / wall, 1),
            "history_mb": round(size / MB, 1), "host_cpu_pct": round(100 * cpu / wall)}


def _stuck_socket(port: int, request: bytes) -> socket.socket:
    """A client with a tiny receive window that sends ``request`` and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request)
    return sock


def _stuck_ws(port: int, i: int) -> socket.socket:
    key = base64.b64encode(os.urandom(16)).decode()
    sock = _stuck_socket(port, (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode())
    sock.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:  # the 101 answer; nothing else comes before our hello
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("the host closed the handshake")
        head += chunk
    sock.sendall(Frame(Opcode.TEXT, _hello(f"Stuck {i}", f"stuck-{i}").encode())
                 .serialize(mask=True))
    return sock


async def _send_controls(url: str, count: int, users: int) -> dict[str, Any]:
    """Wait until every stuck client is in the room, then send ``count`` messages of control
    characters and wait for the host to echo them all."""
    from websockets.asyncio.client import connect

    async with connect(url, open_timeout=10, max_size=None, max_queue=None,
                       ping_interval=None) as ws:
        await ws.send(_hello("Sender", uuid.uuid4().hex))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        joined = len(welcome["users"])
        deadline = time.monotonic() + 30
        while joined < users and time.monotonic() < deadline:
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
            joined += event.get("type") == "join"
        text = "\x01" * 8000
        for _ in range(count):
            await ws.send(json.dumps({"type": "message", "text": text,
                                      "client_msg_id": uuid.uuid4().hex}))
        echoed = 0
        deadline = time.monotonic() + 60
        while echoed < count and time.monotonic() < deadline:
            raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            echoed += isinstance(raw, str) and raw.startswith('{"type":"message"')
        return {"in_room": joined, "echoed": echoed}


def stuck_readers(code_root: Path, work: Path, clients: int = 70,
                  messages: int = 300) -> dict[str, Any]:
    host = HostProcess(code_root, work / "stuck_readers", LIFTED)
    base_mb = host.rss_mb()
    cpu0, t0 = host.cpu(), time.monotonic()
    socks = [_stuck_ws(host.port, i) for i in range(clients)]
    sent = asyncio.run(_send_controls(f"ws://127.0.0.1:{host.port}/ws", messages, clients + 1))
    page = (f"GET /api/events?after=0&limit=500 HTTP/1.1\r\nHost: 127.0.0.1:{host.port}\r\n"
            "\r\n").encode()
    socks += [_stuck_socket(host.port, page) for _ in range(clients)]
    during_mb = host.settle()  # the host has answered the pages into its buffers
    peak_mb = round(host.peak / MB, 1)
    open_after = sum(1 for c in host.proc.net_connections("tcp")
                     if c.status == psutil.CONN_ESTABLISHED)
    for sock in socks:
        sock.close()
    after_mb = host.settle()  # the host noticed the closes and freed what it held
    wall = time.monotonic() - t0
    cpu = host.cpu() - cpu0
    host.stop()
    return {"clients": clients, "messages": messages, **sent, "host_rss_base_mb": base_mb,
            "host_rss_during_mb": during_mb, "host_rss_peak_mb": peak_mb,
            "host_rss_after_close_mb": after_mb, "host_conns_open_before_close": open_after,
            "host_cpu_pct": round(100 * cpu / wall), "seconds": round(wall, 1)}


def run(tmp: Path | None = None, code_root: Path = ROOT, seconds: float = 10.0,
        only: tuple[str, ...] = ("join_flood", "reconnect_burst", "stuck_readers")
        ) -> dict[str, Any]:
    raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="bench-attacks-", dir=tmp))
    out: dict[str, Any] = {"code_root": str(code_root)}
    try:
        if "join_flood" in only:
            out["join_flood"] = join_flood(code_root, work, seconds)
        if "reconnect_burst" in only:
            out["reconnect_burst"] = reconnect_burst(code_root, work, seconds)
        if "stuck_readers" in only:
            out["stuck_readers"] = stuck_readers(code_root, work)
    finally:
        for host in list(_started):
            host.child.stop()
            _started.remove(host)
        shutil.rmtree(work, ignore_errors=True)
    return out


def print_attacks(report: dict[str, Any]) -> None:
    """One line per scenario, for people."""
    j = report.get("join_flood")
    if j:
        print(f"  join flood, {j['seconds']} s: {j['attempts']} tries, {j['admitted']} admitted; "
              f"joins stored {j['joins_stored_per_s']}/s, leaves {j['leaves_stored_per_s']}/s; "
              f"host CPU {j['host_cpu_pct']} %, RSS {j['host_rss_mb']} MB")
    b = report.get("reconnect_burst")
    if b:
        print(f"  reconnect burst, {b['seconds']} s: {b['connections']} connections; "
              f"{b['messages_stored']} messages of 8 KB stored ({b['messages_stored_per_s']}/s), "
              f"history {b['history_mb']} MB; host CPU {b['host_cpu_pct']} %")
    r = report.get("stuck_readers")
    if r:
        print(f"  {r['clients']} stuck readers, {r['messages']} messages of control characters: "
              f"host RSS {r['host_rss_base_mb']} MB before, peak {r['host_rss_peak_mb']} MB, "
              f"{r['host_rss_after_close_mb']} MB after they closed; host CPU "
              f"{r['host_cpu_pct']} %")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.attacks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--code-root", type=Path, default=ROOT, help="checkout whose host to attack")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each flood")
    p.add_argument("--only", default="join_flood,reconnect_burst,stuck_readers")
    p.add_argument("--tmp", type=Path, default=None)
    args = p.parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    report = run(args.tmp, args.code_root.resolve(), min(args.seconds, 60.0), only)
    print(json.dumps(report, indent=1))
    print_attacks(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
