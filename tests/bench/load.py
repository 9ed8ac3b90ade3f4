"""The load client: worker processes, each an asyncio loop (uvloop) of ``websockets`` clients.

Every connection has one receive loop and nothing else. A benchmark message's text carries
``B|<phase>|<send time in ns>|s<sender>|``; a receiver takes the latency from it with two string
finds (no JSON parsing), so a worker stays cheap next to the host. CLOCK_MONOTONIC is one clock
for every process on the machine, so sender and receiver times compare directly.

A worker obeys commands from the parent over a pipe (connect, measure, send, close) and answers
each one; the parent bounds every wait.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from multiprocessing.connection import Connection as Pipe
from typing import Any

MARK = '"text":"B|'


class Worker:
    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.conns: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.phase = ""
        self.target = 0
        self.lat = array("q")
        self.got = 0
        self.first = 0
        self.last = 0
        self.all_done: asyncio.Event | None = None
        self.window: dict[int, asyncio.Semaphore] = {}
        self.errors = 0

    async def connect(self, url: str, count: int, base: int, users: int,
                      concurrency: int = 64) -> dict[str, Any]:
        from websockets.asyncio.client import connect

        t0 = time.monotonic()
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            uid = (base + i) % users if users else base + i
            async with sem:
                try:
                    ws = await connect(url, compression=None, max_size=None, open_timeout=30,
                                       ping_interval=None, close_timeout=2, max_queue=None)
                    await ws.send(f'{{"type":"hello","name":"u{uid}","client_id":"bench-{uid}"}}')
                    await asyncio.wait_for(ws.recv(), 30)  # the welcome
                except Exception:  # noqa: BLE001 - counted and reported
                    self.errors += 1
                    return
            self.conns.append(ws)
            self.tasks.append(asyncio.create_task(self.reader(ws, len(self.conns) - 1)))

        await asyncio.gather(*(one(i) for i in range(count)))
        return {"connected": len(self.conns), "errors": self.errors,
                "seconds": time.monotonic() - t0}

    async def reader(self, ws: Any, index: int) -> None:
        phase = ""
        tag = MARK + "\x00"  # matches nothing until a phase starts
        try:
            async for frame in ws:
                if self.phase != phase:
                    phase = self.phase
                    tag = MARK + (phase or "\x00") + "|"
                i = frame.find(tag)
                if i < 0:
                    continue
                now = time.monotonic_ns()
                j = i + len(tag)
                k = frame.index("|", j)
                self.lat.append(now - int(frame[j:k]))
                self.got += 1
                if not self.first:
                    self.first = now
                self.last = now
                window = self.window.get(index)
                if window is not None and frame.startswith(f"s{index}|", k + 1):
                    window.release()
                if self.got == self.target and self.all_done is not None:
                    self.all_done.set()
        except Exception:  # noqa: BLE001 - the connection closed; the counts show it
            pass

    async def measure(self, phase: str, expect: int, timeout: float) -> dict[str, Any]:
        """Count frames of ``phase`` until every connection has ``expect`` or ``timeout`` ends."""
        self.lat = array("q")
        self.got = self.first = self.last = 0
        self.target = expect * len(self.conns)
        self.all_done = asyncio.Event()
        self.phase = phase
        self.pipe.send({"armed": True})
        try:
            await asyncio.wait_for(self.all_done.wait(), timeout)
        except TimeoutError:
            pass
        self.phase = ""
        return {"got": self.got, "conns": len(self.conns),
                "first_ns": self.first, "last_ns": self.last, "lat": self.lat.tobytes()}

    async def send(self, phase: str, senders: int, count: int, rate: float | None,
                   window: int, timeout: float) -> dict[str, Any]:
        """``count`` messages from the first ``senders`` connections: at ``rate`` messages/s in
        all, or as fast as each sender's ``window`` of unacknowledged messages allows."""
        pad = "x" * 40
        t0 = time.monotonic()
        deadline = t0 + timeout
        sent = 0

        async def sender(k: int) -> None:
            nonlocal sent
            ws = self.conns[k]
            n = count // senders + (1 if k < count % senders else 0)
            sem = asyncio.Semaphore(window)
            if rate is None:
                self.window[k] = sem
            for i in range(n):
                if rate is not None:
                    due = t0 + (i * senders + k) / rate
                    if due > time.monotonic():
                        await asyncio.sleep(due - time.monotonic())
                else:
                    try:
                        await asyncio.wait_for(sem.acquire(), max(0.0, deadline - time.monotonic()))
                    except TimeoutError:
                        return
                if time.monotonic() > deadline:
                    return
                text = f"B|{phase}|{time.monotonic_ns()}|s{k}|{pad}"
                await ws.send(
                    f'{{"type":"message","text":"{text}","client_msg_id":"{phase}-{k}-{i}"}}')
                sent += 1

        await asyncio.gather(*(sender(k) for k in range(senders)))
        self.window.clear()
        return {"sent": sent, "seconds": time.monotonic() - t0}

    async def set_expect(self, expect: int) -> dict[str, Any]:
        """The senders are done: ``expect`` is how many messages went out in all."""
        self.target = expect * len(self.conns)
        if self.all_done is not None and self.got >= self.target:
            self.all_done.set()
        return {"expect_set": expect}

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.conns), return_exceptions=True)
        for t in self.tasks:
            t.cancel()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        pending: asyncio.Task[Any] | None = None
        while True:
            cmd: dict[str, Any] = await loop.run_in_executor(None, self.pipe.recv)
            op = cmd.pop("op")
            if op == "close":
                await self.close()
                self.pipe.send({"closed": True})
                return
            if op == "send" and len(self.conns) < cmd["senders"]:
                self.pipe.send({"sent": 0, "seconds": 0.0, "error": "not enough connections"})
                continue
            coro = getattr(self, op)(**cmd)
            if op == "measure":  # runs while the parent starts the senders
                pending = asyncio.create_task(coro)
                pending.add_done_callback(lambda t: self.pipe.send(t.result()))
            else:
                self.pipe.send(await coro)


def worker_main(pipe: Pipe) -> None:
    import uvloop

    from .common import raise_nofile

    raise_nofile()
    uvloop.run(Worker(pipe).serve())
