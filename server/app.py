"""The app factory: a FastAPI app around one :class:`~server.room.Room`.

The lifespan starts the room and closes it; the routes live in ``server/api/``, one module per
concept; errors that carry their own answer (a store that cannot write, an upload refused) are
turned into JSON by the handlers here, not at every route.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from . import __version__
from .api import chat, history, info, peers, session, shared_files, standby, uploads
from .files import UploadError
from .room import Room
from .security import HostGuard
from .settings import Settings
from .standby import Standby
from .store import StoreError
from .tls import CERT_FILE, KEY_FILE
from .uifiles import UiFiles

log = logging.getLogger(__name__)

ROUTERS = (info.router, session.router, history.router, shared_files.router, chat.router,
           peers.router, uploads.router, standby.router)


def create_app(settings: Settings) -> FastAPI:
    """Build a LAN Chat host; its room starts with the app's lifespan and closes with it. With
    ``standby_url`` it stands by for that room instead, and serves it once it takes it over."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.room = None
        app.state.standby = None
        app.state.stepping_down = None
        if settings.standby_url:
            await _stand_by(app, settings)
        else:
            await _serve(app, settings)
        try:
            yield
        finally:
            stepping = app.state.stepping_down
            if stepping is not None:  # ends with the room closed and a standby (or none)
                await asyncio.gather(stepping, return_exceptions=True)
            if app.state.standby is not None:
                await app.state.standby.async_close()
            if app.state.room is not None:
                await app.state.room.async_close()

    app = FastAPI(title="LAN Chat", version=__version__, lifespan=lifespan,
                  # No Swagger page: it loads its script from the internet, which a LAN lacks.
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.add_exception_handler(StoreError, _store_failed)  # type: ignore[arg-type]
    app.add_exception_handler(UploadError, _upload_refused)  # type: ignore[arg-type]
    for router in ROUTERS:
        app.include_router(router)
    settings.static_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/", UiFiles(settings.static_dir), name="static")
    app.add_middleware(HostGuard, extra_hosts=settings.extra_hosts)
    return app


async def _serve(app: FastAPI, settings: Settings) -> None:
    """Start the room and hang it on the app."""
    room = Room(settings)
    try:
        await room.async_start()
    except Exception as exc:  # uvicorn logs it and exits with 3: keep why, for the caller
        app.state.startup_error = exc
        raise
    _on_step_down(app, room)
    app.state.room = room


def _on_step_down(app: FastAPI, room: Room) -> None:
    """When ``room`` steps down for another host of it (server/rivals.py), this process
    becomes that host's standby."""
    def stepped_down(url: str) -> None:
        app.state.stepping_down = asyncio.get_running_loop().create_task(
            _become_standby(app, room, url), name="lanchat-step-down")
    room.on_step_down = stepped_down


async def _become_standby(app: FastAPI, room: Room, url: str) -> None:
    """Close the room that stepped down, set its diverged history aside (kept, never
    deleted), and follow the winner from a fresh replica: the winner refuses a replica that
    holds ids it never gave."""
    settings = room.settings.with_(standby_url=url, standby_fingerprint=room.fingerprint)
    term = room.store.term
    old, app.state.standby = app.state.standby, None  # the one that promoted this room
    app.state.room = None
    await room.async_close()
    if old is not None:
        await old.async_close()
    kept = await asyncio.to_thread(set_aside, settings.db_path, term)
    log.warning("the diverged history of this host (term %d) is kept as %s; "
                "now standing by for %s", term, kept, url)
    try:
        await _stand_by(app, settings)
    except Exception:  # the process keeps answering, as neither host nor standby
        log.exception("could not stand by for %s after stepping down", url)


def set_aside(db_path: Path, term: int) -> Path:
    """Rename the history file (and its SQLite companions) to
    ``history.diverged-t<term>-<UTC time>.sqlite3`` beside it; returns the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept = db_path.with_name(f"{db_path.stem}.diverged-t{term}-{stamp}{db_path.suffix}")
    n = 1
    while kept.exists():
        n += 1
        kept = db_path.with_name(f"{db_path.stem}.diverged-t{term}-{stamp}-{n}"
                                 f"{db_path.suffix}")
    for suffix in ("-wal", "-shm"):
        companion = db_path.with_name(db_path.name + suffix)
        if companion.exists():
            companion.replace(kept.with_name(kept.name + suffix))
    db_path.replace(kept)
    return kept


async def _stand_by(app: FastAPI, settings: Settings) -> None:
    """Follow the room at ``standby_url``; serve it here once this standby takes it over."""

    async def promote(room_settings: Settings) -> None:
        room = Room(room_settings)
        await room.async_start()
        _on_step_down(app, room)
        app.state.room = room

    def identity_changed() -> None:
        context = getattr(app.state, "tls_context", None)
        if context is not None:  # new handshakes present the room's certificate
            context.load_cert_chain(settings.data_dir / CERT_FILE, settings.data_dir / KEY_FILE)

    node = Standby(settings, promote, identity_changed)
    try:
        await node.async_start()
    except Exception as exc:
        app.state.startup_error = exc
        raise
    app.state.standby = node


async def _store_failed(_request: Request, exc: StoreError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=503)


async def _upload_refused(_request: Request, exc: UploadError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)
