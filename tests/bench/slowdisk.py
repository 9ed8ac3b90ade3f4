"""A slow disk: every fsync made to take 20 ms, the way laptop disks, SD cards, USB sticks and
Windows' FlushFileBuffers behave, beside the same runs on this machine's fast disk.

A small C shim (built here with the system's C compiler) is loaded into the host with
LD_PRELOAD; it sleeps ``SLOW_FSYNC_MS`` after each real ``fsync``/``fdatasync``, so every commit
really syncs and then takes as long as a slow disk would. With ``SLOW_WRITE_MS`` and
``SLOW_WRITE_UNDER`` (folders separated by ``:``) it also sleeps before each ``write`` or
``writev`` to a regular file below those folders, and ``SLOW_FSYNC_UNDER`` limits the slow syncs
the same way (tests/test_upload_io.py slows only the upload folders); the benchmark here uses
neither.
The host is the benchmark host (``python -m tests.bench.hosts ours``: the real app, limits
lifted for one loopback address), from this checkout and, with ``--baseline DIR``, from another
checkout in the same run.

Three measurements, 100 clients on 127.0.0.1, each bounded in count and time:
- ``sat``: the fan-out load workers (``tests/bench/load.py``), eight senders each keeping 8
  messages in flight: messages stored and delivered a second;
- ``ping``: an idle client pings every 50 ms while 20 messages a second flow: its p50/p99;
- ``joins``: 100 more clients say hello at once while a client pings every 5 ms: the longest
  ping (how long the host's loop stood still) and the time until every welcome arrived.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from . import fanout
from .common import ROOT, percentile, python

SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
static void sleep_ms(long ms) {
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}
static void slow(void) {
    const char *s = getenv("SLOW_FSYNC_MS");
    sleep_ms(s ? atol(s) : 20);
}
/* Is fd a regular file below one of the folders in the environment variable `var` (a list
   separated by ':')? Unset: every fd counts for fsync, none for write. */
static int below(int fd, const char *var, int unset) {
    const char *list = getenv(var);
    struct stat st;
    char link[64], path[4096];
    if (!list) return unset;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    while (*list) {
        size_t len = strcspn(list, ":");
        if (len && strncmp(path, list, len) == 0) return 1;
        list += len + (list[len] == ':');
    }
    return 0;
}
/* With SLOW_WRITE_MS and SLOW_WRITE_UNDER set, write() and writev() to a regular file below
   those folders sleep first (a disk whose write cache is full); sockets, pipes and other
   files do not. */
ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t)) dlsym(RTLD_NEXT, "write");
    const char *ms = getenv("SLOW_WRITE_MS");
    if (ms && below(fd, "SLOW_WRITE_UNDER", 0)) sleep_ms(atol(ms));
    return real(fd, buf, count);
}
ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    static ssize_t (*real)(int, const struct iovec *, int);
    if (!real) real = (ssize_t (*)(int, const struct iovec *, int)) dlsym(RTLD_NEXT, "writev");
    const char *ms = getenv("SLOW_WRITE_MS");
    if (ms && below(fd, "SLOW_WRITE_UNDER", 0)) sleep_ms(atol(ms));
    return real(fd, iov, iovcnt);
}
/* SLOW_FSYNC_UNDER, when set, limits the slow syncs to regular files below those folders. */
int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int)) dlsym(RTLD_NEXT, "fsync");
    int slowed = below(fd, "SLOW_FSYNC_UNDER", 1);
    int r = real(fd); if (slowed) slow(); return r;
}
int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");
    int slowed = below(fd, "SLOW_FSYNC_UNDER", 1);
    int r = real(fd); if (slowed) slow(); return r;
}
"""

CLIENTS = 100
SENDERS, WINDOW = 8, 8  # 64 messages in flight: enough to keep a 20 ms commit busy


def build_shim(folder: Path) -> Path:
    """Compile the fsync shim (needs ``cc``/``gcc``); returns the shared library's path."""
    folder.mkdir(parents=True, exist_ok=True)
    source, lib = folder / "slowfsync.c", folder / "slowfsync.so"
    source.write_text(SHIM_C)
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("the slow-disk benchmark needs a C compiler (apt-get install gcc)")
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(lib), str(source), "-ldl"],
                   check=True, timeout=60)
    return lib


class HostRun:
    """The benchmark host from ``root`` on a free loopback port, maybe with the slow fsync."""

    def __init__(self, root: Path, data: Path, shim: Path | None, fsync_ms: int) -> None:
        self.proc = subprocess.Popen([python(), "-m", "tests.bench.hosts", "ours", "--data-dir",
                                      str(data)], cwd=root, env=slow_env(shim, fsync_ms),
                                     stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the host from {root} did not start: {line!r}")
        port = int(line.split()[1])
        self.url = f"ws://127.0.0.1:{port}/ws"
        deadline = time.monotonic() + 30  # the port is bound before uvicorn listens on it
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the host from {root} did not listen") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Client:
    """One WebSocket client: counts messages, answers pongs to whoever waits for them."""

    def __init__(self, ws: Any, user: str) -> None:
        self.ws = ws
        self.user = user
        self.messages = 0
        self.acks: asyncio.Queue[float] = asyncio.Queue()
        self.pong: asyncio.Future[float] | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            if '"type":"message"' in raw:
                self.messages += 1
                if f'"id":"{self.user}"' in raw:
                    self.acks.put_nowait(time.monotonic())
            elif '"type":"pong"' in raw and self.pong is not None and not self.pong.done():
                self.pong.set_result(time.monotonic())

    async def ping(self, timeout: float = 10.0) -> float:
        """Seconds from sending a ping to its pong."""
        self.pong = asyncio.get_running_loop().create_future()
        t0 = time.monotonic()
        await self.ws.send('{"type":"ping"}')
        return await asyncio.wait_for(self.pong, timeout) - t0

    async def say(self, text: str) -> None:
        await self.ws.send(json.dumps({"type": "message", "text": text,
                                       "client_msg_id": uuid.uuid4().hex}))


async def join(url: str, name: str) -> Client:
    from websockets.asyncio.client import connect

    ws = await connect(url, compression=None, max_size=None, ping_interval=None,
                       open_timeout=30, max_queue=None)
    await ws.send(json.dumps({"type": "hello", "name": name, "client_id": uuid.uuid4().hex}))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
    return Client(ws, welcome["you"]["id"])


def _pinger_main(url: str, seconds: float, interval: float, pipe: Any) -> None:
    """In its own process, so the load's clients do not delay its pongs: connect, say ready,
    then ping every ``interval`` for ``seconds`` and send back the round trips (ms)."""
    async def main() -> list[float]:
        me = await join(url, "pinger")
        pipe.send("ready")
        rtts = []
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            rtts.append(await me.ping() * 1000)
            await asyncio.sleep(interval)
        await me.ws.close()
        return sorted(rtts)
    pipe.send(asyncio.run(main()))


class Pinger:
    """An idle client in a process of its own, pinging the host."""

    def __init__(self, url: str, seconds: float, interval: float) -> None:
        ctx = mp.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.proc = ctx.Process(target=_pinger_main, args=(url, seconds, interval, child),
                                daemon=True)
        self.proc.start()
        if not self.pipe.poll(60) or self.pipe.recv() != "ready":
            raise RuntimeError("the pinger did not connect")

    async def result(self, timeout: float) -> list[float]:
        def wait() -> list[float]:
            if not self.pipe.poll(timeout):
                raise TimeoutError("the pinger did not report")
            rtts: list[float] = self.pipe.recv()
            return rtts
        try:
            return await asyncio.to_thread(wait)
        finally:
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.kill()


async def pings_while_flowing(url: str, sender: Client, seconds: float,
                              rate: float = 20.0) -> dict[str, Any]:
    """An idle client's ping round trips while ``rate`` messages a second flow."""
    pinger = Pinger(url, seconds, 0.05)
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        await sender.say("flow")
        await asyncio.sleep(1 / rate)
    rtts = await pinger.result(seconds + 30)
    return {"ping_p50_ms": round(percentile(rtts, 50), 2),
            "ping_p99_ms": round(percentile(rtts, 99), 2)}


async def join_burst(url: str, count: int) -> dict[str, Any]:
    """``count`` clients say hello at once; the longest ping meanwhile (from an idle client in
    its own process, every 5 ms) and the time to the last welcome."""
    pinger = Pinger(url, 3.0, 0.005)
    t0 = time.monotonic()
    joined = await asyncio.gather(*(join(url, f"late{i}") for i in range(count)))
    all_welcomed = time.monotonic() - t0
    rtts = await pinger.result(60)
    for c in joined:
        await c.ws.close()
    return {"join_worst_ping_ms": round(rtts[-1] if rtts else float("nan"), 1),
            "join_all_welcomed_s": round(all_welcomed, 2)}


async def measure(url: str, seconds: float) -> dict[str, Any]:
    clients = [await join(url, f"c{i}") for i in range(CLIENTS)]
    try:
        result = await pings_while_flowing(url, clients[5], seconds)
        result.update(await join_burst(url, CLIENTS))
        return result
    finally:
        for c in clients:
            await c.ws.close()


def slow_env(shim: Path | None, fsync_ms: int) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if shim is not None:
        env.update(LD_PRELOAD=str(shim), SLOW_FSYNC_MS=str(fsync_ms))
    return env


def one(work: Path, root: Path, shim: Path | None, fsync_ms: int,
        seconds: float) -> dict[str, Any]:
    """Saturation through the fan-out load workers, then pings and joins on a fresh host."""
    cfg = fanout.FanoutConfig(sizes=(CLIENTS,), tmp=work.parent, host_root=root,
                              host_env=slow_env(shim, fsync_ms), phases=("sat",),
                              sat_seconds=seconds, senders=SENDERS, window=WINDOW)
    sat = fanout.run_one("ours", CLIENTS, cfg)["sat"]
    row: dict[str, Any] = {"stored_per_s": round(sat["messages"] / max(sat["seconds"], 1e-9)),
                           "delivered_per_s": sat["deliveries_per_s"],
                           "sat_p99_ms": sat["p99_ms"]}
    host = HostRun(root, work, shim, fsync_ms)
    try:
        row.update(asyncio.run(asyncio.wait_for(measure(host.url, seconds), 180)))
    finally:
        host.stop()
    return row


def run(tmp: Path | None, baseline: Path | None = None, fsync_ms: int = 20,
        seconds: float = 5.0) -> list[dict[str, Any]]:
    """Every (code, disk) pair in turn; rows for the report."""
    work = Path(tempfile.mkdtemp(prefix="bench-slowdisk-", dir=tmp))
    rows = []
    try:
        shim = build_shim(work / "shim")
        roots = [("ours", ROOT)] + ([("baseline", baseline)] if baseline else [])
        for code, root in roots:
            for disk, lib in (("fast", None), (f"fsync {fsync_ms} ms", shim)):
                print(f"   {code:8} {disk}", flush=True)
                rows.append({"code": code, "disk": disk,
                             **one(work / f"{code}-{len(rows)}", root, lib, fsync_ms, seconds)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| code | disk | stored msg/s (sat) | delivered/s | sat p99 ms "
             "| idle ping p50 / p99 ms | 100 joins: worst ping ms | all welcomed s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['code']} | {r['disk']} | {r['stored_per_s']:,} | "
                     f"{r['delivered_per_s']:,} | {r['sat_p99_ms']} | "
                     f"{r['ping_p50_ms']} / {r['ping_p99_ms']} | "
                     f"{r['join_worst_ping_ms']} | {r['join_all_welcomed_s']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(prog="python -m tests.bench.slowdisk", description=__doc__)
    p.add_argument("--baseline", type=Path, default=None,
                   help="another checkout to measure beside this one (an earlier version)")
    p.add_argument("--fsync-ms", type=int, default=20)
    p.add_argument("--seconds", type=float, default=5.0)
    a = p.parse_args()
    print(table(run(None, a.baseline, a.fsync_ms, a.seconds)))
