"""Resumable uploads: a file sent in pieces that survives a dropped link or a host restart.

``POST /api/files/uploads`` announces a file (name and size) and returns an upload id;
``PATCH /api/files/uploads/<id>`` with ``Upload-Offset: <n>`` appends bytes at ``n``;
``GET /api/files/uploads/<id>`` tells the offset the host has, so a client that lost its link
(or whose host restarted) continues from there. The last byte turns the upload into a shared
file, exactly like ``POST /api/files``. Partial files live in ``partial-uploads/`` (beside
``files/``) with a small JSON record each, count against the host's quota for their announced
size, belong to the session (or, in an open room, the address) that started them, and are
deleted once ``partial_upload_expire_seconds`` pass without a byte arriving.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .files import FileStore, UploadError, adopt_complete_file, clean_filename
from .filewriter import BatchWriter
from .paths import private_folder

log = logging.getLogger(__name__)

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class ResumeError(Exception):
    """A resumable-upload request refused; ``offset`` is the host's offset when it matters."""

    def __init__(self, status: int, detail: str, offset: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.offset = offset


@dataclass
class PartialUpload:
    """One unfinished upload: what was announced, and whose it is."""

    id: str
    name: str
    size: int
    owner: str
    uploader: str | None
    created: float

    def public(self, offset: int) -> dict[str, Any]:
        return {"upload_id": self.id, "name": self.name, "size": self.size, "offset": offset,
                "url": f"/api/files/uploads/{self.id}"}


class ResumableUploads:
    """The partial uploads of one host, kept in ``<files>/partial``."""

    def __init__(self, files: FileStore, expire_seconds: float) -> None:
        self.files = files
        self.folder = files.folder.parent / "partial-uploads"  # beside files/, not in it
        private_folder(self.folder)
        self.expire_seconds = expire_seconds
        files.promised_elsewhere = self.reserved
        self._busy: set[str] = set()
        self._uploads: dict[str, PartialUpload] = {}
        for meta in self.folder.glob("*.json"):
            self._load(meta)
        self.expire()

    def _load(self, meta: Path) -> None:
        try:
            upload = PartialUpload(**json.loads(meta.read_text("utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            log.warning("dropping an unreadable partial upload %s: %s", meta.name, exc)
            self._remove(meta.stem)
            return
        self._uploads[upload.id] = upload

    def _data(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.part"

    def offset(self, upload_id: str) -> int:
        try:
            return self._data(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    def reserved(self) -> int:
        """Bytes promised to unfinished uploads (their announced sizes)."""
        return sum(u.size for u in self._uploads.values())

    def expire(self) -> None:
        """Forget partial uploads that received nothing for ``expire_seconds``."""
        now = time.time()
        for upload in list(self._uploads.values()):
            data = self._data(upload.id)
            last = data.stat().st_mtime if data.exists() else upload.created
            if now - last > self.expire_seconds and upload.id not in self._busy:
                log.info("partial upload %s of %r expired", upload.id, upload.name)
                self._remove(upload.id)

    def _remove(self, upload_id: str) -> None:
        self._uploads.pop(upload_id, None)
        self._data(upload_id).unlink(missing_ok=True)
        (self.folder / f"{upload_id}.json").unlink(missing_ok=True)

    def create(self, name: str, size: int, owner: str, uploader: str | None) -> PartialUpload:
        """Announce an upload: refused at once when it cannot fit, before a byte is sent."""
        self.expire()
        files = self.files
        if size > files.max_bytes:
            raise ResumeError(413, "file is larger than this room's limit of "
                                   f"{files.max_bytes} bytes")
        if size > files.free_bytes():  # counts one-shot uploads in progress too
            raise ResumeError(507, "the host's space for shared files is full")
        upload = PartialUpload(uuid.uuid4().hex, clean_filename(name), size, owner, uploader,
                               time.time())
        try:
            self._data(upload.id).touch(mode=0o600, exist_ok=False)
            meta = self.folder / f"{upload.id}.json"
            meta.write_text(json.dumps(asdict(upload)), "utf-8")
        except OSError as exc:
            self._remove(upload.id)
            raise ResumeError(507, f"the host could not store the upload ({exc.strerror})") \
                from exc
        self._uploads[upload.id] = upload
        return upload

    def get(self, upload_id: str, owner: str) -> PartialUpload:
        upload = self._uploads.get(upload_id) if UPLOAD_ID.match(upload_id) else None
        if upload is None:
            raise ResumeError(404, "no such upload on this host (it finished, was cancelled "
                                   "or expired): start it again")
        if upload.owner != owner:
            raise ResumeError(403, "this upload was started by someone else")
        return upload

    async def append(self, upload_id: str, owner: str, offset: int,
                     chunks: AsyncIterator[bytes]) -> tuple[PartialUpload, int, Any]:
        """Write the bytes at ``offset`` (which must be the host's offset). Returns the upload,
        the new offset and, after the last byte, the shared file's public record."""
        upload = self.get(upload_id, owner)
        if upload_id in self._busy:
            raise ResumeError(409, "this upload is still receiving an earlier request; "
                                   "ask for the offset again in a moment", self.offset(upload_id))
        have = self.offset(upload_id)
        if offset != have:
            raise ResumeError(409, f"the host has {have} bytes of this upload: continue from "
                                   "there", have)
        self._busy.add(upload_id)
        have = await self._write(upload, have, chunks)  # no longer busy once it returns
        if have < upload.size:
            return upload, have, None
        return upload, have, await self._finish(upload)

    async def _write(self, upload: PartialUpload, have: int,
                     chunks: AsyncIterator[bytes]) -> int:
        """Append the chunks off the event loop. Whatever arrived stays on disk when the
        request breaks, so the client continues from the offset the file then has. The upload
        stays busy until its file is closed: a write still in flight after a cancelled request
        must land before another request may append."""
        def release() -> None:
            self._busy.discard(upload.id)

        try:
            writer = BatchWriter(os.open(self._data(upload.id), os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            release()
            raise ResumeError(507, f"the host could not write the file ({exc.strerror})",
                              self.offset(upload.id)) from exc
        failure: OSError | None = None
        try:
            async for chunk in chunks:
                if have + len(chunk) > upload.size:
                    raise ResumeError(413, f"more bytes than the {upload.size} announced", have)
                writer.add(chunk)
                have += len(chunk)
                await writer.drain()
            await writer.flush()  # the last batch: its error is this request's
        except OSError as exc:
            failure = exc
        finally:
            await writer.close(then=release)
        if failure is not None:
            raise ResumeError(507, f"the host could not write the file ({failure.strerror})",
                              self.offset(upload.id)) from failure
        return have

    async def _finish(self, upload: PartialUpload) -> Any:
        try:
            record = await adopt_complete_file(self.files, self._data(upload.id), upload.name,
                                         upload.uploader)
        except UploadError as exc:
            self._remove(upload.id)
            raise ResumeError(exc.status, exc.detail) from exc
        self._remove(upload.id)
        return record.public()

    def cancel(self, upload_id: str, owner: str) -> None:
        self.get(upload_id, owner)
        if upload_id not in self._busy:
            self._remove(upload_id)

