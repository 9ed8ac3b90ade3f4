"""A host that answers the page before the rest of it is up.

Importing the web framework and opening the room's history take most of a second; the desktop
window asks for its first page within that time. :class:`StagedApp` serves the UI's own files
(the page, its scripts, styles, words and icons, by :class:`~server.uifiles.UiFiles` as later)
as soon as the socket is served, with the same security headers as later
(:class:`~server.security.HostGuard`), and builds the full app beside them: every other request
(the API, WebSockets, a path the UI does not have) waits until that app runs and is then
answered by it, exactly as if it had been there from the start.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from .security import HostGuard
from .uifiles import UiFiles, json_error

log = logging.getLogger(__name__)

EARLY_METHODS = ("GET", "HEAD")


def ui_paths(static_dir: Path) -> frozenset[str]:
    """The URL paths of the files in ``static_dir`` ("/" for its index page)."""
    found = {"/" + p.relative_to(static_dir).as_posix() for p in static_dir.rglob("*")
             if p.is_file()}
    if "/index.html" in found:
        found.add("/")
    return frozenset(found)


class StagedApp:
    """ASGI: the UI's files at once, everything else from ``build()``'s app once it runs.

    ``build`` is called on a worker thread (it may import for a while) and returns a Starlette
    app whose lifespan is then entered here; uvicorn's own lifespan ends at once, so the socket
    is served meanwhile. Building starts with the first request the files cannot answer, or
    ``build_after`` seconds after the socket is served, whichever comes first: while it
    imports, it holds Python's lock for long stretches and the files would wait (measured:
    0.3-0.6 s for a page's first few files). ``on_failure`` hears what stopped the app from
    starting (the host then shuts down); requests waiting for it get a 503."""

    def __init__(self, static_dir: Path, build: Callable[[], Any],
                 extra_hosts: Iterable[str] = (), build_after: float = 1.5) -> None:
        self._build = build
        self._build_after = build_after
        self._wanted: asyncio.Event | None = None
        self._closing = False
        self.on_failure: Callable[[BaseException], None] = lambda _exc: None
        self._paths = ui_paths(static_dir) if static_dir.is_dir() else frozenset()
        self._static = HostGuard(UiFiles(static_dir), extra_hosts)
        self.app: Any = None
        self.error: BaseException | None = None
        self._up: asyncio.Event | None = None
        self._life: Any = None

    @property
    def state(self) -> Any:
        """The full app's state once it is built (where the room hangs)."""
        return self.app.state if self.app is not None else types.SimpleNamespace()

    @property
    def ready(self) -> bool:
        return self.app is not None and self._up is not None and self._up.is_set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if not self.ready:
            if self._early(scope):
                await self._static(scope, receive, send)
                return
            if not await self._wait():
                await _unavailable(scope, send)
                return
        await self.app(scope, receive, send)

    def _early(self, scope: Scope) -> bool:
        return (scope["type"] == "http" and scope.get("method") in EARLY_METHODS
                and scope.get("path") in self._paths)

    async def _wait(self) -> bool:
        assert self._up is not None and self._wanted is not None  # made before any request
        self._wanted.set()
        await self._up.wait()
        return self.app is not None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._up = asyncio.Event()
        self._wanted = asyncio.Event()
        starting = asyncio.create_task(self._start(), name="lanchat-staged-start")
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        self._closing = True  # a build not begun yet never begins
        self._wanted.set()
        await asyncio.gather(starting, return_exceptions=True)
        try:
            if self._life is not None:
                await self._life.__aexit__(None, None, None)
        finally:
            await send({"type": "lifespan.shutdown.complete"})

    async def _start(self) -> None:
        assert self._up is not None and self._wanted is not None
        try:
            await asyncio.wait_for(self._wanted.wait(), self._build_after)
        except TimeoutError:
            pass
        if self._closing:
            self._up.set()
            return
        try:
            app = await asyncio.to_thread(self._build)
            life = app.router.lifespan_context(app)
            await life.__aenter__()
        except Exception as exc:  # noqa: BLE001 - whatever stops it is told; waiters get 503
            self.error = exc
            self._up.set()
            log.error("the host did not start: %s", exc)
            self.on_failure(exc)
            return
        self._life = life
        self.app = app
        self._up.set()


async def _unavailable(scope: Scope, send: Send) -> None:
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": 1011, "reason": "the host did not start"})
        return
    await json_error(send, 503, "the host did not start")
