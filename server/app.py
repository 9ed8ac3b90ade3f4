"""The app factory: routes are thin edges that turn HTTP and WebSocket traffic into hub calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from . import __version__, netinfo, peers, protocol, resumable
from .directsend import find_direct_writer
from .discovery import Discovery
from .files import INLINE_MIME, FileStore, UploadError
from .hub import CLOSE_BAD_HELLO, CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, ChatHub, HubFull
from .protocol import MAX_ID
from .security import (
    SESSION_COOKIE,
    AttemptLimiter,
    HostGuard,
    PasswordGate,
    cookie_value,
    same_origin,
)
from .settings import Settings
from .store import HistoryStore, StoreError

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build a LAN Chat host. Long-lived parts are made in the lifespan and kept on app.state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = HistoryStore(settings.db_path)
        files = FileStore(settings.files_dir, store, max_bytes=settings.max_upload_bytes,
                          max_total_bytes=settings.max_total_upload_bytes,
                          max_uploads_per_address=settings.max_uploads_per_address)

        def file_info(file_id: str) -> dict[str, Any] | None:
            record = files.lookup(file_id)
            return record.public() if record else None

        app.state.settings = settings
        app.state.store = store
        app.state.gate = PasswordGate(settings.password, store.secret())
        app.state.attempts = AttemptLimiter()
        app.state.files = files
        app.state.peer_streams = peers.StreamSlots(settings.max_peer_streams)
        app.state.uploads = resumable.ResumableUploads(
            files, settings.partial_upload_expire_seconds)
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
                  # No Swagger page: it loads its script from the internet, which a LAN lacks.
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")

    @app.exception_handler(StoreError)
    async def store_failed(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=503)

    @app.get("/api/health")
    async def health(request: Request) -> JSONResponse:
        """200 while the history can be read and written (the discovery probe lists a room
        only then); 503 with the reason when it cannot."""
        store: HistoryStore = request.app.state.store
        history = await store.health()
        body = {"status": "ok" if history.problem is None else "unavailable",
                "room": settings.room, "version": __version__, "room_id": store.room_id,
                "history": history.public()}
        if history.problem is not None:
            body["detail"] = history.problem
        return JSONResponse(body, status_code=200 if history.problem is None else 503)

    @app.get("/api/room")
    async def room(request: Request) -> dict[str, Any]:
        hub: ChatHub = request.app.state.hub
        member = is_member(request)
        return {
            "room": settings.room,
            "room_id": request.app.state.store.room_id,
            "version": __version__,
            "hosting": settings.hosting,
            # The computer's name is for people who know the room's password.
            **({"machine": netinfo.machine_name()} if member else {}),
            "users": len(hub.users),
            "password": request.app.state.gate.required,
            "member": member,
            "urls": netinfo.room_urls(settings.host, request.url.port or settings.port),
            "limits": {"max_message_bytes": settings.max_message_bytes,
                       "max_upload_bytes": settings.max_upload_bytes},
        }

    qr_codes = netinfo.QrCodes()

    @app.get("/api/qr.svg")
    async def qr(request: Request, text: str = Query(..., max_length=512)) -> Response:
        """Only this room's own URLs: anything else would let anyone spend the host's CPU."""
        if text not in netinfo.room_urls(settings.host, request.url.port or settings.port):
            raise HTTPException(404, "this host draws QR codes of its own room URLs only")
        return Response(await qr_codes.svg(text), media_type="image/svg+xml")

    def is_member(request: Request) -> bool:
        gate: PasswordGate = request.app.state.gate
        return gate.token_ok(cookie_value(request.headers))

    def member(request: Request) -> None:
        """Routes that show the room's content need the password, when the room has one."""
        if not is_member(request):
            raise HTTPException(401, "this room needs its password: POST it to /api/login")

    @app.post("/api/login")
    async def login(request: Request, password: str = Body(..., embed=True, max_length=1024)
                    ) -> Response:
        gate: PasswordGate = request.app.state.gate
        attempts: AttemptLimiter = request.app.state.attempts
        address = request.client.host if request.client else "?"
        if gate.required:
            wait = attempts.begin(address)
            if wait:
                return JSONResponse(
                    {"detail": f"too many password attempts; try again in {wait} s"},
                    status_code=429, headers={"Retry-After": str(wait)})
            right = False
            try:
                right = await asyncio.to_thread(gate.check, password)
            finally:
                attempts.end(address, right)
            if not right:
                return JSONResponse({"detail": "wrong password"}, status_code=401)
        response = JSONResponse({"ok": True})
        response.set_cookie(SESSION_COOKIE, gate.new_token(), httponly=True, samesite="strict",
                            max_age=30 * 24 * 3600, path="/")
        return response

    @app.get("/api/events", dependencies=[Depends(member)])
    async def events(request: Request, before: int | None = Query(None, ge=1, le=MAX_ID),
                     after: int | None = Query(None, ge=0, le=MAX_ID),
                     limit: int = Query(50, ge=1)) -> Response:
        if before is not None and after is not None:
            raise HTTPException(400, "give 'before' or 'after', not both")
        store: HistoryStore = request.app.state.store
        limit = min(limit, settings.max_page)
        cap = settings.page_max_bytes  # a page of 48 KB events must not weigh 24 MB
        page = (store.after(after, limit, cap) if after is not None
                else store.before(before, limit, cap))
        body = '{"events":' + page.json_array() + ',"has_more":' + (
            "true" if page.has_more else "false") + "}"
        return Response(body, media_type="application/json")

    @app.post("/api/files", status_code=201, dependencies=[Depends(member)])
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

    @app.get("/api/files/{file_id}", dependencies=[Depends(member)])
    async def download(request: Request, file_id: str) -> FileResponse:
        files: FileStore = request.app.state.files
        record = files.lookup(file_id)
        if record is None:
            raise HTTPException(404, "no such file on this host")
        inline = record.mime in INLINE_MIME
        return _SharedFile(
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
        if not ws.app.state.gate.token_ok(cookie_value(ws.headers)):
            await ws.close(CLOSE_UNAUTHORIZED, "this room needs its password")
            return
        try:
            first = await asyncio.wait_for(ws.receive(), timeout=15)
            if first["type"] == "websocket.disconnect":
                return
            hello = protocol.parse_hello(first.get("text") or first.get("bytes") or b"",
                                         settings.max_name_chars)
            direct = find_direct_writer(ws._send) if settings.direct_send else None
            conn = hub.connect(hello, ws.client.host if ws.client else "?", ws.send_text,
                               _closer(ws), direct)
        except TimeoutError:
            await ws.close(CLOSE_BAD_HELLO, "no hello within 15 s")
            return
        except protocol.ProtocolError as exc:
            await ws.send_text(protocol.encode(protocol.error_event(exc.code, exc.detail)))
            await ws.close(CLOSE_BAD_HELLO, exc.detail[:120])
            return
        except HubFull as exc:
            if exc.retry_after is not None:  # the client waits this long before knocking again
                await ws.send_text(protocol.encode(protocol.error_event(
                    "too_many_joins", exc.reason, retry_after=exc.retry_after)))
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
    app.include_router(resumable.router)
    app.mount("/", StaticFiles(directory=settings.static_dir, html=True), name="static")
    app.add_middleware(HostGuard, extra_hosts=settings.extra_hosts)
    return app


class _SharedFile(FileResponse):
    """Downloads read 1 MiB at a time: 16x fewer thread hops than Starlette's 64 KiB."""

    chunk_size = 1024 * 1024


def _closer(ws: WebSocket) -> Callable[[int, str], Awaitable[None]]:
    async def close(code: int, reason: str) -> None:
        await ws.close(code, reason)
    return close


async def _write(writer: Awaitable[None]) -> None:
    try:
        await writer
    except Exception:  # noqa: BLE001 - the peer went away mid-send; the reader notices too
        pass
