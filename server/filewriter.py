"""Upload bytes written to disk off the event loop, about 1 MiB per thread hop.

A ``write()`` to a slow disk (a USB stick whose cache is full, an SD card, a network share) and
above all the ``fsync`` that ends an upload can take seconds; on the event loop that would stall
every chat message and ping in the room. So a :class:`BatchWriter` collects the chunks an
upload receives (the HTTP server hands out ~64 KiB at a time) and hands them to a worker thread
once about 1 MiB has gathered, or once the upload has been quiet for a moment, so a paused
upload is on disk too. One write is in flight per file at a time (bytes reach the file in
order); while it runs the next batch gathers, and an upload whose disk lags waits for the
previous write once 2 MiB have gathered, so at most ~4 MiB of an upload wait in memory.

A write's error (a full disk, a read-only folder) is kept and raised by the next ``drain``,
``sync`` or ``close``, so it reaches the sender as it did when writes were synchronous. The fd
is closed only once no thread uses it, even when the request is cancelled halfway.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

BATCH_BYTES = 1 << 20  # one thread hop per MiB: cheap next to writing the MiB itself
IDLE_SECONDS = 0.05  # a quiet upload's gathered bytes go to disk after this long
MAX_GATHERED = 2 << 20  # gathered while a write runs, before the upload waits for it
MAX_IOV = 512  # buffers per writev call (POSIX allows at least 1024)


def run_on_disk_thread(fn: Callable[..., object], *args: object) -> asyncio.Future[object]:
    """Run blocking file I/O on the loop's worker threads (those of ``asyncio.to_thread``)
    and return its future, which the writer keeps so it knows when the thread is done."""
    return asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _write_all(fd: int, chunks: list[bytes]) -> None:
    """All the chunks, in order: one ``writev`` where there is one (no copy into a batch
    buffer), else one joined ``write``; both may write less than asked, so loop."""
    if not hasattr(os, "writev"):  # Windows
        chunks = [b"".join(chunks)]
    views = [memoryview(c) for c in chunks]
    i = 0  # the first view not yet fully written
    while i < len(views):
        if len(views) - i > 1:
            done = os.writev(fd, views[i:i + MAX_IOV])
        else:
            done = os.write(fd, views[i])
        while i < len(views) and done >= len(views[i]):
            done -= len(views[i])
            i += 1
        if done:
            views[i] = views[i][done:]


class BatchWriter:
    """The bytes bound for one open file descriptor, written in order by a worker thread."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.loop = asyncio.get_running_loop()
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._pending: asyncio.Future[object] | None = None  # the write or sync in flight
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    def add(self, data: bytes) -> None:
        """Queue bytes (synchronous, so multipart parser callbacks may call it)."""
        if not data:
            return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._timer is None:
            self._timer = self.loop.call_later(IDLE_SECONDS, self._idle)

    async def drain(self) -> None:
        """After each chunk: once a batch is full, start its write, or, while the write
        before it still runs, keep gathering up to ``MAX_GATHERED`` before waiting for it (the
        worker thread may wait a few ms for the GIL while the loop is busy reading the upload:
        waiting at every MiB would halve a fast upload). Raises an earlier write's error."""
        if self._buffered < BATCH_BYTES:
            return
        pending = self._pending
        if pending is not None and not pending.done() and self._buffered < MAX_GATHERED:
            return
        await self._wait()
        if self._buffered >= BATCH_BYTES:  # a quiet moment may have taken the batch
            self._start()

    async def flush(self) -> None:
        """Write everything gathered; raises the error of this or an earlier write."""
        await self._wait()
        if self._chunks:
            self._start()
            await self._wait()

    async def sync(self) -> None:
        """Write everything gathered, then make it durable (``fsync``) on a worker thread."""
        await self.flush()
        self._pending = run_on_disk_thread(os.fsync, self.fd)
        await self._wait()

    async def close(self, keep: bool = True, then: Callable[[], None] | None = None) -> None:
        """Close the file once no thread uses it, writing the gathered bytes first when
        ``keep`` (the resumable uploads keep what arrived). Write errors are not raised here.
        ``then`` runs after the close; if the request is cancelled while a write is still in
        flight, the close and ``then`` happen when that write ends."""
        if self.closed:
            return
        self._cancel_timer()
        if not keep:
            self._chunks, self._buffered = [], 0
        try:
            try:
                await self.flush()
            except OSError:
                pass
        except asyncio.CancelledError:
            assert self._pending is not None
            self._pending.add_done_callback(lambda _: self._close_now(then))
            raise
        self._close_now(then)

    def _close_now(self, then: Callable[[], None] | None) -> None:
        if self._pending is not None and self._pending.done() and not self._pending.cancelled():
            self._pending.exception()  # seen: asyncio need not warn that nobody retrieved it
        if not self.closed:
            self.closed = True
            os.close(self.fd)
        if then is not None:
            then()

    async def _wait(self) -> None:
        """Until no write is in flight; raises the last write's error. Shielded: a cancelled
        request does not cancel the thread's work, which ``close`` waits for."""
        while self._pending is not None and not self._pending.done():
            await asyncio.shield(self._pending)
        if self._pending is not None:
            self._pending.result()

    def _start(self) -> None:
        self._cancel_timer()
        chunks, self._chunks, self._buffered = self._chunks, [], 0
        self._pending = run_on_disk_thread(_write_all, self.fd, chunks)

    def _idle(self) -> None:
        """The upload went quiet: write what gathered, unless a write is still busy."""
        self._timer = None
        pending = self._pending
        if pending is not None and not pending.done():
            self._timer = self.loop.call_later(IDLE_SECONDS, self._idle)
        elif self._chunks and (pending is None or (not pending.cancelled()
                                                    and pending.exception() is None)):
            self._start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
