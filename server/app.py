"""The app factory: routes are thin edges that turn HTTP and WebSocket traffic into hub calls."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import segno
from fastapi import FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from . import __version__, netinfo, peers, protocol
from .discovery import Discovery
from .files import INLINE_MIME, FileStore, UploadError
from .hub import CLOSE_BAD_HELLO, CLOSE_FORBIDDEN, ChatHub, HubFull
from .settings import Settings
from .store import HistoryStore, StoreError

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]

# The desktop window announces itself with this token in its User-Agent.
DESKTOP_UA_TOKEN = b"LANChatDesktop"


def csp(allow_eval: bool = False) -> bytes:
    """The UI's Content-Security-Policy. No inline script anywhere. The desktop window alone
    gets 'unsafe-eval': pywebview builds its JS bridge with ``new Function`` and runs
    ``evaluate_js`` through ``eval``. A client that fakes the token only weakens its own page."""
    script = "script-src 'self' 'unsafe-eval'" if allow_eval else "script-src 'self'"
    return ("default-src 'self'; " + script + "; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self' ws: wss:; media-src 'self' blob:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'").encode()


CSP_STRICT = csp()
CSP_DESKTOP = csp(allow_eval=True)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-cache"),
]


class SecurityHeaders:
    """Adds the headers above to every HTTP response (pure ASGI: no cost on the WebSocket)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        agent = next((v for k, v in scope["headers"] if k == b"user-agent"), b"")
        policy = CSP_DESKTOP if DESKTOP_UA_TOKEN in agent else CSP_STRICT

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in present
                ] + [(b"content-security-policy", policy)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_origin(headers: Any) -> bool:
    """A request with an Origin must come from a page this host served (browsers always send it
    on WebSocket upgrades and cross-site posts); tools without an Origin are let through."""
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def create_app(settings: Settings) -> FastAPI:
    """Build a LAN Chat host. Long-lived parts are made in the lifespan and kept on app.state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = HistoryStore(settings.db_path)
        files = FileStore(settings.files_dir, store, max_bytes=settings.max_upload_bytes,
                          max_total_bytes=settings.max_total_upload_bytes)

        def file_info(file_id: str) -> dict[str, Any] | None:
            record = files.lookup(file_id)
            return record.public() if record else None

        app.state.settings = settings
        app.state.store = store
        app.state.files = files
        app.state.hub = ChatHub(store, settings, file_info)
        app.state.discovery = None
        if settings.discovery:
            app.state.discovery = Discovery(settings, room_id=store.room_id,
                                            users=lambda: len(app.state.hub.users))
            await app.state.discovery.async_start()
        log.info("room %r: %d events in history at %s", settings.room, store.last_id,
                 settings.data_dir)
        try:
            yield
        finally:
            if app.state.discovery is not None:
                await app.state.discovery.async_close()  # the LAN hears goodbye first
            app.state.hub.shutdown()
            await asyncio.sleep(0)  # let the close frames go out
            store.close()

    app = FastAPI(title="LAN Chat", version=__version__, lifespan=lifespan,
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")

    @app.exception_handler(StoreError)
    async def store_failed(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=503)

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "room": settings.room, "version": __version__}

    @app.get("/api/room")
    async def room(request: Request) -> dict[str, Any]:
        hub: ChatHub = request.app.state.hub
        return {
            "room": settings.room,
            "room_id": request.app.state.store.room_id,
            "version": __version__,
            "hosting": settings.hosting,
            "machine": netinfo.machine_name(),
            "users": len(hub.users),
            "password": False,
            "urls": netinfo.room_urls(settings.host, request.url.port or settings.port),
            "limits": {"max_message_bytes": settings.max_message_bytes,
                       "max_upload_bytes": settings.max_upload_bytes},
        }

    @app.get("/api/qr.svg")
    async def qr(text: str = Query(..., max_length=512)) -> Response:
        buf = io.BytesIO()
        segno.make(text, error="m").save(buf, kind="svg", scale=6, border=2, xmldecl=False)
        return Response(buf.getvalue(), media_type="image/svg+xml")

    @app.get("/api/events")
    async def events(request: Request, before: int | None = Query(None, ge=1),
                     after: int | None = Query(None, ge=0),
                     limit: int = Query(50, ge=1)) -> Response:
        if before is not None and after is not None:
            raise HTTPException(400, "give 'before' or 'after', not both")
        store: HistoryStore = request.app.state.store
        limit = min(limit, settings.max_page)
        page = store.after(after, limit) if after is not None else store.before(before, limit)
        body = '{"events":' + page.json_array() + ',"has_more":' + (
            "true" if page.has_more else "false") + "}"
        return Response(body, media_type="application/json")

    @app.post("/api/files", status_code=201)
    async def upload(request: Request, name: str | None = Query(None, max_length=1024)
                     ) -> dict[str, Any]:
        if not same_origin(request.headers):
            raise HTTPException(403, "uploads are accepted only from this room's own page")
        files: FileStore = request.app.state.files
        length = request.headers.get("content-length")
        try:
            record = await files.receive(
                request.stream(), request.headers.get("content-type", ""),
                int(length) if length and length.isdigit() else None,
                uploader=request.client.host if request.client else None, raw_name=name)
        except UploadError as exc:
            raise HTTPException(exc.status, exc.detail) from None
        return record.public()

    @app.get("/api/files/{file_id}")
    async def download(request: Request, file_id: str) -> FileResponse:
        files: FileStore = request.app.state.files
        record = files.lookup(file_id)
        if record is None:
            raise HTTPException(404, "no such file on this host")
        inline = record.mime in INLINE_MIME
        return FileResponse(
            files.path_of(record),
            media_type=record.mime if inline else "application/octet-stream",
            filename=record.name,
            content_disposition_type="inline" if inline else "attachment",
        )

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        if not same_origin(ws.headers):
            await ws.close(CLOSE_FORBIDDEN, "this chat only accepts its own pages")
            return
        hub: ChatHub = ws.app.state.hub
        await ws.accept()
        try:
            first = await asyncio.wait_for(ws.receive(), timeout=15)
            if first["type"] == "websocket.disconnect":
                return
            hello = protocol.parse_hello(first.get("text") or first.get("bytes") or b"",
                                         settings.max_name_chars)
            conn = hub.connect(hello, ws.client.host if ws.client else "?", ws.send_text,
                               _closer(ws))
        except TimeoutError:
            await ws.close(CLOSE_BAD_HELLO, "no hello within 15 s")
            return
        except protocol.ProtocolError as exc:
            await ws.send_text(protocol.encode(protocol.error_event(exc.code, exc.detail)))
            await ws.close(CLOSE_BAD_HELLO, exc.detail[:120])
            return
        except HubFull as exc:
            await ws.close(exc.code, exc.reason[:120])
            return
        writer = asyncio.create_task(_write(conn.run_writer()))
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                hub.receive(conn, msg.get("text") or msg.get("bytes") or b"")
        finally:
            hub.disconnect(conn)
            writer.cancel()

    settings.static_dir.mkdir(parents=True, exist_ok=True)
    app.include_router(peers.router)
    app.mount("/", StaticFiles(directory=settings.static_dir, html=True), name="static")
    app.add_middleware(SecurityHeaders)
    return app


def _closer(ws: WebSocket) -> Callable[[int, str], Awaitable[None]]:
    async def close(code: int, reason: str) -> None:
        await ws.close(code, reason)
    return close


async def _write(writer: Awaitable[None]) -> None:
    try:
        await writer
    except Exception:  # noqa: BLE001 - the peer went away mid-send; the reader notices too
        pass
