"""One open WebSocket as the hub sees it: two callables (send a text frame, close with a code),
a fast lane straight to the socket, and a bounded outbox for everything else."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .directsend import DirectWriter

if TYPE_CHECKING:
    from .hub import User

SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


class Connection:
    """One open WebSocket. Broadcast frames go straight to its socket when it has a fast lane
    (:mod:`server.directsend`) and nothing of it is queued; everything else waits, in order, in
    an outbox drained by the connection's own writer task. What waits for one peer is bounded in
    frames and in bytes (outbox plus socket buffer), and in time: see :meth:`stalled`."""

    __slots__ = ("address", "user", "_send", "_close", "_outbox", "_limit", "_wake", "closed",
                 "last_typing", "direct", "_max_buffered", "_sending", "_queued_bytes",
                 "_written", "_mark", "_progress_at", "_tasks", "admin")

    def __init__(self, address: str, send: SendText, close: Close, outbox_frames: int,
                 direct: DirectWriter | None = None,
                 max_buffered: int = 2 * 1024 * 1024,
                 tasks: set[asyncio.Task[None]] | None = None) -> None:
        """``tasks``: where the tasks this connection starts (its closing) are kept, so their
        owner (the hub) can await them."""
        self.address = address
        self._tasks: set[asyncio.Task[None]] = tasks if tasks is not None else set()
        self.user: User | None = None
        self.admin = False  # may moderate (signed in as the host's admin)
        self._send = send
        self._close = close
        self._outbox: deque[str] = deque()
        self._limit = outbox_frames
        self._wake = asyncio.Event()
        self.closed = False
        self.last_typing = 0.0
        self.direct = direct
        self._max_buffered = max_buffered
        self._sending = False
        self._queued_bytes = 0  # characters of the frames in the outbox
        self._written = 0  # bytes handed to the socket (ASGI frames counted by characters)
        self._mark = (0, 0)  # (written, buffered) when stalled() last looked
        self._progress_at = time.monotonic()

    def offer(self, frame: str, wire: bytes | None = None) -> bool:
        """Send or queue a frame; False when the peer is not keeping up (it stopped reading).

        ``wire`` is the same frame already encoded for the fast lane: written straight to the
        socket when nothing of this connection's is still queued (so order holds).
        """
        return self.offer_all((frame,), wire)

    def offer_all(self, frames: tuple[str, ...] | list[str], wire: bytes | None) -> bool:
        """:meth:`offer` for several frames in order; ``wire`` holds all of them framed, and
        goes to the socket in one write."""
        if self.closed:
            return True
        direct = self.direct
        buffered = 0
        if direct is not None:
            if not direct.usable():
                return True  # closing: the reader side ends the connection
            buffered = direct.buffered()
            if wire is not None and not self._outbox and not self._sending:
                if buffered > self._max_buffered:
                    return False
                direct.write(wire)
                self._written += len(wire)
                return True
        if len(self._outbox) + len(frames) > self._limit or (
                self._outbox and buffered + self._queued_bytes > self._max_buffered):
            return False
        self._outbox.extend(frames)
        self._queued_bytes += sum(len(f) for f in frames)
        self._wake.set()
        return True

    async def run_writer(self) -> None:
        """Send queued frames in order until the connection closes."""
        outbox = self._outbox
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            self._sending = True
            try:
                while outbox and not self.closed:
                    frame = outbox.popleft()
                    self._queued_bytes -= len(frame)
                    await self._send(frame)
                    self._written += len(frame)
            finally:
                self._sending = False

    def stalled(self, now: float, timeout: float) -> bool:
        """True when bytes have waited for this peer for ``timeout`` seconds and it took none.

        Called now and then by the hub. The peer took bytes when the socket's buffer shrank by
        more than what was written to it since the last look; an idle connection (nothing
        buffered or queued) is never stalled. Without a fast lane only the outbox is seen: a
        send that waits (uvicorn waits while the socket's buffer is full) with no new bytes
        written counts as no progress.
        """
        direct = self.direct
        buffered = direct.buffered() if direct is not None and direct.usable() else 0
        written = self._written
        drained = (written - self._mark[0]) - (buffered - self._mark[1])
        self._mark = (written, buffered)
        if drained > 0 or (buffered == 0 and not self._sending and not self._outbox):
            self._progress_at = now
            return False
        return now - self._progress_at > timeout

    def drop_queue(self) -> None:
        """Forget the queued frames (the connection is gone): memory goes back at once."""
        self._outbox.clear()
        self._queued_bytes = 0
        self._wake.set()

    def kick(self, code: int, reason: str, cut_after: float | None = None) -> None:
        """Close from the host side, dropping whatever was still queued. With ``cut_after``,
        a peer that has not taken the close frame (and what was buffered before it) within
        that many seconds is cut off, so its socket buffer is freed now, not never."""
        if self.closed:
            return
        self.closed = True
        self.drop_queue()
        task = asyncio.get_running_loop().create_task(self._safe_close(code, reason, cut_after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _safe_close(self, code: int, reason: str, cut_after: float | None) -> None:
        started = time.monotonic()
        try:
            # uvicorn sends the close frame once the socket's buffer has room: maybe never.
            await asyncio.wait_for(self._close(code, reason), cut_after)
        except Exception:  # noqa: BLE001 - the peer may already be gone, or never read again
            pass
        direct = self.direct
        if cut_after is None or direct is None:
            return
        await asyncio.sleep(max(0.0, started + cut_after - time.monotonic()))
        direct.abort()  # no-op when the peer answered the close and the socket is gone
