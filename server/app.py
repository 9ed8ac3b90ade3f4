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
from .api import chat, history, info, peers, session, shared_files, uploads
from .files import UploadError
from .room import Room
from .security import HostGuard
from .settings import Settings
from .store import StoreError

ROUTERS = (info.router, session.router, history.router, shared_files.router, chat.router,
           peers.router, uploads.router)


def create_app(settings: Settings) -> FastAPI:
    """Build a LAN Chat host; its room starts with the app's lifespan and closes with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        room = Room(settings)
        try:
            await room.async_start()
        except Exception as exc:  # uvicorn logs it and exits with 3: keep why, for the caller
            app.state.startup_error = exc
            raise
        app.state.room = room
        try:
            yield
        finally:
            await room.async_close()

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


async def _store_failed(_request: Request, exc: StoreError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=503)


async def _upload_refused(_request: Request, exc: UploadError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)
