"""The UI's own files (``static/``), answered straight from memory.

A page asks for a dozen modules at once (a room, for about fifty). Starlette's ``StaticFiles``
reads each file on worker threads, a few hops per file; while Python's lock is busy (the
desktop window starting, the host being built) every hop waits for it, and the files arrived
one every 10-15 ms. The UI's files are small and few, so :class:`UiFiles` keeps each one's bytes
(read again when the file changes on disk) and answers on the event loop: GET and HEAD, the
index page for ``/``, an ETag and ``If-None-Match`` (304), and JSON errors like every other
route. Paths outside the folder, hidden files and anything that is not a regular file are 404.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from starlette.types import Receive, Scope, Send

LARGEST = 4 * 1024 * 1024  # bigger files are not the UI's: refused rather than held in memory


@dataclass(frozen=True)
class Kept:
    """One file's bytes as last read, and what tells whether it changed since."""

    mtime_ns: int
    size: int
    body: bytes
    etag: bytes
    media_type: bytes


def media_type(path: Path) -> bytes:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "image/svg+xml"):
        guessed += "; charset=utf-8"
    return guessed.encode()


class UiFiles:
    """ASGI: the files under ``folder`` by their URL path, ``/`` being ``index.html``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self._kept: dict[Path, Kept] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        if scope["method"] not in ("GET", "HEAD"):
            await json_error(send, 405, "Method Not Allowed", [(b"allow", b"GET, HEAD")])
            return
        kept = self.find(str(scope["path"]))
        if kept is None:
            await json_error(send, 404, "Not Found")
            return
        headers = [(b"content-type", kept.media_type), (b"etag", kept.etag)]
        if _matches(scope, kept.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers.append((b"content-length", str(kept.size).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else kept.body
        await send({"type": "http.response.body", "body": body})

    def find(self, url_path: str) -> Kept | None:
        """The file at ``url_path``, read now or kept from before; None when there is none."""
        path = self.resolve(url_path)
        if path is None:
            return None
        try:
            info = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or info.st_size > LARGEST:
            return None
        kept = self._kept.get(path)
        if kept is None or (kept.mtime_ns, kept.size) != (info.st_mtime_ns, info.st_size):
            kept = self._read(path, info)
            if kept is None:
                return None
            self._kept[path] = kept
        return kept

    def resolve(self, url_path: str) -> Path | None:
        """The file a URL path (already %-decoded by the server) names inside the folder, or
        None (outside it, hidden, odd)."""
        relative = PurePosixPath(url_path.lstrip("/") or "index.html")
        if any(part.startswith(".") or part == "" for part in relative.parts) or \
                "\\" in str(relative) or "\x00" in str(relative):
            return None
        path = (self.folder / relative).resolve()
        return path if path.is_relative_to(self.folder) else None

    @staticmethod
    def _read(path: Path, info: os.stat_result) -> Kept | None:
        try:
            body = path.read_bytes()
        except OSError:
            return None
        tag = hashlib.sha256(body).hexdigest()[:32]
        return Kept(info.st_mtime_ns, len(body), body, f'"{tag}"'.encode(), media_type(path))


def _matches(scope: Scope, etag: bytes) -> bool:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return etag in [v.strip().removeprefix(b"W/") for v in value.split(b",")] or \
                value.strip() == b"*"
    return False


async def json_error(send: Send, status: int, detail: str,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """An HTTP error answered as every route answers one: ``{"detail": ...}``."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
