"""The app factory: a FastAPI app around one :class:`~server.room.Room`.

The lifespan starts the room and closes it; the routes live in ``server/api/``, one module per
concept; errors that carry their own answer (a store that cannot write, an upload refused) are
turned into JSON by the handlers here, not at every route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from . import __version__
from .api import chat, history, info, peers, session, shared_files, standby, uploads
from .files import UploadError
from .room import Room
from .security import HostGuard
from .settings import Settings
from .standby import Standby
from .store import StoreError
from .tls import CERT_FILE, KEY_FILE

ROUTERS = (info.router, session.router, history.router, shared_files.router, chat.router,
           peers.router, uploads.router, standby.router)


def create_app(settings: Settings) -> FastAPI:
    """Build a LAN Chat host; its room starts with the app's lifespan and closes with it. With
    ``standby_url`` it stands by for that room instead, and serves it once it takes it over."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.room = None
        app.state.standby = None
        if settings.standby_url:
            await _stand_by(app, settings)
        else:
            await _serve(app, settings)
        try:
            yield
        finally:
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
    app.mount("/", StaticFiles(directory=settings.static_dir, html=True), name="static")
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
    app.state.room = room


async def _stand_by(app: FastAPI, settings: Settings) -> None:
    """Follow the room at ``standby_url``; serve it here once this standby takes it over."""

    async def promote(room_settings: Settings) -> None:
        room = Room(room_settings)
        await room.async_start()
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
