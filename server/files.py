"""Shared files: uploads streamed straight to disk in constant memory, and safe downloads.

An upload is written to ``<id>.part`` while it arrives and renamed to ``<id>`` only when complete
and recorded, so a broken upload never shows up anywhere. Stored names are random ids: the
original name is metadata and never touches the file system.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from python_multipart.multipart import MultipartParser, parse_options_header

from .protocol import now_iso
from .store import FileRecord, HistoryStore, StoreError

log = logging.getLogger(__name__)

# Shown inline (thumbnails); every other type downloads as an attachment. No SVG: it can script.
INLINE_MIME = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
                         "image/bmp"})
FILE_ID = re.compile(r"^[0-9a-f]{32}$")


class UploadError(Exception):
    """An upload refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def clean_filename(name: str) -> str:
    """A display name for a file: no folders, no control characters, at most 200 characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name)
                   if unicodedata.category(c)[0] != "C")
    name = name.strip().lstrip(".") or "file"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 else name[:200]
    return name


def guess_mime(name: str) -> str:
    mime, _ = mimetypes.guess_type(name, strict=False)
    return mime or "application/octet-stream"


class FileStore:
    """Where shared files live and how they get there."""

    def __init__(self, folder: Path, store: HistoryStore, *, max_bytes: int,
                 max_total_bytes: int) -> None:
        self.folder = folder
        self.store = store
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        folder.mkdir(parents=True, exist_ok=True)
        self._used = store.total_file_bytes()
        for leftover in folder.glob("*.part"):  # uploads cut short by a crash
            leftover.unlink(missing_ok=True)

    def path_of(self, record: FileRecord) -> Path:
        return self.folder / record.stored_name

    def lookup(self, file_id: str) -> FileRecord | None:
        if not FILE_ID.match(file_id):
            return None
        record = self.store.get_file(file_id)
        if record is None or not self.path_of(record).is_file():
            return None
        return record

    def _check_room_for(self, size: int) -> None:
        if size > self.max_bytes:
            raise UploadError(413, "file is larger than this room's limit of "
                                   + _human(self.max_bytes))
        if self._used + size > self.max_total_bytes:
            raise UploadError(507, "the host's space for shared files is full "
                                   f"({_human(self.max_total_bytes)})")

    async def receive(self, chunks: AsyncIterator[bytes], content_type: str,
                      content_length: int | None, uploader: str | None,
                      raw_name: str | None = None) -> FileRecord:
        """Stream one upload to disk: multipart (field ``file``), or a raw body named by
        the caller."""
        if content_length is not None:
            # Multipart framing adds a few hundred bytes; the exact check happens while streaming.
            self._check_room_for(max(0, content_length - 16 * 1024))
        file_id = uuid.uuid4().hex
        part_path = self.folder / f"{file_id}.part"
        sink = _Sink(part_path, self)
        try:
            if content_type.startswith("multipart/form-data"):
                name = await self._multipart(chunks, content_type, sink)
            else:
                if not raw_name:
                    raise UploadError(400, "send multipart/form-data with a 'file' field, "
                                           "or a raw body with ?name=<file name>")
                sink.open()
                async for chunk in chunks:
                    sink.write(chunk)
                name = raw_name
            sink.finish()
            if sink.fd is None:
                raise UploadError(400, "no 'file' field in the upload")
            name = clean_filename(name)
            record = FileRecord(id=file_id, name=name, size=sink.size, mime=guess_mime(name),
                                stored_name=file_id, uploader=uploader, ts=now_iso())
            os.replace(part_path, self.folder / file_id)
            try:
                await self.store.async_add_file(record)
            except StoreError:
                (self.folder / file_id).unlink(missing_ok=True)
                raise
            self._used += record.size
            return record
        except OSError as exc:
            log.error("upload failed: %s", exc)
            raise UploadError(507, f"the host could not write the file ({exc.strerror})") from exc
        finally:
            sink.abort()

    async def _multipart(self, chunks: AsyncIterator[bytes], content_type: str,
                         sink: _Sink) -> str:
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise UploadError(400, "multipart upload without a boundary")
        part = _FilePart(sink)
        parser = MultipartParser(boundary, cast(Any, part.callbacks()))
        try:
            async for chunk in chunks:
                parser.write(chunk)
            parser.finalize()
        except (UploadError, OSError):
            raise
        except Exception as exc:  # noqa: BLE001 - the parser's errors are all "malformed"
            raise UploadError(400, f"malformed multipart upload: {exc}") from exc
        if not part.done:
            raise UploadError(400, "no complete 'file' field in the upload")
        return part.name


async def adopt_complete_file(files: FileStore, path: Path, name: str,
                              uploader: str | None) -> FileRecord:
    """Record a file that arrived complete by other means (a finished resumable upload) and
    move it into the shared files, exactly as a one-shot upload would be kept. The sync and
    the record's commit happen off the event loop."""
    size = path.stat().st_size
    files._check_room_for(size)
    name = clean_filename(name)
    file_id = uuid.uuid4().hex
    record = FileRecord(id=file_id, name=name, size=size, mime=guess_mime(name),
                        stored_name=file_id, uploader=uploader, ts=now_iso())
    await asyncio.to_thread(_sync_file, path)
    os.replace(path, files.path_of(record))
    try:
        await files.store.async_add_file(record)
    except StoreError:
        files.path_of(record).unlink(missing_ok=True)
        raise
    files._used += size
    return record


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FilePart:
    """Multipart parser callbacks that stream the first part named ``file`` into a sink and
    ignore every other part."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.headers: dict[bytes, bytes] = {}
        self.field = b""
        self.value = b""
        self.name = "file"
        self.active = False
        self.done = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished,
                "on_part_data": self.on_part_data, "on_part_end": self.on_part_end}

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self.headers.get(b"content-disposition", b""))
        if opts.get(b"name") == b"file" and not self.done:
            raw = opts.get(b"filename*") or opts.get(b"filename") or b"file"
            self.name = raw.decode("utf-8", "replace")
            self.active = True
            self.sink.open()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.active:
            self.sink.write(data[start:end])

    def on_part_end(self) -> None:
        if self.active:
            self.active, self.done = False, True


class _Sink:
    """The ``.part`` file an upload streams into, with the size limits checked on every write."""

    def __init__(self, path: Path, files: FileStore) -> None:
        self.path = path
        self.files = files
        self.fd: int | None = None
        self.size = 0
        self.finished = False

    def open(self) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self.files._check_room_for(self.size)
        assert self.fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def finish(self) -> None:
        if self.fd is not None:
            os.fsync(self.fd)
            os.close(self.fd)
            self.finished = True

    def abort(self) -> None:
        if self.fd is not None and not self.finished:
            os.close(self.fd)
        self.fd = self.fd if self.finished else None
        if not self.finished:
            self.path.unlink(missing_ok=True)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"
